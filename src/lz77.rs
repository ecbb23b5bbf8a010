//! bufpng's own LZ77 coder for filtered rows that repeat at a distance
//! (screens: glyphs, UI; 16-bit photos: byte pairs): a greedy parse from a
//! hash table of 3-byte prefixes with one entry a bucket (the most recent
//! position), then one dynamic-Huffman block
//! per band with codes from the block's own counts, written with
//! `deflate.rs`'s bit writer and code builder. No chains and no lazy
//! evaluation: one probe of one candidate a position, after a check of
//! the last match's distance (taken when 8 bytes or more repeat there).
//!
//! A strip is coded band by band (`striped.rs`); the last 32 KiB of the
//! strip so far stay in the window, so matches reach back across bands
//! (never across strips: each strip starts with an empty window).
//! Why and the measurements: docs/benchmarks.md, "Screens and 16-bit".

use crate::deflate::{
    self, canonical_codes, code_lengths, length_symbol, BitWriter, Code, CODE_LENGTH_ORDER,
    LENGTH_BASE, LENGTH_EXTRA, MAX_CODE_LENGTH_BITS,
};

/// Deflate's window and match limits (pairs16.rs shares these).
pub(crate) const WINDOW: usize = 32 * 1024;
const MIN_MATCH: usize = 3;
pub(crate) const MAX_MATCH: usize = 258;
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
pub(crate) const MAX_CODE_BITS: u8 = 15;
pub(crate) const LITERAL_SYMBOLS: usize = 286;
pub(crate) const DISTANCE_SYMBOLS: usize = 30;
pub(crate) const END_OF_BLOCK: usize = 256;
/// A token with this bit is a match: length - 3 in bits 23-30, the
/// distance symbol in bits 18-22 and its extra bits in 0-12.
const MATCH: u32 = 1 << 31;
/// An empty table entry: its distance from any position under 2 GiB is
/// over the window, so it is never tried (and a candidate is checked
/// byte by byte anyway).
pub(crate) const EMPTY: u32 = 1 << 31;

/// One strip's coder state: the window and the hash table.
pub struct LzStrip {
    /// `window[..len]`: the last bytes of the strip so far (up to WINDOW),
    /// then the band being coded. The rest of the buffer is room for the
    /// next band, kept from band to band and strip to strip (never read).
    window: Vec<u8>,
    len: usize,
    /// Stream offset (from the strip's start) of `window[0]`.
    base: usize,
    /// The last position entered in each bucket: stream offsets (wrapping).
    table: Box<[u32; 1 << HASH_BITS]>,
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
            len: 0,
            base: 0,
            table: vec![EMPTY; 1 << HASH_BITS]
                .into_boxed_slice()
                .try_into()
                .expect("the table's size"),
            tokens: Vec::new(),
        }
    }

    /// Starts a new strip: nothing before it is matched, so a strip's
    /// bytes do not depend on which strips the coder saw before (threads).
    pub fn restart(&mut self) {
        self.len = 0;
        self.base = 0;
        self.table.fill(EMPTY);
    }

    /// Room for the next `len` filtered bytes of the strip, right after
    /// the window: the rows are filtered straight into it (no copy), then
    /// coded with `code_band`.
    pub fn band(&mut self, len: usize) -> &mut [u8] {
        if self.len > WINDOW {
            let drop = self.len - WINDOW;
            self.window.copy_within(drop..self.len, 0);
            self.base += drop;
            self.len = WINDOW;
        }
        let end = self.len + len;
        if self.window.len() < end {
            self.window.resize(end, 0);
        }
        &mut self.window[self.len..end]
    }

    /// Codes the `len` bytes `band` returned, filled in, as one block, the
    /// stream's final block when `last`; stored when coding would not be
    /// smaller.
    pub fn code_band(&mut self, len: usize, last: bool, out: &mut BitWriter) {
        let start = self.len;
        self.len += len;
        if len == 0 {
            return deflate::write_stored(&[], last, out);
        }
        let mut counts = Counts::new();
        self.parse(start, &mut counts);
        if !write_block(&self.tokens, &counts, last, len, out) {
            deflate::write_stored(&self.window[start..self.len], last, out);
        }
    }

    /// Codes `band` (the next filtered rows of the strip): `band` and
    /// `code_band` with a copy.
    pub fn code(&mut self, band: &[u8], last: bool, out: &mut BitWriter) {
        self.band(band.len()).copy_from_slice(band);
        self.code_band(band.len(), last, out);
    }

    /// Greedy parse of `window[start..len]` into `tokens`, counting symbols.
    fn parse(&mut self, start: usize, counts: &mut Counts) {
        let data = &self.window[..self.len];
        let table = &mut *self.table;
        let tokens = &mut self.tokens;
        tokens.clear();
        tokens.reserve(data.len() - start);
        let end = data.len();
        let base = self.base;
        let mut at = start;
        // Positions with eight bytes to read: the candidate's first three
        // bytes and the match's first word are one compare.
        let wide = end.saturating_sub(7);
        // The last match's distance (none yet: never <= at).
        let mut rep = usize::MAX;
        while at < wide {
            let word = read_u64(data, at);
            let position = (base + at) as u32;
            // The last match's distance first, taken when all eight bytes
            // repeat there: on a hit the chain skips the hash and the table
            // load (docs/benchmarks.md, "Round 7").
            if rep <= at && read_u64(data, at - rep) == word {
                table[hash(word as u32)] = position;
                let len = 8 + match_len(data, at - rep + 8, at + 8, (end - at).min(MAX_MATCH) - 8);
                at = emit_match(tokens, counts, table, data, base, at, len, rep);
                continue;
            }
            let bucket = hash(word as u32);
            let candidate = std::mem::replace(&mut table[bucket], position);
            let dist = position.wrapping_sub(candidate) as usize;
            // In the window and in the strip (0 and EMPTY wrap past both);
            // buckets collide, so the bytes decide.
            let differ = if dist.wrapping_sub(1) < WINDOW.min(at) {
                read_u64(data, at - dist) ^ word
            } else {
                1
            };
            if differ & 0xff_ffff != 0 {
                let byte = word as u8;
                tokens.push(byte as u32);
                counts.literals[byte as usize] += 1;
                at += 1;
                continue;
            }
            let len = if differ != 0 {
                (differ.trailing_zeros() / 8) as usize
            } else {
                8 + match_len(data, at - dist + 8, at + 8, (end - at).min(MAX_MATCH) - 8)
            };
            rep = dist;
            at = emit_match(tokens, counts, table, data, base, at, len, dist);
        }
        // The last bytes, too close to the end for the wide reads.
        let hashable = end.saturating_sub(3);
        while at < hashable {
            let word = read_u32(data, at);
            let position = (base + at) as u32;
            let candidate = std::mem::replace(&mut table[hash(word)], position);
            let dist = position.wrapping_sub(candidate) as usize;
            let mut len = 0;
            if dist.wrapping_sub(1) < WINDOW.min(at)
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
            let (symbol, extra) = distance_code(dist as u32);
            tokens.push(MATCH | ((len - MIN_MATCH) as u32) << 23 | symbol << 18 | extra);
            counts.literals[257 + length_symbol(len as u32)] += 1;
            counts.distances[symbol as usize] += 1;
            let next = at + len;
            for inside in next - INSERT_TAIL..next.min(hashable) {
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

/// Writes the match of `len` at `at` from `dist` back, enters the last
/// INSERT_TAIL positions of it in the table and returns where it ends.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn emit_match(
    tokens: &mut Vec<u32>,
    counts: &mut Counts,
    table: &mut [u32; 1 << HASH_BITS],
    data: &[u8],
    base: usize,
    at: usize,
    len: usize,
    dist: usize,
) -> usize {
    let end = data.len();
    let (symbol, extra) = distance_code(dist as u32);
    tokens.push(MATCH | ((len - MIN_MATCH) as u32) << 23 | symbol << 18 | extra);
    counts.literals[257 + length_symbol(len as u32)] += 1;
    counts.distances[symbol as usize] += 1;
    let next = at + len;
    // The last INSERT_TAIL positions of the match (it is at least 3
    // long, so they are inside it), from one read when it can.
    if next + 6 <= end {
        let tail = read_u64(data, next - 2);
        table[hash(tail as u32)] = (base + next - 2) as u32;
        table[hash((tail >> 8) as u32)] = (base + next - 1) as u32;
    } else {
        for inside in next - INSERT_TAIL..next.min(end.saturating_sub(3)) {
            table[hash(read_u32(data, inside))] = (base + inside) as u32;
        }
    }
    next
}

#[inline(always)]
fn read_u64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"))
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

/// Deflate's distance symbol for `dist` (1..=32768) and the value of its
/// extra bits, in one formula: with d = dist - 1 of `bits` significant
/// bits, the symbol is 2 (bits - 1) plus the bit below the top one, and
/// the bits below that are the extra bits; `saturating_sub` makes the
/// same formula right for d < 4 (no branch for them).
#[inline(always)]
pub(crate) fn distance_code(dist: u32) -> (u32, u32) {
    let d = dist - 1;
    let bits = 31 - (d | 1).leading_zeros();
    let shift = bits.saturating_sub(1);
    (2 * bits + (d >> shift & 1), d & ((1 << shift) - 1))
}

/// How many extra bits follow a distance symbol's code.
#[inline(always)]
pub(crate) fn distance_extra_bits(symbol: u32) -> u32 {
    (symbol / 2).saturating_sub(1)
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
    let (literal_codes, distance_codes, start) =
        start_block(&counts.literals, &counts.distances, last, tokens.len(), out);
    let lengths = length_table(&literal_codes);
    // Each distance symbol's code, its length, and that plus its extra bits.
    let mut distances = [(0u32, 0u32, 0u32); DISTANCE_SYMBOLS];
    for (symbol, packed) in distances.iter_mut().enumerate() {
        let code = distance_codes[symbol];
        let extra_count = distance_extra_bits(symbol as u32);
        *packed = (
            code.bits as u32,
            code.len as u32,
            code.len as u32 + extra_count,
        );
    }
    let mut cursor = out.cursor();
    for &token in tokens {
        if token & MATCH == 0 {
            let code = literal_codes[token as usize];
            cursor.put(code.bits as u64, code.len as u32);
            continue;
        }
        let (len_bits, len_count) = lengths[(token >> 23 & 0xff) as usize];
        let (code, code_len, dist_count) = distances[(token >> 18 & 0x1f) as usize];
        let dist_bits = code as u64 | ((token & 0x1fff) as u64) << code_len;
        cursor.put(
            len_bits as u64 | dist_bits << len_count,
            len_count + dist_count,
        );
    }
    let end = literal_codes[END_OF_BLOCK];
    cursor.put(end.bits as u64, end.len as u32);
    let written = cursor.state();
    keep_block(out, written, start, raw_len)
}

/// Starts a dynamic-Huffman block: its codes from the symbol counts, its
/// header written to `out` with room reserved for `tokens` tokens. Returns
/// the literal/length and distance codes and where the block began.
pub(crate) fn start_block(
    literal_counts: &[u32; LITERAL_SYMBOLS],
    distance_counts: &[u32; DISTANCE_SYMBOLS],
    last: bool,
    tokens: usize,
    out: &mut BitWriter,
) -> (Vec<Code>, Vec<Code>, (usize, u64, u32)) {
    let literal_lengths = code_lengths(literal_counts, MAX_CODE_BITS);
    // At least two distance codes, so the code is complete (some decoders
    // refuse an incomplete one) even in a block without matches.
    let mut distances = *distance_counts;
    for count in &mut distances[..2] {
        *count = (*count).max(1);
    }
    let distance_lengths = code_lengths(&distances, MAX_CODE_BITS);
    let start = out.position();
    out.reserve(tokens * 6 + 1024);
    write_header(&literal_lengths, &distance_lengths, last, out);
    let codes = (
        canonical_codes(&literal_lengths),
        canonical_codes(&distance_lengths),
    );
    (codes.0, codes.1, start)
}

/// Length code and extra bits for each match length - 3, packed as
/// (bits, count).
pub(crate) fn length_table(literal_codes: &[Code]) -> [(u32, u32); MAX_MATCH - MIN_MATCH + 1] {
    let mut lengths = [(0u32, 0u32); MAX_MATCH - MIN_MATCH + 1];
    for (len, packed) in (MIN_MATCH..).zip(lengths.iter_mut()) {
        let symbol = length_symbol(len as u32);
        let code = literal_codes[257 + symbol];
        let extra = len as u32 - LENGTH_BASE[symbol] as u32;
        *packed = (
            code.bits as u32 | extra << code.len,
            code.len as u32 + LENGTH_EXTRA[symbol] as u32,
        );
    }
    lengths
}

/// Hands `out` the state a block's cursor ended in (`written`) and keeps
/// the block when it is no larger than storing its `raw_len` bytes; else
/// rewinds `out` to `start`, where the block began, and returns false (the
/// caller stores the bytes instead).
pub(crate) fn keep_block(
    out: &mut BitWriter,
    written: (usize, u64, u32),
    start: (usize, u64, u32),
    raw_len: usize,
) -> bool {
    out.rewind(written);
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
    use crate::inflate;

    /// Codes `data` in bands of `band` bytes as one stream.
    fn code(data: &[u8], band: usize) -> Vec<u8> {
        code_with(&mut LzStrip::new(), data, band)
    }

    fn code_with(lz: &mut LzStrip, data: &[u8], band: usize) -> Vec<u8> {
        let mut out = BitWriter::new(16);
        let bands: Vec<&[u8]> = data.chunks(band).collect();
        for (i, piece) in bands.iter().enumerate() {
            lz.code(piece, i + 1 == bands.len(), &mut out);
        }
        out.align();
        out.into_bytes()
    }

    #[test]
    fn match_len_counts_every_length_at_every_offset() {
        // Against a byte-by-byte count: each length 0..=max, for limits
        // on both sides of the 8-byte steps, overlapping copies
        // (distance 1) and far ones.
        let data: Vec<u8> = (0..700).map(|i| (i % 7) as u8).collect();
        for dist in [1usize, 7, 300] {
            for max in [
                0usize, 1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 250, 258,
            ] {
                for differ_at in 0..=max {
                    let at = 400;
                    let mut data = data.clone();
                    // The match, then byte `differ_at` of it changed (none
                    // when it is `max`: the whole limit matches).
                    for i in 0..max {
                        data[at + i] = data[at - dist + i];
                    }
                    if differ_at < max {
                        data[at + differ_at] = data[at - dist + differ_at].wrapping_add(1);
                    }
                    let naive = (0..max)
                        .take_while(|&i| data[at - dist + i] == data[at + i])
                        .count();
                    assert_eq!(naive, differ_at, "{dist} {max} {differ_at}");
                    let (from, at) = (at - dist, at);
                    assert_eq!(match_len(&data, from, at, max), naive, "{dist} {max}");
                }
            }
        }
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
            assert_eq!(distance_code(dist).0, symbol, "{dist}");
            assert_eq!(distance_extra_bits(symbol), extra, "{dist}");
        }
        assert_eq!(distance_code(32768).1, 8191);
        // Every distance: its symbol's base (the smallest distance with
        // that symbol) plus the extra bits' value, which fits in them.
        let mut base = [0u32; DISTANCE_SYMBOLS];
        for dist in (1..=32768u32).rev() {
            base[distance_code(dist).0 as usize] = dist;
        }
        for dist in 1..=32768u32 {
            let (symbol, extra) = distance_code(dist);
            assert_eq!(base[symbol as usize] + extra, dist, "{dist}");
            assert!(extra < 1 << distance_extra_bits(symbol), "{dist}");
        }
    }

    #[test]
    fn a_restarted_coder_codes_a_strip_as_a_new_one_would() {
        // A band's last three positions are not entered in the table (the
        // hash reads four bytes), so a string first seen across a band's
        // end is not found later in the strip. A table left from another
        // strip can have it: there, bytes 999-1001 (across the first
        // band's end) seen in a single band; here repeated at 1500.
        let mut state = 0x2545_f491u32;
        let mut data: Vec<u8> = (0..2000)
            .map(|_| {
                crate::xorshift(&mut state);
                (state >> 24) as u8
            })
            .collect();
        data.copy_within(999..1011, 1500);
        // Zeros, so the second band is coded, not stored.
        data[1600..].fill(0);
        let mut lz = LzStrip::new();
        code_with(&mut lz, &data[..1100], 2000);
        lz.restart();
        assert!(code_with(&mut lz, &data, 1000) == code(&data, 1000));
    }

    #[test]
    fn the_last_distance_is_tried_before_the_hash_candidate() {
        // At 27 the table's candidate for "GHI" is 17 (3 bytes long, 10
        // back); the last match's distance, 21 (the "ABCDE" at 21, one
        // literal since), gives 10 bytes and is taken first.
        let data = b"ABCDEFGHIJKLMNOPnGHIwABCDEZGHIJKLMNOP";
        let mut lz = LzStrip::new();
        let stream = code_with(&mut lz, data, data.len());
        assert_eq!(inflate(&stream), data);
        let (symbol, extra) = distance_code(21);
        let rep = MATCH | (10 - MIN_MATCH as u32) << 23 | symbol << 18 | extra;
        assert_eq!(lz.tokens.last(), Some(&rep), "{:x?}", lz.tokens);
        let (symbol, extra) = distance_code(11);
        let first = MATCH | symbol << 18 | extra;
        assert_eq!(lz.tokens[17], first);
    }

    #[test]
    fn round_trips_repeats_runs_and_noise_across_bands() {
        let mut state = 0x2545_f491u32;
        let mut noise = || {
            crate::xorshift(&mut state);
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
