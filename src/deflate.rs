//! bufpng's own deflate coder for filtered PNG rows ("runs" coder).
//!
//! fdeflate's idea — after a PNG filter, one pass of literals and runs is
//! enough for photos — with two changes that matter for size: Huffman codes
//! are built per block from that block's own statistics (fdeflate uses one
//! fixed table tuned for 8-bit residuals), and a run is any byte repeated,
//! coded as a distance-1 match (fdeflate only codes runs of zeros).
//! No string matching: screen content goes to zlib (see `encode.rs`).
//! Why and the measurements: docs/benchmarks.md, "Why this default".

/// Largest literal/length code: deflate's limit. Lower limits cost size
/// (every byte value needs a code, and the rare ones take code space from
/// the common ones: 13 bits cost 1.4% on photos).
const MAX_LITERAL_BITS: u8 = 15;
/// Deflate's limit for the code-length alphabet.
pub(crate) const MAX_CODE_LENGTH_BITS: u8 = 7;
/// Literal/length alphabet in use: 256 literals, end of block, 29 lengths.
const LITERAL_SYMBOLS: usize = 286;
const END_OF_BLOCK: usize = 256;
const MAX_MATCH: u32 = 258;
/// Most bytes one stored block holds (its LEN field is 16 bits).
const MAX_STORED: usize = 65535;
const MIN_MATCH: u32 = 3;
/// Input per Huffman block: big enough that the ~150-byte code header is
/// noise, small enough for codes to follow the content down a frame. Half
/// a MiB: against a quarter, the pair table is built half as often and a
/// sample of 1/16 predicts the codes as well as 1/8 did (1080p photo:
/// +0.01% in size, -9% in instructions).
pub const BLOCK_BYTES: usize = 512 * 1024;
/// The most `write_coded` takes as one block: an eighth over BLOCK_BYTES,
/// so a strip just over a block is not cut into a block and a small tail.
pub const MAX_CODED_BYTES: usize = BLOCK_BYTES + BLOCK_BYTES / 8;
/// One sampled stretch of SAMPLE_LEN bytes out of every SAMPLE_STRIDE is
/// counted to build a block's codes; every symbol also gets a count of one,
/// so bytes the sample missed still have a code.
const SAMPLE_LEN: usize = 2048;
const SAMPLE_STRIDE: usize = 32768;

pub(crate) const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
pub(crate) const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Order in which the code-length code's lengths are sent (RFC 1951 3.2.7).
pub(crate) const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// The length symbol (0-based, add 257) for each match length 0..=258.
const LENGTH_SYMBOLS: [u8; MAX_MATCH as usize + 1] = {
    let mut table = [0u8; MAX_MATCH as usize + 1];
    let mut len = MIN_MATCH as usize;
    let mut symbol = 0;
    while len <= MAX_MATCH as usize {
        while symbol + 1 < LENGTH_BASE.len() && LENGTH_BASE[symbol + 1] as usize <= len {
            symbol += 1;
        }
        table[len] = symbol as u8;
        len += 1;
    }
    table
};

/// The length symbol (0-based, add 257) for a match of `len` bytes.
#[inline(always)]
pub(crate) fn length_symbol(len: u32) -> usize {
    LENGTH_SYMBOLS[len as usize] as usize
}

/// Room kept past what `reserve` was asked for: the eight-byte store of
/// `put`, and a write or two after the last reservation (an `align`).
const SLACK: usize = 64;

/// Little-endian bit writer over a growable byte buffer. Each `put` stores
/// eight bytes unconditionally and advances by the whole bytes filled, so
/// the hot path has no branch; `reserve` keeps room for that store ahead.
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bytes of `bytes` that are final.
    len: usize,
    pending: u64,
    pending_bits: u32,
}

impl BitWriter {
    /// A writer with room for `capacity` bytes allocated but not zeroed:
    /// `reserve` zeroes room as the writes come (zeroing the whole guess
    /// up front, an eighth of the frame for screens, cost more than the
    /// output needed).
    pub fn new(capacity: usize) -> BitWriter {
        let mut bytes = Vec::with_capacity(capacity + SLACK);
        bytes.resize(SLACK, 0);
        BitWriter {
            bytes,
            len: 0,
            pending: 0,
            pending_bits: 0,
        }
    }

    /// Bytes written so far (on a byte boundary, all of the output).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.pending_bits == 0
    }

    /// Appends whole bytes; only valid on a byte boundary. Past the room
    /// already reserved they are appended, not written over zeros.
    pub fn push_bytes(&mut self, data: &[u8]) {
        debug_assert_eq!(self.pending_bits, 0);
        let end = self.len + data.len();
        if end <= self.bytes.len() {
            self.bytes[self.len..end].copy_from_slice(data);
        } else {
            // Nothing past `len` is needed: no bits are pending.
            self.bytes.truncate(self.len);
            self.bytes.extend_from_slice(data);
        }
        self.len = end;
        self.reserve(0);
    }

    /// Makes room for `more` bytes of output plus the eight-byte store.
    pub(crate) fn reserve(&mut self, more: usize) {
        let needed = self.len + more + SLACK;
        if self.bytes.len() < needed {
            // The Vec grows its allocation geometrically.
            self.bytes.resize(needed, 0);
        }
    }

    /// Writes the low `count` bits of `bits` (`count` <= 56; bits above
    /// `count` must be zero).
    pub(crate) fn put(&mut self, bits: u64, count: u32) {
        let mut cursor = self.cursor();
        cursor.put(bits, count);
        let state = cursor.state();
        self.rewind(state);
    }

    /// The writer's state detached from its Vec, for hot loops: its fields
    /// stay in registers. Hand back with `rewind(cursor.state())`.
    pub(crate) fn cursor(&mut self) -> Cursor<'_> {
        Cursor {
            bytes: &mut self.bytes,
            len: self.len,
            pending: self.pending,
            pending_bits: self.pending_bits,
        }
    }

    /// Pads with zero bits to the next byte boundary.
    pub fn align(&mut self) {
        if self.pending_bits > 0 {
            self.put(0, 8 - self.pending_bits);
        }
    }

    /// The bytes written, once aligned.
    pub fn into_bytes(mut self) -> Vec<u8> {
        debug_assert_eq!(self.pending_bits, 0);
        self.bytes.truncate(self.len);
        self.bytes
    }

    pub(crate) fn position(&self) -> (usize, u64, u32) {
        (self.len, self.pending, self.pending_bits)
    }

    pub(crate) fn rewind(&mut self, (len, pending, pending_bits): (usize, u64, u32)) {
        self.len = len;
        self.pending = pending;
        self.pending_bits = pending_bits;
    }
}

pub(crate) struct Cursor<'a> {
    bytes: &'a mut [u8],
    len: usize,
    pending: u64,
    pending_bits: u32,
}

impl Cursor<'_> {
    /// A placeholder while a cursor is moved out and back.
    fn empty() -> Cursor<'static> {
        Cursor {
            bytes: &mut [],
            len: 0,
            pending: 0,
            pending_bits: 0,
        }
    }

    /// Writes the low `count` bits of `bits` (`count` <= 56; bits above
    /// `count` must be zero). The caller reserved room.
    #[inline(always)]
    pub(crate) fn put(&mut self, bits: u64, count: u32) {
        self.pending |= bits << self.pending_bits;
        self.pending_bits += count;
        self.bytes[self.len..self.len + 8].copy_from_slice(&self.pending.to_le_bytes());
        let whole = self.pending_bits / 8;
        self.len += whole as usize;
        // At most 7 + 56 = 63 bits are pending here, so `whole` <= 7 and
        // the shift stays under 64.
        self.pending >>= whole * 8;
        self.pending_bits -= whole * 8;
    }

    pub(crate) fn state(&self) -> (usize, u64, u32) {
        (self.len, self.pending, self.pending_bits)
    }

    /// Back to bit `bit` of the output, which must not be before the last
    /// whole byte written: the bits before it in its byte are still in the
    /// buffer (every write stores the pending bits).
    fn rewind_to_bit(&mut self, bit: usize) {
        let (len, pending_bits) = (bit / 8, (bit % 8) as u32);
        self.len = len;
        self.pending = (self.bytes[len] & ((1u16 << pending_bits) - 1) as u8) as u64;
        self.pending_bits = pending_bits;
    }

    /// One literal, from codes packed as `bits | len << 16`.
    #[inline(always)]
    fn literal(&mut self, literals: &[u32; 256], byte: u8) {
        let code = literals[byte as usize];
        self.put((code & 0xffff) as u64, code >> 16);
    }

    /// Literals for `bytes`, gathered into writes of up to 56 bits.
    fn literals(&mut self, literals: &[u32; 256], bytes: &[u8]) {
        let (mut bits, mut count) = (0u64, 0u32);
        for &byte in bytes {
            let code = literals[byte as usize];
            let len = code >> 16;
            if count + len > 56 {
                self.put(bits, count);
                (bits, count) = (0, 0);
            }
            bits |= ((code & 0xffff) as u64) << count;
            count += len;
        }
        self.put(bits, count);
    }

    /// `len` more copies of `byte`, the last byte written: matches of
    /// distance 1, and literals for what is left under the 3-byte minimum.
    #[inline(always)]
    fn run(
        &mut self,
        literals: &[u32; 256],
        matches: &[(u32, u8); MAX_MATCH as usize + 1],
        byte: u8,
        len: u32,
    ) {
        // Most runs fit one match.
        if (MIN_MATCH..=MAX_MATCH).contains(&len) {
            let (bits, count) = matches[len as usize];
            return self.put(bits as u64, count as u32);
        }
        let mut literal_count = 0;
        split_run(
            len,
            |take| {
                let (bits, count) = matches[take as usize];
                self.put(bits as u64, count as u32);
            },
            || literal_count += 1,
        );
        for _ in 0..literal_count {
            self.literal(literals, byte);
        }
    }
}

/// What a scan of the data reports: literal bytes, and runs that repeat the
/// byte just before them. Implemented by the counter (statistics) and the
/// emitter (output), so both see exactly the same symbols.
trait Symbols {
    fn literal(&mut self, byte: u8);
    /// The eight bytes of `bytes` as literals. Until the next symbol, the
    /// tail of these may be taken back with `take_back`.
    fn eight_literals(&mut self, bytes: &[u8; 8]);
    /// Undoes the last `eight_literals(bytes)` from byte `keep` on: those
    /// bytes were the start of a run.
    fn take_back(&mut self, bytes: &[u8; 8], keep: usize);
    /// `len` >= 1 more copies of `byte`, which was the last byte sent.
    fn run(&mut self, byte: u8, len: u32);
}

/// Reports `data` as literals and runs, eight bytes at a time: a chunk of
/// eight bytes that repeats the byte before it extends a run, any other
/// chunk goes out as eight literals. A run also takes the equal bytes at
/// the end of the chunk before it (taken back from its literals) and at
/// the start of the chunk that ends it. Runs shorter than a chunk stay
/// literals: after a PNG filter most bytes are small residuals whose codes
/// take 1-4 bits, so such runs save little, and the eight-literal path has
/// no branch on the data; finding runs at any byte cost about 1.5x the
/// time, for files 1% larger on 1080p photos (more residuals of equal
/// value end up split between runs and literals).
fn scan(data: &[u8], symbols: &mut impl Symbols) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    symbols.literal(first);
    let mut previous = first;
    let mut run = 0u32;
    // The last chunk, when it went out through `eight_literals`.
    let mut literal_chunk: Option<&[u8; 8]> = None;
    let mut chunks = rest.chunks_exact(8);
    for chunk in &mut chunks {
        let chunk: &[u8; 8] = chunk.try_into().expect("chunks_exact(8)");
        let word = u64::from_le_bytes(*chunk);
        if word == previous as u64 * 0x0101_0101_0101_0101 {
            if let Some(last) = literal_chunk.take() {
                // Bytes 8 - equal..8 of the last chunk repeat the one
                // before them: they join the run.
                let last_word = u64::from_le_bytes(*last);
                let repeats = last_word ^ (last_word << 8);
                let equal = (repeats | 0xff).leading_zeros() / 8;
                if equal > 0 {
                    symbols.take_back(last, 8 - equal as usize);
                    run += equal;
                }
            }
            run += 8;
            continue;
        }
        if run > 0 {
            // The run goes on over the first bytes of this chunk.
            let repeats = word ^ ((word << 8) | previous as u64);
            let head = repeats.trailing_zeros() / 8;
            symbols.run(previous, run + head);
            run = 0;
            for &byte in &chunk[head as usize..] {
                symbols.literal(byte);
            }
            literal_chunk = None;
        } else {
            symbols.eight_literals(chunk);
            literal_chunk = Some(chunk);
        }
        previous = chunk[7];
    }
    scan_tail(chunks.remainder(), previous, run, symbols);
}

/// The bytes after a scanner's last whole chunk, one at a time, continuing
/// a run of `previous` that is `run` bytes long.
fn scan_tail(tail: &[u8], mut previous: u8, mut run: u32, symbols: &mut impl Symbols) {
    for &byte in tail {
        if byte == previous {
            run += 1;
        } else {
            if run > 0 {
                symbols.run(previous, run);
                run = 0;
            }
            symbols.literal(byte);
            previous = byte;
        }
    }
    if run > 0 {
        symbols.run(previous, run);
    }
}

/// Reports `data` as literals and runs. Works eight bytes at a time: XOR of
/// each byte with the one before it is zero exactly where a run continues.
/// Only runs that reach a chunk's edge are found; runs of 3-6 bytes inside
/// a chunk go out as literals, because the eight-literal path is the fast
/// one (finding them too cost twice the time for 0.3% on 8-bit photos and
/// 9% on x257 16-bit ones).
fn scan_edges(data: &[u8], symbols: &mut impl Symbols) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    symbols.literal(first);
    let mut previous = first;
    let mut run = 0u32;
    let mut chunks = rest.chunks_exact(8);
    for chunk in &mut chunks {
        let chunk: &[u8; 8] = chunk.try_into().expect("chunks_exact(8)");
        let word = u64::from_le_bytes(*chunk);
        let repeats = word ^ ((word << 8) | previous as u64);
        if repeats == 0 {
            run += 8;
            continue;
        }
        let head = repeats.trailing_zeros() / 8;
        let literals_from = if run + head >= MIN_MATCH {
            symbols.run(previous, run + head);
            head
        } else {
            for _ in 0..run {
                symbols.literal(previous);
            }
            0
        };
        let tail = repeats.leading_zeros() / 8;
        let literals_to = if tail >= MIN_MATCH { 8 - tail } else { 8 };
        if literals_from == 0 && literals_to == 8 {
            symbols.eight_literals(chunk);
        } else {
            for &byte in &chunk[literals_from as usize..literals_to as usize] {
                symbols.literal(byte);
            }
        }
        run = 8 - literals_to;
        previous = chunk[7];
    }
    scan_tail(chunks.remainder(), previous, run, symbols);
}

/// Splits a run into matches of at most 258 bytes; what is left under the
/// 3-byte minimum goes out as literals.
#[inline(always)]
fn split_run(mut len: u32, mut matched: impl FnMut(u32), mut literal: impl FnMut()) {
    while len >= MIN_MATCH {
        // Never leave a 1-2 byte tail after a long match when a shorter
        // match can take it.
        let take = if len > MAX_MATCH && len < MAX_MATCH + MIN_MATCH {
            len - MIN_MATCH
        } else {
            len.min(MAX_MATCH)
        };
        matched(take);
        len -= take;
    }
    for _ in 0..len {
        literal();
    }
}

struct Counter {
    counts: [u32; LITERAL_SYMBOLS],
    /// `eight_literals` counts byte i of a chunk in lane i % 4, added into
    /// `counts` by `fold`: with one table, runs of equal residuals made each
    /// increment wait for the last one's store (the sample's counting took
    /// 5% of a BGRA photo's encode time, measured with perf).
    lanes: [[u32; 256]; 4],
}

impl Counter {
    fn new() -> Counter {
        Counter {
            counts: [1; LITERAL_SYMBOLS],
            lanes: [[0; 256]; 4],
        }
    }

    /// Adds the lanes into `counts`.
    fn fold(&mut self) {
        for lane in &mut self.lanes {
            for (count, lane) in self.counts.iter_mut().zip(lane.iter_mut()) {
                *count += std::mem::take(lane);
            }
        }
    }
}

impl Symbols for Counter {
    #[inline(always)]
    fn literal(&mut self, byte: u8) {
        self.counts[byte as usize] += 1;
    }

    #[inline(always)]
    fn eight_literals(&mut self, bytes: &[u8; 8]) {
        for (i, &byte) in bytes.iter().enumerate() {
            self.lanes[i % 4][byte as usize] += 1;
        }
    }

    fn take_back(&mut self, bytes: &[u8; 8], keep: usize) {
        for (i, &byte) in bytes.iter().enumerate().skip(keep) {
            self.lanes[i % 4][byte as usize] -= 1;
        }
    }

    fn run(&mut self, byte: u8, len: u32) {
        if (MIN_MATCH..=MAX_MATCH).contains(&len) {
            self.counts[257 + length_symbol(len)] += 1;
            return;
        }
        let counts = &mut self.counts;
        let mut literals = 0;
        split_run(
            len,
            |take| counts[257 + length_symbol(take)] += 1,
            || literals += 1,
        );
        self.counts[byte as usize] += literals;
    }
}

/// Canonical Huffman code for one symbol, bits reversed for LSB-first output.
#[derive(Clone, Copy, Default)]
pub(crate) struct Code {
    pub(crate) bits: u16,
    pub(crate) len: u8,
}

/// Codes for every pair of literal bytes, indexed by the two bytes as a
/// little-endian u16: the first byte's code, then the second's, in the low
/// `PAIR_BITS` bits, and their total length above. Half the table lookups
/// and shifts per byte of the one-byte table; 256 KiB, built per block in
/// ~1% of the block's time, and the residuals of a filtered image touch
/// only a few lines of it. A pair whose codes are longer than `PAIR_BITS`
/// (two rare bytes) has the length `TOO_LONG`, which sends its chunk down
/// the byte-at-a-time path.
type PairTable = [u32; 1 << 16];
const PAIR_BITS: u32 = 26;
const TOO_LONG: u32 = 63;
const _: () = assert!(TOO_LONG << PAIR_BITS >> PAIR_BITS == TOO_LONG);

std::thread_local! {
    /// One pair table per thread, reused from block to block.
    static PAIRS: std::cell::RefCell<Box<PairTable>> =
        std::cell::RefCell::new(Box::new([0; 1 << 16]));
}

/// Fills `pairs` from the packed one-byte codes (`bits | len << 16`).
fn fill_pairs(literals: &[u32; 256], pairs: &mut PairTable) {
    // second * 2^len(first) rather than a shift by each lane's length, and
    // a select rather than a branch for the rare pairs, so the inner loop
    // vectorises. Both factors fit 16 bits (codes of up to 15), which
    // baseline x86-64 multiplies 8 lanes at a time; it has no 32-bit lane
    // multiply.
    let mut low = [0u32; 256];
    let mut scale = [0u16; 256];
    let mut lens = [0u32; 256];
    for (i, &code) in literals.iter().enumerate() {
        lens[i] = code >> 16;
        low[i] = (code & 0xffff) | lens[i] << PAIR_BITS;
        scale[i] = 1 << lens[i];
    }
    let longest = lens.iter().copied().max().unwrap_or(0);
    for (row, &second) in pairs.chunks_exact_mut(256).zip(literals) {
        let (bits, len) = ((second & 0xffff) as u16, second >> 16);
        let high = len << PAIR_BITS;
        let pair = |low: u32, scale: u16| {
            // Both codes fit: no overflow, the sum is below 2^32.
            low.wrapping_add(u32::from(bits) * u32::from(scale))
                .wrapping_add(high)
        };
        let entries = row.iter_mut().zip(&low).zip(&scale);
        if longest + len <= PAIR_BITS {
            // No pair in this row is too long (most rows).
            for ((entry, &low), &scale) in entries {
                *entry = pair(low, scale);
            }
            continue;
        }
        for (((entry, &low), &scale), &first_len) in entries.zip(&lens) {
            *entry = if first_len + len > PAIR_BITS {
                TOO_LONG << PAIR_BITS
            } else {
                pair(low, scale)
            };
        }
    }
}

/// The codes of a chunk's eight literal bytes (`word`, little-endian) from
/// four pair lookups: the first four bytes' bits and count, then the last
/// four's. Totals over 56 bits (long codes, or a pair `TOO_LONG`) go to
/// `long_chunk`.
#[inline(always)]
fn chunk_codes(pairs: &PairTable, word: u64) -> ((u64, u32), (u64, u32)) {
    let pair = |at: u32| pairs[(word >> at) as u16 as usize];
    let four = |first: u32| {
        let (a, b) = (pair(first), pair(first + 16));
        let count = a >> PAIR_BITS;
        let mask = (1 << PAIR_BITS) - 1;
        let bits = (a & mask) as u64 | ((b & mask) as u64) << count;
        (bits, count + (b >> PAIR_BITS))
    };
    (four(0), four(32))
}

struct Emitter<'w> {
    out: Cursor<'w>,
    /// Where the last `eight_literals` started, in bits, for `take_back`.
    before_eight: usize,
    /// Literal codes packed as `bits | len << 16`: one load per byte.
    literals: [u32; 256],
    /// None for small blocks (`PAIRS_MIN_BYTES`): one byte at a time.
    pairs: Option<&'w PairTable>,
    /// Bits for a whole match of each length 3..=258: length code, extra
    /// bits and the one-bit distance code, packed; and their count.
    matches: Box<[(u32, u8); MAX_MATCH as usize + 1]>,
}

impl Symbols for Emitter<'_> {
    #[inline(always)]
    fn literal(&mut self, byte: u8) {
        self.out.literal(&self.literals, byte);
    }

    fn take_back(&mut self, bytes: &[u8; 8], keep: usize) {
        self.out.rewind_to_bit(self.before_eight);
        for &byte in &bytes[..keep] {
            self.literal(byte);
        }
    }

    #[inline(always)]
    fn eight_literals(&mut self, bytes: &[u8; 8]) {
        self.before_eight = self.out.len * 8 + self.out.pending_bits as usize;
        let Some(pairs) = self.pairs else {
            for &byte in bytes {
                self.literal(byte);
            }
            return;
        };
        let word = u64::from_le_bytes(*bytes);
        let ((low, low_count), (high, high_count)) = chunk_codes(pairs, word);
        // Photo residuals take ~2-4 bits a byte: eight usually fit one write.
        if low_count + high_count <= 56 {
            self.out
                .put(low | high << low_count, low_count + high_count);
        } else {
            let out = std::mem::replace(&mut self.out, Cursor::empty());
            self.out = long_chunk(
                out,
                &self.literals,
                word,
                (low, low_count),
                (high, high_count),
            );
        }
    }

    #[inline(always)]
    fn run(&mut self, byte: u8, len: u32) {
        self.out.run(&self.literals, &self.matches, byte, len);
    }
}

/// `scan(data, emitter)` written out as one loop, with the writer's state
/// in locals the compiler keeps in registers (through the trait it lived
/// in memory, stored and reloaded around every chunk: a third of the
/// instructions). Rare steps (a run starting or ending) are out-of-line
/// functions that take the writer and hand it back. The symbols are
/// exactly `scan`'s, which the counter sees: a test checks the bits match.
#[inline(never)]
fn emit_chunks(data: &[u8], emitter: &mut Emitter, pairs: &PairTable) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    emitter.literal(first);
    let (literals, matches) = (&emitter.literals, &*emitter.matches);
    let mut out = Cursor {
        bytes: &mut *emitter.out.bytes,
        len: emitter.out.len,
        pending: emitter.out.pending,
        pending_bits: emitter.out.pending_bits,
    };
    let mut previous = first;
    let mut run = 0u32;
    // The last chunk, when it went out as eight literals.
    let mut literal_chunk: Option<u64> = None;
    let mut chunks = rest.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)"));
        if word == previous as u64 * 0x0101_0101_0101_0101 {
            if let Some(last) = literal_chunk.take() {
                let equal;
                (out, equal) = take_back_tail(out, literals, last);
                run += equal;
            }
            run += 8;
            continue;
        }
        if run > 0 {
            out = end_run(out, literals, matches, pairs, previous, run, word);
            run = 0;
            literal_chunk = None;
        } else {
            let ((low, low_count), (high, high_count)) = chunk_codes(pairs, word);
            if low_count + high_count <= 56 {
                out.put(low | high << low_count, low_count + high_count);
            } else {
                out = long_chunk(out, literals, word, (low, low_count), (high, high_count));
            }
            literal_chunk = Some(word);
        }
        previous = (word >> 56) as u8;
    }
    emitter.out.len = out.len;
    emitter.out.pending = out.pending;
    emitter.out.pending_bits = out.pending_bits;
    scan_tail(chunks.remainder(), previous, run, emitter);
}

/// `emit_chunks`: a run starts after the literal chunk `last`, the last
/// thing written: its equal tail bytes are taken back to join the run.
/// Returns the writer and how many bytes joined.
#[cold]
#[inline(never)]
fn take_back_tail<'w>(mut out: Cursor<'w>, literals: &[u32; 256], last: u64) -> (Cursor<'w>, u32) {
    let equal = ((last ^ (last << 8)) | 0xff).leading_zeros() / 8;
    if equal > 0 {
        // The chunk's codes are the last bits written, byte by byte (the
        // pair table holds the same codes): back over the last `equal`
        // bytes' codes, and the ones before them stay as written.
        let bytes = last.to_le_bytes();
        let tail: usize = bytes[8 - equal as usize..]
            .iter()
            .map(|&b| (literals[b as usize] >> 16) as usize)
            .sum();
        out.rewind_to_bit(out.len * 8 + out.pending_bits as usize - tail);
    }
    (out, equal)
}

/// `emit_chunks`: the run of `run` copies of `previous` goes on over the
/// first bytes of `chunk`; the rest of the chunk are literals.
#[cold]
#[inline(never)]
fn end_run<'w>(
    mut out: Cursor<'w>,
    literals: &[u32; 256],
    matches: &[(u32, u8); MAX_MATCH as usize + 1],
    pairs: &PairTable,
    previous: u8,
    run: u32,
    word: u64,
) -> Cursor<'w> {
    let head = (word ^ ((word << 8) | previous as u64)).trailing_zeros() / 8;
    out.run(literals, matches, previous, run + head);
    // The chunk's codes from the pair table, less its first `head` bytes'
    // (copies of `previous`), which the run took: one write, where a byte
    // at a time cost a third of a run's instructions.
    let ((low, low_count), (high, high_count)) = chunk_codes(pairs, word);
    if low_count + high_count <= 56 {
        let skip = head * (literals[previous as usize] >> 16);
        out.put(
            (low | high << low_count) >> skip,
            low_count + high_count - skip,
        );
    } else {
        out.literals(literals, &word.to_le_bytes()[head as usize..]);
    }
    out
}

/// `emit_chunks`: a chunk whose codes take over 56 bits.
#[cold]
#[inline(never)]
fn long_chunk<'w>(
    mut out: Cursor<'w>,
    literals: &[u32; 256],
    word: u64,
    (low, low_count): (u64, u32),
    (high, high_count): (u64, u32),
) -> Cursor<'w> {
    // A pair marked TOO_LONG makes its half's count over 56.
    if low_count <= 56 && high_count <= 56 {
        out.put(low, low_count);
        out.put(high, high_count);
    } else {
        out.literals(literals, &word.to_le_bytes());
    }
    out
}

/// The largest alphabet `code_lengths` takes: deflate's literal/length
/// alphabet (the distance and code-length alphabets are smaller).
const MAX_SYMBOLS: usize = LITERAL_SYMBOLS;
/// A symbol in the low bits of a sort key, its weight above: one u64
/// compare orders by weight, then symbol, as a (weight, symbol) pair would.
const SYMBOL_BITS: u32 = 9;
const _: () = assert!(MAX_SYMBOLS <= 1 << SYMBOL_BITS);

/// Huffman code lengths for `counts`, none longer than `limit`. Zero counts
/// get no code. When the optimal code is too deep, the lengths over the
/// limit are cut to it and the code made complete again by lengthening
/// the longest codes under the limit (as zlib and miniz do), then the
/// lengths are dealt out again from the most frequent symbol: close to
/// optimal, where halving every count until the code fits cost 1.4% on
/// photos at a 13-bit limit.
pub(crate) fn code_lengths(counts: &[u32], limit: u8) -> Vec<u8> {
    let mut lengths = unlimited_code_lengths(counts);
    if lengths.iter().all(|&len| len <= limit) {
        return lengths;
    }
    let limit = limit as usize;
    let per_length = codes_per_length_within(&lengths, limit);
    // Most frequent first; ties by symbol (keys are distinct, so the
    // sort's stability does not matter).
    let mut symbols = [0u64; MAX_SYMBOLS];
    let mut coded = 0;
    for (symbol, (&count, &len)) in counts.iter().zip(&lengths).enumerate() {
        if len > 0 {
            symbols[coded] = ((u32::MAX - count) as u64) << SYMBOL_BITS | symbol as u64;
            coded += 1;
        }
    }
    let symbols = &mut symbols[..coded];
    symbols.sort_unstable();
    let mut next = symbols
        .iter()
        .map(|&key| (key & ((1 << SYMBOL_BITS) - 1)) as usize);
    for (len, &count) in per_length.iter().enumerate().take(limit + 1) {
        for symbol in next.by_ref().take(count as usize) {
            lengths[symbol] = len as u8;
        }
    }
    lengths
}

/// How many codes of each length a complete code within `limit` bits
/// has, from optimal `lengths` some of which are over it: those are cut to
/// the limit, then the Kraft sum is brought back to one.
fn codes_per_length_within(lengths: &[u8], limit: usize) -> [u64; 16] {
    let mut per_length = [0u64; 16];
    for &len in lengths.iter().filter(|&&len| len > 0) {
        per_length[(len as usize).min(limit)] += 1;
    }
    // Kraft sum in units of 2^-limit; too large by the cut codes.
    let mut total: u64 = (1..=limit)
        .map(|len| per_length[len] << (limit - len))
        .sum();
    while total > 1 << limit {
        // Make one code of the longest length one bit longer... by moving
        // a shorter leaf down a level: it and a limit-length leaf become
        // two leaves one level below it.
        per_length[limit] -= 1;
        let shorter = (1..limit).rev().find(|&len| per_length[len] > 0);
        let len = shorter.expect("a complete code over the limit has a shorter code");
        per_length[len] -= 1;
        per_length[len + 1] += 2;
        total -= 1;
    }
    per_length
}

/// Optimal (Huffman) code lengths by the two-queue method on leaves sorted
/// by (count, symbol), a leaf taken before an internal node of the same
/// weight. Fixed-size arrays on the stack: a block's codes are built in
/// three calls, and the allocations and pair sorts of a Vec version were
/// 2-3% of a screen's encode.
fn unlimited_code_lengths(counts: &[u32]) -> Vec<u8> {
    assert!(
        counts.len() <= MAX_SYMBOLS,
        "bufpng internal error: alphabet size"
    );
    let mut lengths = vec![0u8; counts.len()];
    let mut leaves = [0u64; MAX_SYMBOLS];
    let mut n = 0;
    for (symbol, &count) in counts.iter().enumerate() {
        leaves[n] = (count as u64) << SYMBOL_BITS | symbol as u64;
        n += (count > 0) as usize;
    }
    let leaves = &mut leaves[..n];
    let symbol = |key: u64| (key & ((1 << SYMBOL_BITS) - 1)) as usize;
    match n {
        0 => return lengths,
        1 => {
            lengths[symbol(leaves[0])] = 1;
            return lengths;
        }
        _ => {}
    }
    leaves.sort_unstable();
    // Nodes 0..n are the leaves, n..2n-1 the internal nodes in creation
    // order (internal node i is node n + i); a parent always has a larger
    // index than its children.
    let mut internal = [0u64; MAX_SYMBOLS];
    let mut parent = [0u16; 2 * MAX_SYMBOLS];
    let (mut next_leaf, mut next_internal) = (0, 0);
    for node in 0..n - 1 {
        let mut weight = 0;
        for _ in 0..2 {
            let take_leaf = next_leaf < n
                && (next_internal >= node
                    || leaves[next_leaf] >> SYMBOL_BITS <= internal[next_internal]);
            if take_leaf {
                weight += leaves[next_leaf] >> SYMBOL_BITS;
                parent[next_leaf] = (n + node) as u16;
                next_leaf += 1;
            } else {
                weight += internal[next_internal];
                parent[n + next_internal] = (n + node) as u16;
                next_internal += 1;
            }
        }
        internal[node] = weight;
    }
    let mut depth = [0u8; 2 * MAX_SYMBOLS];
    for node in (0..2 * n - 2).rev() {
        depth[node] = depth[parent[node] as usize] + 1;
    }
    for (leaf, &key) in leaves.iter().enumerate() {
        lengths[symbol(key)] = depth[leaf];
    }
    lengths
}

/// Canonical codes for `lengths` (RFC 1951 3.2.2), bit-reversed.
pub(crate) fn canonical_codes(lengths: &[u8]) -> Vec<Code> {
    let mut per_length = [0u16; 16];
    for &len in lengths {
        per_length[len as usize] += 1;
    }
    per_length[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for bits in 1..16 {
        code = (code + per_length[bits - 1]) << 1;
        next[bits] = code;
    }
    lengths
        .iter()
        .map(|&len| {
            if len == 0 {
                return Code::default();
            }
            let code = next[len as usize];
            next[len as usize] += 1;
            Code {
                bits: code.reverse_bits() >> (16 - len as u32),
                len,
            }
        })
        .collect()
}

/// How a block is cut into literals and runs: `scan` or `scan_edges`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scanner {
    Chunks,
    Edges,
}

impl Scanner {
    fn run(self, data: &[u8], symbols: &mut impl Symbols) {
        match self {
            Scanner::Chunks => scan(data, symbols),
            Scanner::Edges => scan_edges(data, symbols),
        }
    }
}

/// The sampled stretches of `data`: all of it when it is small.
fn sample(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (stride, len) = match data.len() <= 2 * SAMPLE_STRIDE {
        true => (data.len().max(1), data.len()),
        false => (SAMPLE_STRIDE, SAMPLE_LEN),
    };
    (0..data.len())
        .step_by(stride)
        .map(move |start| &data[start..(start + len).min(data.len())])
}

/// Counts the symbols `scanner` finds in a sample of `data` (every symbol
/// at least once); returns the counter and how many bytes were scanned.
fn sample_counts(data: &[u8], scanner: Scanner) -> (Counter, usize) {
    let mut counter = Counter::new();
    let mut sampled = 0;
    for piece in sample(data) {
        scanner.run(piece, &mut counter);
        sampled += piece.len();
    }
    counter.fold();
    (counter, sampled)
}

/// Which share of the sample's bytes equal the byte before them: 0.43 on
/// Paeth residuals of 1080p photos, 0.72 on their x257 16-bit form, 0.9 on
/// screens.
fn equal_share(data: &[u8]) -> f64 {
    let (mut equal, mut total) = (0u64, 0u64);
    for piece in sample(data) {
        let next = piece.get(1..).unwrap_or_default();
        // u32 lanes: counting into usize widened every byte compare to
        // 64 bits.
        let pairs = piece.iter().zip(next);
        equal += pairs.map(|(a, b)| u32::from(a == b)).sum::<u32>() as u64;
        total += piece.len() as u64;
    }
    equal as f64 / total.max(1) as f64
}

/// Above this share of equal neighbours, both scanners are tried on the
/// sample and the one predicting the smaller block is used.
const EDGES_WORTH_TRYING: f64 = 0.55;

/// Code lengths for a sample's counts, and the bits the sample takes.
fn lengths_and_bits(counter: &Counter) -> (Vec<u8>, u64) {
    let lengths = code_lengths(&counter.counts, MAX_LITERAL_BITS);
    let bits = (counter.counts.iter().zip(&lengths).enumerate())
        .map(|(symbol, (&count, &len))| {
            let extra = match symbol.checked_sub(257) {
                Some(length) => LENGTH_EXTRA[length] as u64 + 1,
                None => 0,
            };
            count as u64 * (len as u64 + extra)
        })
        .sum();
    (lengths, bits)
}

/// The bytes `write_coded` would take for `data` (filtered rows), as it
/// predicts them from a sample's symbol counts, without coding anything.
pub fn estimated_size(data: &[u8]) -> usize {
    let (counter, sampled) = sample_counts(data, Scanner::Chunks);
    let (_, bits) = lengths_and_bits(&counter);
    (bits as f64 / 8.0 * data.len() as f64 / sampled.max(1) as f64) as usize
}

/// Appends `data` as one or more deflate blocks to `out`; `last` marks the
/// final block of the stream. Stored blocks are used when the sample
/// predicts no saving, or when coding turned out larger than storing.
pub fn write_blocks(data: &[u8], last: bool, out: &mut BitWriter) {
    if data.is_empty() {
        return write_stored(data, last, out);
    }
    let mut blocks = data.chunks(BLOCK_BYTES).peekable();
    while let Some(block) = blocks.next() {
        let last_block = last && blocks.peek().is_none();
        write_block(block, last_block, out);
    }
}

/// Bytes a stored encoding of `len` bytes takes, headers included (an upper
/// bound: up to one byte of alignment padding).
pub(crate) fn stored_size(len: usize) -> usize {
    len + 5 * len.div_ceil(MAX_STORED).max(1) + 1
}

/// Storing wins unless coding is predicted to save at least this fraction.
const MIN_SAVING: f64 = 0.02;

fn write_block(data: &[u8], last: bool, out: &mut BitWriter) {
    if !write_coded(data, last, out) {
        write_stored(data, last, out);
    }
}

/// Codes `data` (at most `MAX_CODED_BYTES`) as one Huffman block and returns
/// true, or writes nothing and returns false when storing would be about as
/// small: the sample predicts under `MIN_SAVING`, or coding came out larger
/// than storing. The caller then stores the block, and may store different
/// bytes (rows filtered with None, which decoders only copy).
pub fn write_coded(data: &[u8], last: bool, out: &mut BitWriter) -> bool {
    debug_assert!(!data.is_empty() && data.len() <= MAX_CODED_BYTES);
    let (counter, sampled) = sample_counts(data, Scanner::Chunks);
    let (mut lengths, mut sample_bits) = lengths_and_bits(&counter);
    let mut scanner = Scanner::Chunks;
    if equal_share(data) > EDGES_WORTH_TRYING {
        let (edges, _) = sample_counts(data, Scanner::Edges);
        let (edge_lengths, edge_bits) = lengths_and_bits(&edges);
        if edge_bits < sample_bits {
            (lengths, sample_bits, scanner) = (edge_lengths, edge_bits, Scanner::Edges);
        }
    }
    let estimate = sample_bits as f64 / 8.0 * data.len() as f64 / sampled as f64;
    if estimate > data.len() as f64 * (1.0 - MIN_SAVING) {
        return false;
    }

    let codes = canonical_codes(&lengths);
    let start = out.position();
    out.reserve(data.len() * MAX_LITERAL_BITS as usize / 8 + 1024);
    write_dynamic_header(&lengths, last, out);
    emit(
        &codes,
        out,
        data.len() >= PAIRS_MIN_BYTES,
        |emitter| match scanner {
            Scanner::Chunks => match emitter.pairs {
                Some(pairs) => emit_chunks(data, emitter, pairs),
                None => scan(data, emitter),
            },
            Scanner::Edges => scan_edges(data, emitter),
        },
    );
    if out.position().0 - start.0 > stored_size(data.len()) {
        out.rewind(start);
        return false;
    }
    true
}

/// Blocks smaller than this code a byte at a time: filling the 64 Ki-entry
/// pair table costs about what pairs save on 64 KiB, and on a 32x32 frame
/// it was most of the call (1.4x OpenCV's time per call with it).
const PAIRS_MIN_BYTES: usize = 64 << 10;

/// Writes a block's symbols with `codes` (literal/length codes) through
/// `scan_with` and an emitter (with the pair table when `with_pairs`), then
/// the end of block.
fn emit(
    codes: &[Code],
    out: &mut BitWriter,
    with_pairs: bool,
    scan_with: impl FnOnce(&mut Emitter),
) {
    let mut literals = [0u32; 256];
    for (packed, code) in literals.iter_mut().zip(codes) {
        *packed = code.bits as u32 | (code.len as u32) << 16;
    }
    let mut matches = Box::new([(0u32, 0u8); MAX_MATCH as usize + 1]);
    for len in MIN_MATCH..=MAX_MATCH {
        let symbol = length_symbol(len);
        let code = codes[257 + symbol];
        let extra = len - LENGTH_BASE[symbol] as u32;
        // Distance code 0 (distance 1) is the one-bit code 0: nothing to OR in.
        matches[len as usize] = (
            code.bits as u32 | (extra << code.len),
            code.len + LENGTH_EXTRA[symbol] + 1,
        );
    }
    let run = |pairs: Option<&PairTable>, out: &mut BitWriter| {
        let mut emitter = Emitter {
            before_eight: 0,
            out: out.cursor(),
            literals,
            pairs,
            matches,
        };
        scan_with(&mut emitter);
        let end = codes[END_OF_BLOCK];
        emitter.out.put(end.bits as u64, end.len as u32);
        let state = emitter.out.state();
        out.rewind(state);
    };
    if with_pairs {
        PAIRS.with_borrow_mut(|pairs| {
            fill_pairs(&literals, pairs);
            run(Some(pairs), out);
        });
    } else {
        run(None, out);
    }
}

/// Block header of a dynamic-Huffman block: 286 literal/length codes and two
/// one-bit distance codes (only distance 1 is used), the code lengths sent
/// one symbol each (no run-length coding of lengths: ~150 bytes a block).
fn write_dynamic_header(literal_lengths: &[u8], last: bool, out: &mut BitWriter) {
    const DISTANCE_LENGTHS: [u8; 2] = [1, 1];
    let all_lengths = || literal_lengths.iter().chain(&DISTANCE_LENGTHS);
    let mut counts = [0u32; 19];
    for &len in all_lengths() {
        counts[len as usize] += 1;
    }
    let length_lengths = code_lengths(&counts, MAX_CODE_LENGTH_BITS);
    let length_codes = canonical_codes(&length_lengths);
    out.put(last as u64 | (2 << 1), 3);
    out.put((LITERAL_SYMBOLS - 257) as u64, 5);
    out.put((DISTANCE_LENGTHS.len() - 1) as u64, 5);
    out.put((CODE_LENGTH_ORDER.len() - 4) as u64, 4);
    for &symbol in &CODE_LENGTH_ORDER {
        out.put(length_lengths[symbol] as u64, 3);
    }
    for &len in all_lengths() {
        let code = length_codes[len as usize];
        out.put(code.bits as u64, code.len as u32);
    }
}

/// Stored blocks: header bits, alignment, then LEN/NLEN and the bytes.
pub fn write_stored(data: &[u8], last: bool, out: &mut BitWriter) {
    // No data is still one (empty) block: a sync flush, or an empty end.
    let blocks = data.len().div_ceil(MAX_STORED).max(1);
    for block in 0..blocks {
        let piece = &data[block * MAX_STORED..((block + 1) * MAX_STORED).min(data.len())];
        out.reserve(piece.len() + 16);
        out.put((last && block + 1 == blocks) as u64, 3);
        out.align();
        let len = piece.len() as u16;
        out.push_bytes(&len.to_le_bytes());
        out.push_bytes(&(!len).to_le_bytes());
        out.push_bytes(piece);
    }
}

/// Ends a stream piece that is not the last on a byte boundary with an empty
/// stored block (a zlib "sync flush"), so pieces coded separately can be
/// concatenated.
pub fn sync_flush(out: &mut BitWriter) {
    write_stored(&[], false, out);
}

/// Adler-32 of `data`, continuing from `adler` (1 to start).
pub fn adler32(adler: u32, data: &[u8]) -> u32 {
    let mut hasher = simd_adler32::Adler32::from_checksum(adler);
    hasher.write(data);
    hasher.finish()
}

/// Adler-32 of A followed by B from the two checksums and B's length
/// (zlib's adler32_combine).
pub fn adler32_combine(first: u32, second: u32, second_len: usize) -> u32 {
    const BASE: u64 = 65521;
    let rem = second_len as u64 % BASE;
    let (first, second) = (first as u64, second as u64);
    let mut sum1 = first & 0xffff;
    let mut sum2 = (rem * sum1) % BASE;
    sum1 += (second & 0xffff) + BASE - 1;
    sum2 += (first >> 16) + (second >> 16) + BASE - rem;
    sum1 %= BASE;
    sum2 %= BASE;
    (sum1 | (sum2 << 16)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete zlib stream of `data` made with this coder.
    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut out = BitWriter::new(data.len());
        out.push_bytes(&[0x78, 0x01]);
        write_blocks(data, true, &mut out);
        out.align();
        out.push_bytes(&adler32(1, data).to_be_bytes());
        out.into_bytes()
    }

    fn inflate(stream: &[u8], len: usize) -> Vec<u8> {
        let mut back = vec![0u8; len + 16];
        let (got, status) = zlib_rs::decompress_slice(&mut back, stream, Default::default());
        assert_eq!(status, zlib_rs::ReturnCode::Ok, "inflate failed");
        got.to_vec()
    }

    fn round_trip(data: &[u8]) {
        let stream = zlib(data);
        assert_eq!(inflate(&stream, data.len()), data);
    }

    fn noise(len: usize, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..len)
            .map(|_| {
                crate::xorshift(&mut state);
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn bit_writer_packs_lsb_first_with_writes_of_up_to_56_bits() {
        let mut out = BitWriter::new(0);
        let mut expected_bits = Vec::new();
        let mut state = 12345u64;
        for i in 0..2000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Every count 1..=56, often right after 7 pending bits.
            let count = if i % 3 == 0 {
                56
            } else {
                (state >> 58) as u32 % 56 + 1
            };
            let bits = (state >> 3) & ((1u64 << count) - 1);
            out.reserve(8);
            out.put(bits, count);
            expected_bits.extend((0..count).map(|b| (bits >> b) & 1 == 1));
        }
        out.align();
        let mut expected = vec![0u8; expected_bits.len().div_ceil(8)];
        for (i, &bit) in expected_bits.iter().enumerate() {
            expected[i / 8] |= (bit as u8) << (i % 8);
        }
        assert_eq!(out.into_bytes(), expected);
    }

    #[test]
    fn pushed_bytes_land_after_the_bits_inside_and_past_the_reserved_room() {
        // Pushes of every size, some into room reserved (zeroed) ahead,
        // some past it (appended), between runs of bits: the bytes must
        // come out in order whatever the writer held past its length.
        for reserved in [0usize, 7, 64, 1000] {
            let mut out = BitWriter::new(reserved / 2);
            let mut expected = Vec::new();
            for i in 0..200usize {
                out.reserve(reserved);
                out.put(0b101, 3);
                out.align();
                expected.push(0b101);
                let piece: Vec<u8> = (0..i * 7 % 150).map(|b| (b * 31 + i) as u8).collect();
                out.push_bytes(&piece);
                expected.extend_from_slice(&piece);
            }
            assert!(out.into_bytes() == expected, "{reserved}");
        }
    }

    #[test]
    fn length_symbols_follow_rfc_1951() {
        for len in MIN_MATCH..=MAX_MATCH {
            let symbol = length_symbol(len);
            let base = LENGTH_BASE[symbol] as u32;
            assert!(
                base <= len && len - base < 1 << LENGTH_EXTRA[symbol],
                "length {len}"
            );
        }
        assert_eq!(length_symbol(258), 28);
        assert_eq!(length_symbol(257), 27);
    }

    #[test]
    fn round_trips_edge_cases() {
        round_trip(&[]);
        round_trip(&[7]);
        for len in 0..40 {
            round_trip(&vec![0; len]);
            round_trip(&vec![200; len]);
            round_trip(&noise(len, len as u32));
        }
    }

    #[test]
    fn round_trips_runs_of_every_length_around_the_match_limits() {
        for len in [
            1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 257, 258, 259, 260, 261, 516, 517, 1000,
        ] {
            let mut data = noise(50, len);
            data.extend(std::iter::repeat_n(42u8, len as usize));
            data.extend(noise(13, len + 1));
            data.extend(std::iter::repeat_n(0u8, len as usize));
            round_trip(&data);
        }
    }

    #[test]
    fn round_trips_large_mixed_data_across_blocks() {
        let mut data = Vec::new();
        for i in 0..(3 * BLOCK_BYTES / 1000) {
            let piece = noise(600, i as u32);
            data.extend(piece.iter().map(|b| b % 7));
            data.extend(std::iter::repeat_n((i % 5) as u8, 400));
        }
        data.extend(noise(BLOCK_BYTES + 77, 99));
        round_trip(&data);
        // Noise cannot shrink: it is stored, with only block overhead.
        let random = noise(BLOCK_BYTES * 2, 5);
        assert!(zlib(&random).len() <= stored_size(random.len()) + 6 + 16);
    }

    /// `code_lengths` as it was with Vecs and (weight, symbol) pairs: the
    /// stack-array version must give the same lengths, ties included, or
    /// files change.
    fn reference_code_lengths(counts: &[u32], limit: u8) -> Vec<u8> {
        let weights: Vec<u64> = counts.iter().map(|&c| c as u64).collect();
        let mut lengths = reference_unlimited(&weights);
        if lengths.iter().all(|&len| len <= limit) {
            return lengths;
        }
        let limit = limit as usize;
        // The length repair is shared (it did not change); the leaves'
        // sort and the tree are the old ones.
        let per_length = codes_per_length_within(&lengths, limit);
        let mut symbols: Vec<usize> = (0..counts.len()).filter(|&s| lengths[s] > 0).collect();
        // Most frequent first; ties by symbol, so the code does not depend on
        // the sort's stability.
        symbols.sort_unstable_by_key(|&s| (std::cmp::Reverse(counts[s]), s));
        let mut next = symbols.into_iter();
        for (len, &count) in per_length.iter().enumerate() {
            for symbol in next.by_ref().take(count as usize) {
                lengths[symbol] = len as u8;
            }
        }
        lengths
    }

    /// Optimal (Huffman) code lengths by the two-queue method on sorted leaves.
    fn reference_unlimited(weights: &[u64]) -> Vec<u8> {
        let mut lengths = vec![0u8; weights.len()];
        let mut leaves: Vec<(u64, usize)> = weights
            .iter()
            .enumerate()
            .filter(|(_, &w)| w > 0)
            .map(|(symbol, &w)| (w, symbol))
            .collect();
        match leaves.len() {
            0 => return lengths,
            1 => {
                lengths[leaves[0].1] = 1;
                return lengths;
            }
            _ => {}
        }
        leaves.sort_unstable();
        let n = leaves.len();
        // Nodes 0..n are the leaves, n..2n-1 the internal nodes in creation
        // order; a parent always has a larger index than its children.
        let mut weight: Vec<u64> = leaves.iter().map(|&(w, _)| w).collect();
        weight.resize(2 * n - 1, 0);
        let mut parent = vec![0usize; 2 * n - 1];
        let (mut next_leaf, mut next_internal) = (0, n);
        for node in n..2 * n - 1 {
            for _ in 0..2 {
                let take_leaf = next_leaf < n
                    && (next_internal >= node || weight[next_leaf] <= weight[next_internal]);
                let child = if take_leaf {
                    next_leaf += 1;
                    next_leaf - 1
                } else {
                    next_internal += 1;
                    next_internal - 1
                };
                weight[node] += weight[child];
                parent[child] = node;
            }
        }
        let mut depth = vec![0u8; 2 * n - 1];
        for node in (0..2 * n - 2).rev() {
            depth[node] = depth[parent[node]] + 1;
        }
        for (leaf, &(_, symbol)) in leaves.iter().enumerate() {
            lengths[symbol] = depth[leaf];
        }
        lengths
    }

    #[test]
    fn code_lengths_match_the_pair_sorting_version() {
        let mut state = 0x2545_f491u32;
        let mut next = || {
            crate::xorshift(&mut state);
            state
        };
        for round in 0..3000u32 {
            let symbols = [286, 30, 19, 2, 1, 257][round as usize % 6];
            let limit = [15u8, 7, 9, 4][round as usize / 6 % 4];
            // Few distinct counts (many ties), skewed ones (over the
            // limit), zeros, and wide ones.
            let counts: Vec<u32> = (0..symbols)
                .map(|_| match round % 5 {
                    0 => next() % 4,
                    1 => 1 << (next() % 24),
                    2 => next() % 1000 * (next() % 2),
                    3 => next() >> (next() % 32),
                    _ => next() % 3 + 1,
                })
                .collect();
            let limit = if symbols > 1 << limit { 15 } else { limit };
            assert_eq!(
                code_lengths(&counts, limit),
                reference_code_lengths(&counts, limit),
                "{counts:?} {limit}"
            );
        }
    }

    #[test]
    fn skewed_statistics_respect_the_length_limit() {
        // One byte dominates: the optimal code would be deeper than 14 bits.
        let mut data = vec![0u8; 1 << 20];
        for (i, byte) in data.iter_mut().enumerate().step_by(4099) {
            *byte = (i % 251) as u8 + 1;
        }
        round_trip(&data);
        let counts: Vec<u32> = (0..286)
            .map(|i| if i == 0 { 1 << 30 } else { i + 1 })
            .collect();
        let lengths = code_lengths(&counts, 14);
        assert!(lengths.iter().all(|&l| (1..=14).contains(&l)));
        let kraft: f64 = lengths.iter().map(|&l| 0.5f64.powi(l as i32)).sum();
        assert!(
            (kraft - 1.0).abs() < 1e-12,
            "code must be complete, Kraft sum {kraft}"
        );
    }

    #[test]
    fn pieces_joined_by_sync_flush_form_one_stream() {
        let parts = [noise(1000, 1), vec![3u8; 5000], noise(70_000, 2)];
        let mut out = BitWriter::new(0);
        out.push_bytes(&[0x78, 0x01]);
        let mut adler = 1;
        let mut whole = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let last = i == parts.len() - 1;
            write_blocks(part, last, &mut out);
            if !last {
                sync_flush(&mut out);
            }
            adler = adler32_combine(adler, adler32(1, part), part.len());
            whole.extend_from_slice(part);
        }
        out.align();
        out.push_bytes(&adler.to_be_bytes());
        assert_eq!(adler, adler32(1, &whole));
        assert_eq!(inflate(&out.into_bytes(), whole.len()), whole);
    }

    /// `emit_chunks` is `scan` with the emitter, written out: same bits,
    /// on data with runs starting and ending at every offset in a chunk,
    /// long codes (noise) and chunks over 56 bits.
    #[test]
    fn the_written_out_emitter_writes_what_scan_reports() {
        let mut data = Vec::new();
        for i in 0..3000usize {
            data.extend(noise(i % 23, i as u32));
            data.extend(std::iter::repeat_n((i % 3) as u8, i % 41));
            data.extend(std::iter::repeat_n(0u8, i % 7));
        }
        for piece in [&data[..], &data[1..], &data[5..40_000], &noise(9000, 3)[..]] {
            let (counter, _) = sample_counts(piece, Scanner::Chunks);
            let codes = canonical_codes(&lengths_and_bits(&counter).0);
            let written = |with_pairs: bool, emit_with: &dyn Fn(&mut Emitter)| {
                let mut out = BitWriter::new(piece.len() * 2);
                out.reserve(piece.len() * 2);
                emit(&codes, &mut out, with_pairs, emit_with);
                out.align();
                out.into_bytes()
            };
            let by_scan = written(true, &|emitter| scan(piece, emitter));
            let written_out = written(true, &|emitter| {
                emit_chunks(piece, emitter, emitter.pairs.expect("with pairs"))
            });
            assert!(by_scan == written_out, "{} bytes", piece.len());
            // Small blocks' byte-at-a-time path writes the same bits.
            let byte_by_byte = written(false, &|emitter| scan(piece, emitter));
            assert!(by_scan == byte_by_byte, "{} bytes", piece.len());
        }
    }

    /// Strips a little over BLOCK_BYTES go to `write_coded` whole
    /// (striped.rs): one block of up to MAX_CODED_BYTES must code and
    /// round-trip like any other.
    #[test]
    fn one_block_takes_up_to_max_coded_bytes() {
        let data: Vec<u8> = noise(MAX_CODED_BYTES, 7).iter().map(|b| b % 9).collect();
        let mut out = BitWriter::new(data.len());
        out.push_bytes(&[0x78, 0x01]);
        assert!(write_coded(&data, true, &mut out));
        out.align();
        out.push_bytes(&adler32(1, &data).to_be_bytes());
        assert_eq!(inflate(&out.into_bytes(), data.len()), data);
    }

    #[test]
    fn runs_are_coded_as_matches() {
        let data = vec![9u8; 100_000];
        assert!(
            zlib(&data).len() < 1000,
            "a constant block must shrink to a few hundred bytes"
        );
    }
}
