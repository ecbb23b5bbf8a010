//! bufpng's own LZ77 coder for filtered rows that repeat at a distance
//! (screens: glyphs, UI; 16-bit photos: byte pairs): a greedy parse from a
//! hash table of 3-byte prefixes with one entry a bucket (the most recent
//! position), then one dynamic-Huffman block
//! per band with codes from the block's own counts, written with
//! `deflate.rs`'s bit writer and code builder. No chains and no lazy
//! evaluation: one probe of one candidate a position.
//!
//! A strip is coded band by band (`striped.rs`); the last 32 KiB of the
//! strip so far stay in the window, so matches reach back across bands
//! (never across strips: each strip starts with an empty window).
//! Why and the measurements: docs/benchmarks.md, "Screens and 16-bit".

use crate::deflate::{
    self, canonical_codes, code_lengths, length_symbol, BitWriter, Code, CODE_LENGTH_ORDER,
    LENGTH_BASE, LENGTH_EXTRA, MAX_CODE_LENGTH_BITS,
};

/// Deflate's window and match limits.
const WINDOW: usize = 32 * 1024;
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// Buckets of the hash table, one position each. Two a bucket (the longer
/// match of the two most recent) made screens 2-9% smaller but the parse
/// 15-25% dearer (instructions, callgrind), and a 1080p screen went over
/// fpng's CPU time (docs/benchmarks.md, "Screens and 16-bit"); 2^16
/// buckets of one were no smaller than 2^15.
const HASH_BITS: u32 = 15;
/// After a match, the positions this close to its end are entered in the
/// table too. On screens two are as good as sixteen (0.1% smaller) and
/// save a fifth of the parse; entering every position costs more still.
const INSERT_TAIL: usize = 2;
/// Deflate's limit on code lengths, and its alphabets.
const MAX_CODE_BITS: u8 = 15;
const LITERAL_SYMBOLS: usize = 286;
const DISTANCE_SYMBOLS: usize = 30;
const END_OF_BLOCK: usize = 256;
/// A token with this bit is a match: length in bits 16-24, distance in 0-15.
const MATCH: u32 = 1 << 31;
/// An empty table entry: its distance from any position under 2 GiB is
/// over the window, so it is never tried (and a candidate is checked
/// byte by byte anyway).
const EMPTY: u32 = 1 << 31;

/// One strip's coder state: the window and the hash table.
pub struct LzStrip {
    /// The last bytes of the strip so far (up to WINDOW), then the band
    /// being coded.
    window: Vec<u8>,
    /// Stream offset (from the strip's start) of `window[0]`.
    base: usize,
    /// The last position entered in each bucket: stream offsets (wrapping).
    table: Vec<u32>,
    tokens: Vec<u32>,
}

impl Default for LzStrip {
    fn default() -> Self {
        Self::new()
    }
}

impl LzStrip {
    pub fn new() -> LzStrip {
        LzStrip {
            window: Vec::new(),
            base: 0,
            table: vec![EMPTY; 1 << HASH_BITS],
            tokens: Vec::new(),
        }
    }

    /// Codes `band` (the next filtered rows of the strip) as one block,
    /// the stream's final block when `last`; stored when coding would not
    /// be smaller.
    pub fn code(&mut self, band: &[u8], last: bool, out: &mut BitWriter) {
        if band.is_empty() {
            return deflate::write_stored(band, last, out);
        }
        let keep = self.window.len().min(WINDOW);
        let drop = self.window.len() - keep;
        self.window.drain(..drop);
        self.base += drop;
        let start = self.window.len();
        self.window.extend_from_slice(band);
        let mut counts = Counts::new();
        self.parse(start, &mut counts);
        if !write_block(&self.tokens, &counts, last, band.len(), out) {
            deflate::write_stored(band, last, out);
        }
    }

    /// Greedy parse of `window[start..]` into `tokens`, counting symbols.
    fn parse(&mut self, start: usize, counts: &mut Counts) {
        let data = &self.window[..];
        let table = &mut self.table[..];
        let tokens = &mut self.tokens;
        tokens.clear();
        let end = data.len();
        let base = self.base;
        let mut at = start;
        // Positions with four bytes to read (the hash reads a u32).
        let hashable = end.saturating_sub(3);
        while at < hashable {
            let word = read_u32(data, at);
            let bucket = hash(word);
            let position = (base + at) as u32;
            let candidate = std::mem::replace(&mut table[bucket], position);
            let dist = position.wrapping_sub(candidate) as usize;
            let mut len = 0;
            // A candidate out of the window (or before the strip) is skipped;
            // one that is in it is checked byte by byte (buckets collide).
            if dist != 0
                && dist <= WINDOW
                && dist <= at
                && (read_u32(data, at - dist) ^ word) & 0xff_ffff == 0
            {
                len = match_len(data, at - dist, at, (end - at).min(MAX_MATCH));
            }
            if len < MIN_MATCH {
                tokens.push(data[at] as u32);
                counts.literals[data[at] as usize] += 1;
                at += 1;
                continue;
            }
            tokens.push(MATCH | (len as u32) << 16 | dist as u32);
            counts.literals[257 + length_symbol(len as u32)] += 1;
            counts.distances[distance_symbol(dist as u32)] += 1;
            let next = at + len;
            for inside in (at + 1).max(next.saturating_sub(INSERT_TAIL))..next.min(hashable) {
                table[hash(read_u32(data, inside))] = (base + inside) as u32;
            }
            at = next;
        }
        for &byte in &data[at.max(start)..] {
            tokens.push(byte as u32);
            counts.literals[byte as usize] += 1;
        }
    }
}

#[inline(always)]
fn read_u32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"))
}

/// Bucket of a position from its first three bytes.
#[inline(always)]
fn hash(word: u32) -> usize {
    ((word & 0xff_ffff).wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize
}

/// How many bytes from `at` repeat those from `from` (< `at`), up to `max`
/// (the copy may overlap: deflate allows it).
#[inline(always)]
pub(crate) fn match_len(data: &[u8], from: usize, at: usize, max: usize) -> usize {
    let (earlier, later) = (&data[from..from + max], &data[at..at + max]);
    let mut len = 0;
    for (a, b) in earlier.chunks_exact(8).zip(later.chunks_exact(8)) {
        let a = u64::from_le_bytes(a.try_into().expect("8 bytes"));
        let b = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let differ = a ^ b;
        if differ != 0 {
            return len + (differ.trailing_zeros() / 8) as usize;
        }
        len += 8;
    }
    len + (earlier[len..].iter().zip(&later[len..]))
        .take_while(|(a, b)| a == b)
        .count()
}

/// Deflate's distance symbol for `dist` (1..=32768).
#[inline(always)]
pub(crate) fn distance_symbol(dist: u32) -> usize {
    let d = dist - 1;
    if d < 4 {
        return d as usize;
    }
    let bits = 31 - d.leading_zeros();
    (2 * bits + ((d >> (bits - 1)) & 1)) as usize
}

/// Extra bits of a distance: (value, count).
#[inline(always)]
pub(crate) fn distance_extra(dist: u32) -> (u32, u32) {
    let d = dist - 1;
    if d < 4 {
        return (0, 0);
    }
    let count = 31 - d.leading_zeros() - 1;
    (d & ((1 << count) - 1), count)
}

struct Counts {
    literals: [u32; LITERAL_SYMBOLS],
    distances: [u32; DISTANCE_SYMBOLS],
}

impl Counts {
    fn new() -> Counts {
        let mut literals = [0; LITERAL_SYMBOLS];
        literals[END_OF_BLOCK] = 1;
        Counts {
            literals,
            distances: [0; DISTANCE_SYMBOLS],
        }
    }
}

/// Writes `tokens` as one dynamic-Huffman block; false (nothing written)
/// when it came out larger than storing the `raw_len` bytes would.
fn write_block(
    tokens: &[u32],
    counts: &Counts,
    last: bool,
    raw_len: usize,
    out: &mut BitWriter,
) -> bool {
    let literal_lengths = code_lengths(&counts.literals, MAX_CODE_BITS);
    // At least two distance codes, so the code is complete (some decoders
    // refuse an incomplete one) even in a block without matches.
    let mut distances = counts.distances;
    for count in &mut distances[..2] {
        *count = (*count).max(1);
    }
    let distance_lengths = code_lengths(&distances, MAX_CODE_BITS);
    let literal_codes = canonical_codes(&literal_lengths);
    let distance_codes = canonical_codes(&distance_lengths);
    let start = out.position();
    out.reserve(tokens.len() * 6 + 1024);
    write_header(&literal_lengths, &distance_lengths, last, out);
    // Length code and extra bits for each match length, packed.
    let mut lengths = [(0u32, 0u32); MAX_MATCH + 1];
    for (len, packed) in lengths.iter_mut().enumerate().skip(MIN_MATCH) {
        let symbol = length_symbol(len as u32);
        let code = literal_codes[257 + symbol];
        let extra = len as u32 - LENGTH_BASE[symbol] as u32;
        *packed = (
            code.bits as u32 | extra << code.len,
            code.len as u32 + LENGTH_EXTRA[symbol] as u32,
        );
    }
    let mut cursor = out.cursor();
    for &token in tokens {
        if token & MATCH == 0 {
            let code = literal_codes[token as usize];
            cursor.put(code.bits as u64, code.len as u32);
            continue;
        }
        let len = (token >> 16 & 0x1ff) as usize;
        let dist = token & 0xffff;
        let (len_bits, len_count) = lengths[len];
        let Code {
            bits,
            len: code_len,
        } = distance_codes[distance_symbol(dist)];
        let (extra, extra_count) = distance_extra(dist);
        let dist_bits = bits as u64 | (extra as u64) << code_len;
        cursor.put(
            len_bits as u64 | dist_bits << len_count,
            len_count + code_len as u32 + extra_count,
        );
    }
    let end = literal_codes[END_OF_BLOCK];
    cursor.put(end.bits as u64, end.len as u32);
    let state = cursor.state();
    out.rewind(state);
    if out.position().0 - start.0 > deflate::stored_size(raw_len) {
        out.rewind(start);
        return false;
    }
    true
}

/// A dynamic block's header: all 286 literal/length and 30 distance code
/// lengths, run-length coded (RFC 1951 3.2.7: 16 repeats the previous
/// length 3-6 times, 17 and 18 give 3-10 and 11-138 zeros).
pub(crate) fn write_header(
    literal_lengths: &[u8],
    distance_lengths: &[u8],
    last: bool,
    out: &mut BitWriter,
) {
    let all: Vec<u8> = literal_lengths
        .iter()
        .chain(distance_lengths)
        .copied()
        .collect();
    // (symbol, extra bits, extra count)
    let mut symbols: Vec<(u8, u8, u8)> = Vec::with_capacity(all.len());
    let mut at = 0;
    while at < all.len() {
        let len = all[at];
        let run = all[at..].iter().take_while(|&&l| l == len).count();
        let mut left = run;
        if len == 0 {
            while left >= 11 {
                let take = left.min(138);
                symbols.push((18, (take - 11) as u8, 7));
                left -= take;
            }
            if left >= 3 {
                symbols.push((17, (left - 3) as u8, 3));
                left = 0;
            }
        } else {
            symbols.push((len, 0, 0));
            left -= 1;
            while left >= 3 {
                let take = left.min(6);
                symbols.push((16, (take - 3) as u8, 2));
                left -= take;
            }
        }
        for _ in 0..left {
            symbols.push((len, 0, 0));
        }
        at += run;
    }
    let mut counts = [0u32; 19];
    for &(symbol, _, _) in &symbols {
        counts[symbol as usize] += 1;
    }
    let length_lengths = code_lengths(&counts, MAX_CODE_LENGTH_BITS);
    let length_codes = canonical_codes(&length_lengths);
    let sent = CODE_LENGTH_ORDER
        .iter()
        .rposition(|&symbol| length_lengths[symbol] != 0)
        .map_or(4, |last| (last + 1).max(4));
    out.put(last as u64 | (2 << 1), 3);
    out.put((literal_lengths.len() - 257) as u64, 5);
    out.put((distance_lengths.len() - 1) as u64, 5);
    out.put((sent - 4) as u64, 4);
    for &symbol in &CODE_LENGTH_ORDER[..sent] {
        out.put(length_lengths[symbol] as u64, 3);
    }
    for (symbol, extra, extra_count) in symbols {
        let code = length_codes[symbol as usize];
        out.put(
            code.bits as u64 | (extra as u64) << code.len,
            code.len as u32 + extra_count as u32,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(stream: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(stream), &mut out)
            .unwrap();
        out
    }

    /// Codes `data` in bands of `band` bytes as one stream.
    fn code(data: &[u8], band: usize) -> Vec<u8> {
        let mut out = BitWriter::new(16);
        let mut lz = LzStrip::new();
        let bands: Vec<&[u8]> = data.chunks(band).collect();
        for (i, piece) in bands.iter().enumerate() {
            lz.code(piece, i + 1 == bands.len(), &mut out);
        }
        out.align();
        out.into_bytes()
    }

    #[test]
    fn distance_symbols_and_extra_bits_follow_the_rfc() {
        // (distance, symbol, extra bits) at the edges of RFC 1951's table.
        for (dist, symbol, extra) in [
            (1, 0, 0),
            (4, 3, 0),
            (5, 4, 1),
            (7, 5, 1),
            (9, 6, 2),
            (13, 7, 2),
            (24577, 29, 13),
            (32768, 29, 13),
        ] {
            assert_eq!(distance_symbol(dist), symbol, "{dist}");
            assert_eq!(distance_extra(dist).1, extra, "{dist}");
        }
        assert_eq!(distance_extra(32768).0, 8191);
    }

    #[test]
    fn round_trips_repeats_runs_and_noise_across_bands() {
        let mut state = 0x2545_f491u32;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        };
        let glyph: Vec<u8> = (0..37).map(|_| noise()).collect();
        let mut data = Vec::new();
        for i in 0..20_000 {
            match i % 7 {
                0 => data.extend_from_slice(&glyph),
                1 => data.extend(std::iter::repeat_n(0, i % 300)),
                2 => data.extend((0..i % 50).map(|_| noise())),
                // Far repeats, reaching back to the window's edge and past it.
                3 if data.len() > 40_000 => {
                    let from = data.len() - 32_768 + i % 10;
                    let piece = data[from..from + 40].to_vec();
                    data.extend_from_slice(&piece);
                }
                _ => data.push(noise() & 3),
            }
        }
        for band in [1, 7, 1000, 65_536, data.len()] {
            let stream = code(&data, band);
            assert_eq!(inflate(&stream), data, "bands of {band}");
        }
        let compressed = code(&data, 65_536).len();
        assert!(
            compressed < data.len() / 2,
            "{compressed} of {}",
            data.len()
        );
        // Incompressible: stored, a few bytes a block over the input.
        let noise: Vec<u8> = (0..300_000).map(|_| noise()).collect();
        let stored = code(&noise, 100_000);
        assert_eq!(inflate(&stored), noise);
        assert!(stored.len() < noise.len() + 100);
    }
}
