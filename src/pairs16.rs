//! bufpng's coder for 16-bit rows whose samples repeat their high byte in
//! the low byte (an 8-bit source scaled by 257, `x257`: 8-bit photos saved
//! as 16-bit). After any PNG filter such rows are pairs of equal bytes
//! (the filters are byte-wise, and the low byte's neighbours equal the high
//! byte's), so a repeat of two 8-bit residuals is a 4-byte 16-bit match:
//! the short matches libpng finds there and Runs (one byte at a time)
//! cannot.
//!
//! A greedy LZ77 parse over the filtered 16-bit bytes that looks up only
//! pair starts (half the positions) in two tables of one entry a key (the
//! most recent position): one indexed directly by the high bytes of the
//! next two samples (no hash), one by a hash of the next three samples'
//! high bytes, which finds the longer matches the first one's most recent
//! entry misses. The longer of the two candidates' matches is taken. Every
//! pair start inside a match is entered too (in one table only: 2.6-8.8%
//! larger files; all but the last: 10%), so every pair start is entered
//! whatever the parse finds: a first pass over each row makes the entries,
//! keeping what each replaced, and the parse reads its candidates from
//! there (`parse`). Every candidate is checked
//! byte by byte, so the output is valid deflate for any content; on rows
//! that are not x257 it finds little (the 16-bit photo resized with
//! INTER_CUBIC: 0.1% smaller than Runs at three times its time), so
//! `striped.rs` gives bands that are mostly not x257 to Runs.
//!
//! A strip is coded band by band (`striped.rs`); the last 32 KiB of the
//! strip so far stay in the window, so matches reach back across bands
//! (never across strips: each strip starts with an empty window).
//! Why and the measurements: docs/benchmarks.md, "16-bit x257: the pair
//! coder".

use crate::deflate::{self, length_symbol, BitWriter};
use crate::lz77::{
    distance_extra_bits, keep_block, length_table, match_len, start_block, DISTANCE_SYMBOLS, EMPTY,
    END_OF_BLOCK, LITERAL_SYMBOLS, MAX_MATCH, WINDOW,
};

/// The shortest match taken: two samples' bytes (two 8-bit residuals).
const MIN_MATCH: usize = 4;
/// Tokens: a match (the distance's extra bits in bits 13-25, its symbol
/// in 8-12, length - 3 in 0-7: what writing it needs, each field indexing
/// a table of its own without a bounds check), two literal bytes (bits
/// 0-15, first byte low), or one literal byte.
const MATCH: u32 = 1 << 31;
const PAIR: u32 = 1 << 30;

/// A table of the last pair start entered under each 16-bit key.
type Table = [u32; 1 << 16];

/// Whether every 16-bit sample of `rows` (big-endian, as PNG stores them)
/// has equal high and low bytes.
pub fn is_x257(rows: &[u8]) -> bool {
    let (body, tail) = rows.split_at(rows.len() / 8 * 8);
    // Eight bytes at a time, without an early exit per word: a branch-free
    // fold over a chunk of words vectorises.
    for block in body.chunks(64 * 8) {
        let mut differ = 0u64;
        for word in block.chunks_exact(8) {
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            differ |= (word ^ (word >> 8)) & 0x00ff_00ff_00ff_00ff;
        }
        if differ != 0 {
            return false;
        }
    }
    tail.chunks_exact(2).all(|pair| pair[0] == pair[1])
}

/// Whether at least half the rows of `rows` (of `row_bytes` bytes each)
/// are x257: the pair coder's matches make up for the few rows that are
/// not (on such rows it is about as small as Runs, only slower).
pub fn mostly_x257(rows: &[u8], row_bytes: usize) -> bool {
    let count = rows.len() / row_bytes.max(1);
    let x257 = rows
        .chunks_exact(row_bytes.max(1))
        .filter(|row| is_x257(row))
        .count();
    count > 0 && x257 * 2 >= count
}

fn empty_table() -> Box<Table> {
    vec![EMPTY; 1 << 16]
        .into_boxed_slice()
        .try_into()
        .expect("2^16 entries")
}

/// One strip's coder state: the window and the tables.
pub struct PairStrip {
    /// The last bytes of the strip so far (up to WINDOW), and while a band
    /// is parsed, that band after them (a strip's first band is parsed in
    /// place).
    window: Vec<u8>,
    /// Stream offset (from the strip's start) of `window[0]`.
    base: usize,
    /// The last pair start entered under each key, as stream offsets: the
    /// two-sample table and the three-sample one (fixed-size, so a key
    /// of 16 bits indexes them without a bounds check).
    near: Box<Table>,
    far: Box<Table>,
    tokens: Vec<u32>,
    /// What each pair start of a row replaced in the tables (`parse`).
    candidates: Vec<u64>,
    /// A filtered row's length (filter type byte and an even number of
    /// sample bytes).
    row_len: usize,
}

impl PairStrip {
    pub fn new(row_len: usize) -> PairStrip {
        PairStrip {
            window: Vec::new(),
            base: 0,
            near: empty_table(),
            far: empty_table(),
            tokens: Vec::new(),
            candidates: Vec::new(),
            row_len,
        }
    }

    /// Starts a new strip: nothing before it is matched, so a strip's bytes
    /// do not depend on which strips the coder saw before (threads).
    pub fn restart(&mut self) {
        self.window.clear();
        self.base = 0;
        self.near.fill(EMPTY);
        self.far.fill(EMPTY);
    }

    /// Forgets the window: the bytes coded next are not preceded by the
    /// ones before in the stream (another coder wrote those), so nothing
    /// may refer back to them. Table entries from before fall out of reach.
    pub fn forget(&mut self) {
        self.base += self.window.len();
        self.window.clear();
    }

    /// Codes `band` (the next filtered rows of the strip, whole rows) as
    /// one block, the stream's final block when `last`; stored when coding
    /// would not be smaller.
    pub fn code(&mut self, band: &[u8], last: bool, out: &mut BitWriter) {
        if band.is_empty() {
            return deflate::write_stored(band, last, out);
        }
        let mut counts = Counts::new();
        let row_len = self.row_len;
        let count;
        if self.window.is_empty() {
            // A strip's first band (a 1080p frame's strips are one band
            // each) is parsed where it is, without a copy.
            count = parse(
                band,
                0,
                self.base,
                row_len,
                (&mut *self.near, &mut *self.far),
                (&mut self.tokens, &mut self.candidates),
                &mut counts,
            );
            let tail = band.len().min(WINDOW);
            self.window.extend_from_slice(&band[band.len() - tail..]);
            self.base += band.len() - tail;
        } else {
            let start = self.window.len();
            self.window.extend_from_slice(band);
            count = parse(
                &self.window,
                start,
                self.base,
                row_len,
                (&mut *self.near, &mut *self.far),
                (&mut self.tokens, &mut self.candidates),
                &mut counts,
            );
            let drop = self.window.len() - self.window.len().min(WINDOW);
            self.window.drain(..drop);
            self.base += drop;
        }
        if !write_block(&self.tokens[..count], &counts, last, band.len(), out) {
            deflate::write_stored(band, last, out);
        }
    }
}

/// Greedy parse of `data[start..]` (whole rows of `row_len` bytes; the
/// bytes before are the window, `data[0]` at stream offset `base`) into
/// the first tokens of `tokens` (their count returned), counting symbols.
///
/// Row by row, in two passes. Every pair start with two samples left in
/// the row is entered in both tables, in order, whether the parse looks it
/// up or it falls inside a match: so the tables' contents never depend on
/// the parse, and the first pass enters the whole row and keeps what each
/// entry replaced (`candidates`: both tables' entries, the near one in the
/// low half). The second pass is the greedy parse: the filter type byte
/// is a literal, then each pair start it reaches takes its candidates'
/// longer match or goes out as two literals. Matches stay in their row and
/// are cut to whole pairs, so every lookup is at a pair start. (The same
/// bytes as entering the pairs inside a match after it, in a loop whose
/// length the match decides: the first pass has no branch a pair.)
///
/// Two rows at a time: both rows' first passes, then their greedy parses
/// in one loop, a lookup of each in turn. Each row's parse is one chain
/// (a lookup's position is the previous one's plus its match length);
/// two independent chains overlap, and each lookup finds its match
/// without a branch on what it finds (`Chain::step`), since a
/// misprediction would flush both. Same tokens as row by row.
fn parse(
    data: &[u8],
    start: usize,
    base: usize,
    row_len: usize,
    (near, far): (&mut Table, &mut Table),
    (tokens, candidates): (&mut Vec<u32>, &mut Vec<u64>),
    counts: &mut Counts,
) -> usize {
    // Every token covers at least one byte. Written by index into a
    // buffer kept at its largest length (its count in a register, not
    // stored back at every push; never zeroed again); a row's worth more,
    // where the second row of a pair is parsed before it moves into place.
    let need = data.len() - start + ROWS * row_len;
    if tokens.len() < need {
        tokens.resize(need, 0);
    }
    let per_row = row_len / 2;
    if candidates.len() < ROWS * per_row {
        candidates.resize(ROWS * per_row, 0);
    }
    let out = &mut tokens[..];
    let mut n = 0;
    let mut row = start;
    // ROWS rows at a time: the tables never depend on the parse, so the
    // rows' candidates can be entered first (in order), and then the
    // greedy parses are independent chains, run in one loop so that one's
    // wait for its match length overlaps the others' (each lookup's
    // position depends on the previous match's length).
    let starts = row_len.saturating_sub(3) / 2;
    while row + ROWS * row_len <= data.len() {
        let (one, two) = candidates.split_at_mut(per_row);
        let (one, two) = (&mut one[..starts], &mut two[..starts]);
        enter_row(data, near, far, base, row + 1, one);
        enter_row(data, near, far, base, row + row_len + 1, two);
        // The second row's tokens go a row's length further on (the first
        // row's take at most row_len slots), then move up behind the
        // first's. The chains' states are locals (in registers).
        let parked = n + row_len;
        let mut a = Chain::open(data, row, n, out, counts);
        let mut b = Chain::open(data, row + row_len, parked, out, counts);
        while a.live(row_len) && b.live(row_len) {
            a.step(data, one, base, row_len, out, counts);
            b.step(data, two, base, row_len, out, counts);
        }
        while a.live(row_len) {
            a.step(data, one, base, row_len, out, counts);
        }
        while b.live(row_len) {
            b.step(data, two, base, row_len, out, counts);
        }
        n = a.close(data, row_len, out, counts);
        let end = b.close(data, row_len, out, counts);
        out.copy_within(parked..end, n);
        n += end - parked;
        row += ROWS * row_len;
    }
    // The last rows (fewer than ROWS, the last maybe shorter than row_len).
    while row < data.len() {
        let row_end = data.len().min(row + row_len);
        let starts = (row_end.saturating_sub(row + 3)) / 2;
        let one = &mut candidates[..starts];
        enter_row(data, near, far, base, row + 1, one);
        let mut a = Chain::open(data, row, n, out, counts);
        let len = row_end - row;
        while a.live(len) {
            a.step(data, one, base, len, out, counts);
        }
        n = a.close(data, len, out, counts);
        row = row_end;
    }
    n
}

/// Rows parsed at once (`parse`).
const ROWS: usize = 2;

/// One row's greedy parse in progress: the row's start, the next position
/// and the next token's slot.
struct Chain {
    row: usize,
    at: usize,
    n: usize,
}

impl Chain {
    /// Starts the parse of the row at `row`: its filter type byte is a
    /// literal, in slot `n`.
    #[inline(always)]
    fn open(data: &[u8], row: usize, n: usize, out: &mut [u32], counts: &mut Counts) -> Chain {
        out[n] = data[row] as u32;
        counts.literals[data[row] as usize] += 1;
        Chain {
            row,
            at: row + 1,
            n: n + 1,
        }
    }

    /// Whether a pair start with two samples left remains in the row
    /// (`len` bytes).
    #[inline(always)]
    fn live(&self, len: usize) -> bool {
        self.at + MIN_MATCH <= self.row + len
    }

    /// One lookup: the longer of the pair start's candidates' matches, or
    /// two literals. Without a branch on what the lookup finds (only on a
    /// match of eight bytes or more, and near the end of `data`): the two
    /// rows' chains overlap only where no misprediction flushes them both.
    #[inline(always)]
    fn step(
        &mut self,
        data: &[u8],
        candidates: &[u64],
        base: usize,
        len: usize,
        out: &mut [u32],
        counts: &mut Counts,
    ) {
        let at = self.at;
        let end = self.row + len;
        let entries = candidates[(at - self.row - 1) / 2];
        let Some(ahead) = data.get(at..).and_then(<[u8]>::first_chunk::<16>) else {
            return self.step_near_end(data, entries, base, end, out, counts);
        };
        let word = u128::from_le_bytes(*ahead);
        let max = (end - at).min(MAX_MATCH) & !1;
        let position = (base + at) as u32;
        let reach = at.min(WINDOW);
        let near = position.wrapping_sub(entries as u32) as usize;
        let far = position.wrapping_sub((entries >> 32) as u32) as usize;
        let near_len = reach_len(data, at, near, reach, word, max);
        let far_len = reach_len(data, at, far, reach, word, max);
        // The near candidate on a tie, as `find`.
        let (len, dist) = if far_len > near_len {
            (far_len, far)
        } else {
            (near_len, near)
        };
        // On x257 photos 98% of the lookups match: this branch is
        // predicted, and the match path has no literal counts.
        if len < MIN_MATCH {
            return self.push_pair(word as u8, (word >> 8) as u8, out, counts);
        }
        self.push_match(len, dist, out, counts);
    }

    /// `step` for a pair start within 8 bytes of the end of `data`.
    #[cold]
    #[inline(never)]
    fn step_near_end(
        &mut self,
        data: &[u8],
        entries: u64,
        base: usize,
        end: usize,
        out: &mut [u32],
        counts: &mut Counts,
    ) {
        let at = self.at;
        let (len, dist) = find(data, entries, base, at, end);
        if len < MIN_MATCH {
            return self.push_pair(data[at], data[at + 1], out, counts);
        }
        self.push_match(len, dist, out, counts);
    }

    /// Emits the pair at the parse position as two literals.
    #[inline(always)]
    fn push_pair(&mut self, first: u8, second: u8, out: &mut [u32], counts: &mut Counts) {
        out[self.n] = PAIR | first as u32 | (second as u32) << 8;
        self.n += 1;
        counts.literals[first as usize] += 1;
        counts.literals[second as usize] += 1;
        self.at += 2;
    }

    /// Emits a match of `len` bytes at distance `dist` from the parse
    /// position.
    #[inline(always)]
    fn push_match(&mut self, len: usize, dist: usize, out: &mut [u32], counts: &mut Counts) {
        let (symbol, extra) = distance_code(dist);
        out[self.n] = MATCH | extra << 13 | symbol << 8 | (len as u32 - 3);
        self.n += 1;
        // Counted by length, folded into length symbols once a block.
        counts.lengths[(len - 3) & 0xff] += 1;
        counts.distances[(symbol & 0x1f) as usize] += 1;
        self.at += len;
    }

    /// Ends the row (`len` bytes): the last pair (or, in rows of an odd
    /// length, which 16-bit rows never have, the last bytes) as literals;
    /// returns the slot after the row's last token.
    #[inline(always)]
    fn close(self, data: &[u8], len: usize, out: &mut [u32], counts: &mut Counts) -> usize {
        let mut n = self.n;
        for &byte in &data[self.at..self.row + len] {
            out[n] = byte as u32;
            n += 1;
            counts.literals[byte as usize] += 1;
        }
        n
    }
}

/// Enters the pair starts `first`, `first + 2`, ... (one a slot of
/// `candidates`) in both tables, keeping in each slot the two entries it
/// replaced (near in the low half, far in the high one).
#[inline(always)]
fn enter_row(
    data: &[u8],
    near: &mut Table,
    far: &mut Table,
    base: usize,
    first: usize,
    candidates: &mut [u64],
) {
    // Four pair starts from each 16 bytes (their keys need six bytes
    // each), read as two words: no bounds check a pair start.
    let groups = (candidates.len() / 4).min((data.len() - first).saturating_sub(8) / 8);
    let bytes = data.get(first..first + 8 * groups + 8).unwrap_or_default();
    let pairs = bytes
        .chunks_exact(8)
        .zip(bytes.get(8..).unwrap_or_default().chunks_exact(8));
    let mut position = (base + first) as u32;
    for (slots, (low, high)) in candidates.chunks_exact_mut(4).zip(pairs) {
        let low = u64::from_le_bytes(low.try_into().expect("8 bytes"));
        let high = u64::from_le_bytes(high.try_into().expect("8 bytes"));
        let words = [
            low,
            low >> 16 | high << 48,
            low >> 32 | high << 32,
            low >> 48 | high << 16,
        ];
        for (slot, word) in slots.iter_mut().zip(words) {
            let (short, long) = word_keys(word);
            let near_entry = std::mem::replace(&mut near[short], position);
            let far_entry = std::mem::replace(&mut far[long], position);
            *slot = near_entry as u64 | (far_entry as u64) << 32;
            position += 2;
        }
    }
    // The rest one at a time (near the end of `data` with fewer bytes).
    for (k, slot) in candidates.iter_mut().enumerate().skip(4 * groups) {
        let (short, long) = keys(data, first + 2 * k);
        let position = (base + first + 2 * k) as u32;
        let near_entry = std::mem::replace(&mut near[short], position);
        let far_entry = std::mem::replace(&mut far[long], position);
        *slot = near_entry as u64 | (far_entry as u64) << 32;
    }
}

/// Deflate's distance symbol for `dist` (1..=WINDOW) and the value of its
/// extra bits, from two small tables (`lz77::distance_code` computes them
/// with a longer chain of dependent steps; here it was 5% of the time).
#[inline(always)]
fn distance_code(dist: usize) -> (u32, u32) {
    let d = dist - 1;
    // Every symbol past the first 16 spans a multiple of 128 distances.
    let index = if d < 256 { d } else { 256 + (d >> 7) };
    let symbol = DISTANCE_SYMBOL[index & 511] as usize;
    (
        symbol as u32,
        (d - DISTANCE_BASE[symbol & 31] as usize) as u32,
    )
}

/// How many bytes from `at` (the first sixteen of which are `word`) repeat
/// those `dist` before, in whole pairs, up to `max`; 0 out of `reach`
/// (`at + 16` within `data`). `measure` without a branch unless all
/// sixteen match (2% of the lookups on the 16-bit photo, where a third of
/// the matches are 8 bytes or longer: a branch there mispredicted), and
/// without its test for MIN_MATCH: a shorter length loses to a match, and
/// two candidates under it make a literal pair all the same.
#[inline(always)]
fn reach_len(data: &[u8], at: usize, dist: usize, reach: usize, word: u128, max: usize) -> usize {
    let ok = dist <= reach;
    // Out of reach, `at` itself is read (and the length dropped).
    let from = if ok { at - dist } else { at };
    let earlier = u128::from_le_bytes(*data[from..].first_chunk::<16>().expect("16 bytes"));
    let differ = earlier ^ word;
    let mut len = (differ.trailing_zeros() / 8) as usize;
    if len == 16 && max > 16 && ok {
        len = 16 + match_len(data, from + 16, at + 16, max - 16);
    }
    // Under MIN_MATCH it loses to a match and makes a literal pair alone.
    if ok {
        len.min(max) & !1
    } else {
        0
    }
}

/// The distance symbol of d = dist - 1 for d < 256, then of 128 (i - 256).
const DISTANCE_SYMBOL: [u8; 512] = {
    let mut table = [0; 512];
    let mut i = 0;
    while i < 512 {
        let d = if i < 256 { i } else { (i - 256) << 7 };
        let mut symbol = 0;
        while symbol < 29 && DISTANCE_BASE[symbol + 1] as usize <= d {
            symbol += 1;
        }
        table[i] = symbol as u8;
        i += 1;
    }
    table
};

/// The first d = dist - 1 of each distance symbol.
const DISTANCE_BASE: [u16; 32] = {
    let mut table = [u16::MAX; 32];
    let mut symbol = 0;
    while symbol < 30 {
        table[symbol] = if symbol < 4 {
            symbol as u16
        } else {
            (2 + (symbol & 1) as u16) << (symbol / 2 - 1)
        };
        symbol += 1;
    }
    table
};

/// The longer match for the pair start `at` of its two candidates
/// (`entries`: what it replaced in the tables), in whole pairs and before
/// `end` (a length under MIN_MATCH when neither matches).
#[inline(always)]
fn find(data: &[u8], entries: u64, base: usize, at: usize, end: usize) -> (usize, usize) {
    let max = (end - at).min(MAX_MATCH) & !1;
    let (near, far) = (entries as u32, (entries >> 32) as u32);
    let position = (base + at) as u32;
    // A candidate is in reach when within the window and not before
    // `data` (an empty entry's distance is over the window).
    let reach = at.min(WINDOW);
    let Some(ahead) = data.get(at..).and_then(<[u8]>::first_chunk::<8>) else {
        return find_near_end(data, position, near, far, at, max, reach);
    };
    // One read for checking both candidates.
    let word = u64::from_le_bytes(*ahead);
    let mut best = (0, 0);
    let dist = position.wrapping_sub(near) as usize;
    if dist <= reach {
        best = (measure(data, at - dist, at, word, max), dist);
    }
    // Often both tables name the same position: it is checked once.
    if far != near {
        let dist = position.wrapping_sub(far) as usize;
        if dist <= reach {
            let len = measure(data, at - dist, at, word, max);
            if len > best.0 {
                best = (len, dist);
            }
        }
    }
    best
}

/// How many bytes from `at` (the first eight of which are `word`) repeat
/// those from `from`, in whole pairs, up to `max` (at least MIN_MATCH); 0
/// unless the first four do. Most matches here are under 8 bytes: one
/// comparison of eight checks the candidate and measures the match.
#[inline(always)]
fn measure(data: &[u8], from: usize, at: usize, word: u64, max: usize) -> usize {
    let earlier = u64::from_le_bytes(*data[from..].first_chunk::<8>().expect("8 bytes"));
    let differ = earlier ^ word;
    if differ as u32 != 0 {
        return 0;
    }
    let len = if differ != 0 {
        (differ.trailing_zeros() / 8) as usize
    } else if max > 8 {
        8 + match_len(data, from + 8, at + 8, max - 8)
    } else {
        8
    };
    len.min(max) & !1
}

/// `find` for a pair start within 8 bytes of the end of `data`.
#[cold]
#[inline(never)]
fn find_near_end(
    data: &[u8],
    position: u32,
    near: u32,
    far: u32,
    at: usize,
    max: usize,
    reach: usize,
) -> (usize, usize) {
    let mut best = (0, 0);
    let candidates = if far == near {
        &[near][..]
    } else {
        &[near, far][..]
    };
    for &entry in candidates {
        let dist = position.wrapping_sub(entry) as usize;
        if dist <= reach {
            let len = candidate_len(data, at - dist, at, max);
            if len > best.0 {
                best = (len, dist);
            }
        }
    }
    best
}

/// How many bytes from `at` repeat those from `from`, in whole pairs, up to
/// `max`; 0 unless the first four do (`at` within 8 bytes of the end).
fn candidate_len(data: &[u8], from: usize, at: usize, max: usize) -> usize {
    if read_u32(data, from) != read_u32(data, at) {
        return 0;
    }
    match_len(data, from, at, max) & !1
}

/// The table entries of the pair start `at`: the two samples' high bytes
/// (in x257 rows; bytes 1 and 2 in any), and a hash of three samples' high
/// bytes (of two near the end of `data`).
#[inline(always)]
fn keys(data: &[u8], at: usize) -> (usize, usize) {
    let Some(bytes) = data.get(at..at + 8) else {
        let word = read_u32(data, at);
        let short = (word >> 8 & 0xffff) as usize;
        return (short, short);
    };
    word_keys(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
}

/// `keys` from the eight bytes at the pair start.
#[inline(always)]
fn word_keys(word: u64) -> (usize, usize) {
    // Bytes 1 and 2: the first sample's low byte, which in x257 rows is
    // its high byte, and the second's high byte (one shift, no assembly).
    let short = (word >> 8 & 0xffff) as usize;
    // The three high bytes in place (bytes 0, 2 and 4), hashed.
    let long = word & 0xff_00ff_00ff;
    let hash = (long.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 48) as usize;
    (short, hash)
}

#[inline(always)]
fn read_u32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"))
}

struct Counts {
    literals: [u32; LITERAL_SYMBOLS],
    /// Matches by length - 3 (the length symbols are counted from them).
    lengths: [u32; 256],
    /// By distance symbol (the last two never occur).
    distances: [u32; 32],
}

impl Counts {
    fn new() -> Counts {
        let mut literals = [0; LITERAL_SYMBOLS];
        literals[END_OF_BLOCK] = 1;
        Counts {
            literals,
            lengths: [0; 256],
            distances: [0; 32],
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
    let mut literal_counts = counts.literals;
    for (len, &count) in counts.lengths.iter().enumerate() {
        literal_counts[257 + length_symbol(len as u32 + 3)] += count;
    }
    let distance_counts: &[u32; DISTANCE_SYMBOLS] = (&counts.distances[..DISTANCE_SYMBOLS])
        .try_into()
        .expect("30 symbols");
    let (literal_codes, distance_codes, start) =
        start_block(&literal_counts, distance_counts, last, tokens.len(), out);
    // Literal codes packed as `bits | len << 16`.
    let mut literals = [0u32; 256];
    for (packed, code) in literals.iter_mut().zip(&literal_codes) {
        *packed = code.bits as u32 | (code.len as u32) << 16;
    }
    // Each distance symbol's code, its length (bits 16-23) and that plus
    // its extra bits' count (24-31).
    let mut distance_table = [0u32; 32];
    for (symbol, (packed, code)) in distance_table.iter_mut().zip(&distance_codes).enumerate() {
        let len = code.len as u32;
        *packed = code.bits as u32 | len << 16 | (len + distance_extra_bits(symbol as u32)) << 24;
    }
    let lengths = length_table(&literal_codes);
    let mut cursor = out.cursor();
    for &token in tokens {
        if token & MATCH == 0 {
            let first = literals[(token & 0xff) as usize];
            if token & PAIR == 0 {
                cursor.put((first & 0xffff) as u64, first >> 16);
                continue;
            }
            let second = literals[(token >> 8 & 0xff) as usize];
            cursor.put(
                (first & 0xffff) as u64 | ((second & 0xffff) as u64) << (first >> 16),
                (first >> 16) + (second >> 16),
            );
            continue;
        }
        let (len_bits, len_count) = lengths[(token & 0xff) as usize];
        let code = distance_table[(token >> 8 & 0x1f) as usize];
        let extra = token >> 13 & 0x1fff;
        let dist_bits = (code & 0xffff) as u64 | (extra as u64) << (code >> 16 & 0xff);
        cursor.put(
            len_bits as u64 | dist_bits << len_count,
            len_count + (code >> 24),
        );
    }
    let end = literal_codes[END_OF_BLOCK];
    cursor.put(end.bits as u64, end.len as u32);
    let written = cursor.state();
    keep_block(out, written, start, raw_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{filter_rows, RowFilter};
    use crate::inflate;

    /// Codes whole rows of `row_len` bytes in bands of `band_rows` rows as
    /// one stream; `forget_at` forgets the window before that band.
    fn code(data: &[u8], row_len: usize, band_rows: usize, forget_at: Option<usize>) -> Vec<u8> {
        let mut out = BitWriter::new(16);
        let mut pairs = PairStrip::new(row_len);
        let bands: Vec<&[u8]> = data.chunks(row_len * band_rows).collect();
        for (i, band) in bands.iter().enumerate() {
            if forget_at == Some(i) {
                pairs.forget();
            }
            pairs.code(band, i + 1 == bands.len(), &mut out);
        }
        out.align();
        out.into_bytes()
    }

    fn noise(state: &mut u32) -> u8 {
        (crate::xorshift(state) >> 24) as u8
    }

    /// A photo-like 8-bit frame (smooth, with some noise and flat areas),
    /// `width` x `height` RGB, as 16-bit samples x257 (big-endian).
    fn x257_frame(width: usize, height: usize) -> Vec<u8> {
        let mut state = 0x2545_f491u32;
        let mut data = Vec::with_capacity(width * height * 6);
        for y in 0..height {
            for x in 0..width * 3 {
                let value = match (x / 97 + y / 13) % 4 {
                    0 => 200,
                    _ => ((x / 5 + y * 3) as u8).wrapping_add(noise(&mut state) % 6),
                };
                data.extend_from_slice(&[value, value]);
            }
        }
        data
    }

    fn paeth(raw: &[u8], row_bytes: usize) -> Vec<u8> {
        let rows = raw.len() / row_bytes;
        let mut filtered = vec![0; rows * (row_bytes + 1)];
        filter_rows(RowFilter::Paeth, raw, None, row_bytes, 6, &mut filtered);
        filtered
    }

    /// The parse as it was before the first pass (lookups entering their
    /// own position, then a loop entering the pairs inside each match):
    /// its tokens, from and into `near` and `far`.
    fn reference_tokens(
        data: &[u8],
        (start, base, row_len): (usize, usize, usize),
        near: &mut Table,
        far: &mut Table,
    ) -> Vec<u32> {
        let mut tokens = Vec::new();
        for row in (start..data.len()).step_by(row_len) {
            let row_end = (row + row_len).min(data.len());
            tokens.push(data[row] as u32);
            let mut at = row + 1;
            while at + MIN_MATCH <= row_end {
                let max = (row_end - at).min(MAX_MATCH) & !1;
                let (short, long) = keys(data, at);
                let position = (base + at) as u32;
                let near_entry = std::mem::replace(&mut near[short], position);
                let far_entry = std::mem::replace(&mut far[long], position);
                let mut best = (0, 0);
                for entry in [near_entry, far_entry] {
                    let dist = position.wrapping_sub(entry) as usize;
                    if dist <= at.min(WINDOW) {
                        let len = candidate_len(data, at - dist, at, max);
                        if len > best.0 {
                            best = (len, dist);
                        }
                    }
                }
                let (len, dist) = best;
                if len < MIN_MATCH {
                    tokens.push(PAIR | data[at] as u32 | (data[at + 1] as u32) << 8);
                    at += 2;
                    continue;
                }
                let (symbol, extra) = crate::lz77::distance_code(dist as u32);
                tokens.push(MATCH | extra << 13 | symbol << 8 | (len as u32 - 3));
                let mut inside = at + 2;
                while inside < (at + len).min(row_end - 3) {
                    let (short, long) = keys(data, inside);
                    near[short] = (base + inside) as u32;
                    far[long] = (base + inside) as u32;
                    inside += 2;
                }
                at += len;
            }
            tokens.extend(data[at..row_end].iter().map(|&byte| byte as u32));
        }
        tokens
    }

    /// The first pass enters every pair start before the parse reads its
    /// candidates: the same tokens and tables as entering them as the
    /// parse goes, on x257 rows, rows that are not, odd rows, after a
    /// window and up to the end of `data` (the first pass's slow path).
    #[test]
    fn the_first_pass_parses_as_entering_inside_matches_did() {
        let (width, height) = (203, 12);
        let row_bytes = width * 6;
        let mut raw = x257_frame(width, height);
        let mut state = 5;
        for pair in raw[row_bytes * 7..row_bytes * 9].chunks_exact_mut(2) {
            pair[1] = noise(&mut state) % 3;
        }
        let filtered = paeth(&raw, row_bytes);
        let odd: Vec<u8> = (0..1001 * 9).map(|i| (i % 13) as u8).collect();
        // A last row cut short (the parse codes whole rows, but reads to
        // the end of `data` alone there).
        let cut = filtered[..filtered.len() - 100].to_vec();
        for (data, row_len) in [
            (&filtered, row_bytes + 1),
            (&odd, 1001),
            (&cut, row_bytes + 1),
        ] {
            // From the start, and after a window of four rows at an offset.
            for (start, base) in [(0, 0), (row_len * 4, 77)] {
                let (mut near, mut far) = (empty_table(), empty_table());
                let (mut tokens, mut candidates) = (Vec::new(), Vec::new());
                let mut counts = Counts::new();
                let n = parse(
                    data,
                    start,
                    base,
                    row_len,
                    (&mut near, &mut far),
                    (&mut tokens, &mut candidates),
                    &mut counts,
                );
                let (mut near_before, mut far_before) = (empty_table(), empty_table());
                let expected = reference_tokens(
                    data,
                    (start, base, row_len),
                    &mut near_before,
                    &mut far_before,
                );
                assert_eq!(tokens[..n], expected[..], "{row_len} {start}");
                assert!(
                    near == near_before && far == far_before,
                    "{row_len} {start}"
                );
                assert!(expected.iter().filter(|&&t| t & MATCH != 0).count() > 10);
                // Rows are parsed two at a time, each lookup measuring 16
                // bytes without a branch: matches shorter than 16 bytes and
                // longer (the rare branch), and literal pairs, all occur.
                let lengths = |keep: fn(u32) -> bool| {
                    let matches = expected.iter().filter(|&&t| t & MATCH != 0);
                    matches.filter(|&&t| keep((t & 0xff) + 3)).count()
                };
                let (short, long) = (lengths(|len| len < 16), lengths(|len| len > 16));
                assert!(long > 2, "{row_len} {start}");
                if data[0] == RowFilter::Paeth as u8 {
                    assert!(short > 10, "{start}");
                    assert!(expected.iter().any(|&t| t & PAIR != 0 && t & MATCH == 0));
                }
            }
        }
    }

    #[test]
    fn distance_tables_agree_with_the_formula() {
        for dist in 1..=WINDOW {
            assert_eq!(
                distance_code(dist),
                crate::lz77::distance_code(dist as u32),
                "{dist}"
            );
        }
    }

    #[test]
    fn x257_is_every_sample_and_nothing_else() {
        assert!(is_x257(&[]));
        let frame = x257_frame(300, 7);
        assert!(is_x257(&frame));
        // One low byte off, anywhere (in the eight-byte words or the tail).
        for at in [1, 2 * 517 + 1, frame.len() - 1] {
            let mut off = frame.clone();
            off[at] ^= 1;
            assert!(!is_x257(&off), "{at}");
        }
        assert!(is_x257(&frame[..frame.len() - 2]));
    }

    #[test]
    fn round_trips_x257_and_other_rows_in_any_bands() {
        let (width, height) = (211, 40);
        let row_bytes = width * 6;
        let mut raw = x257_frame(width, height);
        let filtered = paeth(&raw, row_bytes);
        for band_rows in [1, 3, 40] {
            let stream = code(&filtered, row_bytes + 1, band_rows, None);
            assert_eq!(inflate(&stream), filtered, "bands of {band_rows} rows");
        }
        // Pairs of equal bytes make matches that Runs cannot: well under
        // the two literals a sample costs.
        let stream = code(&filtered, row_bytes + 1, 40, None);
        assert!(stream.len() < filtered.len() / 4, "{}", stream.len());
        // Rows that are not x257 (noise in the low bytes of the lower half)
        // still round-trip, with or without the window forgotten.
        let mut state = 7;
        let half = raw.len() / 2;
        for pair in raw[half..].chunks_exact_mut(2) {
            pair[1] = noise(&mut state);
        }
        let filtered = paeth(&raw, row_bytes);
        for forget_at in [None, Some(2)] {
            let stream = code(&filtered, row_bytes + 1, 10, forget_at);
            assert_eq!(inflate(&stream), filtered, "{forget_at:?}");
        }
    }

    #[test]
    fn rows_of_odd_length_and_incompressible_bands_round_trip() {
        let mut state = 99;
        // 8-bit rows of an odd length: not what the coder is for, still
        // valid (the last byte of each row is a literal of its own).
        for row_len in [2, 6, 9, 1001] {
            let data: Vec<u8> = (0..row_len * 30).map(|i| (i % 7) as u8).collect();
            assert_eq!(inflate(&code(&data, row_len, 4, None)), data, "{row_len}");
        }
        // Noise: stored, a few bytes a block over the input.
        let data: Vec<u8> = (0..1001 * 300).map(|_| noise(&mut state)).collect();
        let stream = code(&data, 1001, 100, None);
        assert_eq!(inflate(&stream), data);
        assert!(stream.len() < data.len() + 100);
    }
}
