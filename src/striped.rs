//! bufpng's PNG writer (every compression level): filtered rows
//! (`filter.rs`) coded by bufpng's own coder (`deflate.rs`) or by zlib
//! (zlib-rs through flate2's raw-deflate API), in one zlib stream, in IDAT
//! chunks. Rows are filtered a band at a time into a buffer that stays in
//! cache, and the band is coded right away.
//!
//! A large frame is cut into strips of rows, each filtered (against the
//! unfiltered row above it, which every strip can read, except at the start
//! of a PNG Restart Marker segment: `restart.rs`) and coded on its own,
//! each but the last ending on a byte boundary with an empty stored
//! block. Concatenated, they are one valid deflate stream, and the
//! Adler-32s combine arithmetically, so strips can be coded on several
//! threads. The cuts depend only on the frame's size, never on the thread
//! count: the file is byte-identical however many threads made it.

use crate::adaptive;
use crate::deflate::{self, BitWriter};
use crate::filter::{filter_rows, RowFilter};
use crate::layout::{Depth, ImageLayout};
use crate::lz77::LzStrip;
use crate::pairs16::{self, PairStrip};
use crate::pixels::ByteSlot;
use crate::restart;
use anyhow::{Context, Result};
use flate2::{Compress, FlushCompress, Status};
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// zlib header: deflate, 32 KiB window, "fastest" level hint; no dictionary.
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];
/// PNG's limit on a chunk's length.
const MAX_CHUNK: usize = i32::MAX as usize;

/// Frames smaller than twice this are one strip: cutting them would cost
/// more (a thread start, block restarts) than it can save. Strips of half
/// a MiB (about one coder block) keep the threads evenly loaded: workers take
/// the next strip as they finish one.
const STRIP_BYTES: usize = 512 << 10;
/// At most this many strips, and never fewer rows than MIN_STRIP_ROWS in one.
const MAX_STRIPS: usize = 64;
const MIN_STRIP_ROWS: usize = 32;

/// How many strips a frame of `rows` rows and `bytes` bytes is cut into:
/// one per half MiB (a 1080p RGB frame: 11), from its size alone.
fn strip_count(bytes: usize, rows: usize) -> usize {
    (bytes / STRIP_BYTES)
        .min(MAX_STRIPS)
        .min(rows / MIN_STRIP_ROWS)
        .max(1)
}

/// Strips a PNG Restart Marker segment holds: a segment's first row costs
/// size (filtered without the row above: Sub instead of Paeth costs ~450
/// bytes on a 1080p photo row), and a decoder gains nothing from more
/// segments than it has threads, while the encoder wants strips of half a
/// MiB to keep its threads evenly loaded.
const STRIPS_PER_SEGMENT: usize = 3;

/// Segments, and strips per segment, for about `strips` strips in a frame
/// of `rows` rows: at least two segments when there are two strips, and
/// never a strip without rows.
fn segment_plan(strips: usize, rows: usize) -> (usize, usize) {
    if strips <= 1 {
        return (1, 1);
    }
    let segments = strips.div_ceil(STRIPS_PER_SEGMENT).max(2);
    let per_segment = strips.div_ceil(segments).min(rows / segments).max(1);
    (segments, per_segment)
}

/// How each strip's filtered rows become deflate blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coder {
    /// Rows filtered with None in stored blocks: no compression.
    Stored,
    /// bufpng's own literal-and-run coder, after `filter`.
    Runs { filter: RowFilter },
    /// zlib (zlib-rs) at this level, after `filter`.
    Zlib { level: u8, filter: RowFilter },
    /// bufpng's own LZ77 coder (`lz77.rs`), after `filter`, or with `None`
    /// after each row's own choice of None, Sub or Up (`adaptive.rs`).
    Lz77 { filter: Option<RowFilter> },
    /// For 16-bit rows: bufpng's pair coder (`pairs16.rs`) after Paeth on
    /// bands where most rows' samples repeat their high byte in the low
    /// byte (x257), Runs after Paeth on any other band.
    Pairs16,
    /// Each strip coded with each of these, the smallest kept: the file is
    /// never larger than any of them would have made (same cuts, same
    /// framing), at the sum of their times.
    Smallest(&'static [Coder]),
}

impl Coder {
    /// The default's coder for photos.
    pub const RUNS: Coder = Coder::Runs {
        filter: RowFilter::Paeth,
    };

    /// Room to allocate for the coded form of `bytes` bytes of rows.
    /// BitWriter zeroes room only as it writes, so room the output never
    /// reaches costs little; growing past the room costs a copy. The
    /// screen coder's output is 2-10% of its input: an eighth. The other
    /// coders get what the stored fallback takes with the filter bytes
    /// (rows of 64 bytes or more) and a block header per 64 KiB: half the
    /// input, allotted before, made 16-bit photos whose low byte carries
    /// information (output 76% of the input) grow in every strip, 6% of
    /// their encode in memmove and 4% in page faults.
    fn output_room(self, bytes: usize) -> usize {
        match self {
            Coder::Lz77 { .. } => bytes / 8 + 1024,
            _ => bytes + bytes / 64 + 1024,
        }
    }

    fn filter(self) -> RowFilter {
        match self {
            Coder::Stored | Coder::Smallest(_) => RowFilter::None,
            // Not used: code_rows chooses per row.
            Coder::Lz77 { filter: None } => RowFilter::Up,
            Coder::Lz77 {
                filter: Some(filter),
            } => filter,
            Coder::Runs { filter } | Coder::Zlib { filter, .. } => filter,
            Coder::Pairs16 => RowFilter::Paeth,
        }
    }
}

/// Encodes rows already in PNG's sample layout (RGB order, big-endian
/// 16-bit samples) as a complete PNG file, on up to `threads` threads (the
/// calling one included), with `chunks` (type, data) between IHDR and IDAT.
/// The bytes do not depend on `threads`.
pub fn encode(
    layout: &ImageLayout,
    data: &[u8],
    coder: Coder,
    threads: usize,
    chunks: &[([u8; 4], Vec<u8>)],
) -> Result<Vec<u8>> {
    Ok(encode_parts(layout, data, coder, threads, chunks)?.into_vec())
}

/// `encode`, the file left in the pieces the threads coded it in: a caller
/// that copies the file anyway (into a Python `bytes`) copies it once.
pub fn encode_parts(
    layout: &ImageLayout,
    data: &[u8],
    coder: Coder,
    threads: usize,
    chunks: &[([u8; 4], Vec<u8>)],
) -> Result<PngParts> {
    encode_parts_deciding(layout, data, coder, || (coder, true), threads, chunks)
}

/// `encode_parts` with the coder decided by `decide` (which also says
/// whether threads beyond the calling one pay for themselves), run on the
/// calling thread while the other threads already code strips with
/// `guess`: the default's trial encodes of a sample (`encode.rs`) were
/// serial time before any strip started, up to a third of a 16-bit frame's
/// wall time on two cores. Strips coded with a guess that `decide`
/// overrules are coded again; the file is the one `decide`'s coder makes,
/// whatever the guess and the threads.
pub fn encode_parts_deciding(
    layout: &ImageLayout,
    data: &[u8],
    guess: Coder,
    decide: impl FnOnce() -> (Coder, bool),
    threads: usize,
    chunks: &[([u8; 4], Vec<u8>)],
) -> Result<PngParts> {
    let strips = strip_count(data.len(), layout.height as usize);
    encode_strips(layout, data, guess, decide, strips, threads, chunks)
}

/// `encode` with the number of strips chosen by the caller (fewer than the
/// rows, as restart markers require): small segmented files for the
/// restart-marker tests and fuzzing.
pub fn encode_in_strips(
    layout: &ImageLayout,
    data: &[u8],
    coder: Coder,
    strips: usize,
    threads: usize,
    chunks: &[([u8; 4], Vec<u8>)],
) -> Result<Vec<u8>> {
    let decide = || (coder, true);
    Ok(encode_strips(layout, data, coder, decide, strips, threads, chunks)?.into_vec())
}

fn encode_strips(
    layout: &ImageLayout,
    data: &[u8],
    guess: Coder,
    decide: impl FnOnce() -> (Coder, bool),
    strips: usize,
    threads: usize,
    chunks: &[([u8; 4], Vec<u8>)],
) -> Result<PngParts> {
    // Callers pass validated frames; a mismatch here is a bug, not bad input.
    anyhow::ensure!(
        layout.width > 0
            && layout.height > 0
            && data.len() == layout.byte_len()
            && (strips == 1 || (2..layout.height as usize).contains(&strips)),
        "bufpng internal error: {} bytes for a {}x{} frame of {} bytes",
        data.len(),
        layout.width,
        layout.height,
        layout.byte_len()
    );
    let row_bytes = layout.row_bytes();
    let (segments, per_segment) = segment_plan(strips, layout.height as usize);
    let mut strips = Strips {
        data,
        coder: guess,
        row_bytes,
        bpp: layout.pixel_bytes(),
        segments,
        per_segment,
    };
    // Stored strips are copies: memory-bound, and most of a stored file's
    // time is the serial copy out of Python and the CRC; a second thread
    // bought 0.98x (CPU of the critical path, 1080p photo, level 0).
    let threaded = threads > 1 && strips.count() > 1 && guess != Coder::Stored;
    // On one thread the coder is decided before the first strip.
    let decide = match threaded {
        true => Some(decide),
        false => {
            strips.coder = decide().0;
            None
        }
    };
    // On threads the strips are coded into buffers of their own, and `out`
    // holds only the chunks before them: no room for the coded frame (a
    // zeroed buffer of half the frame, written by nobody).
    let room = match threaded {
        true => {
            1024 + chunks
                .iter()
                .map(|(_, data)| data.len() + 12)
                .sum::<usize>()
        }
        false => strips.coder.output_room(data.len()),
    };
    let mut out = BitWriter::new(room);
    out.push_bytes(&SIGNATURE);
    push_chunk(&mut out, b"IHDR", &header(layout));
    for (kind, data) in chunks {
        push_chunk(&mut out, kind, data);
    }
    // mARK right before the first IDAT, after any metadata.
    let mut idat = Segments::start(&mut out, strips.segments);
    out.push_bytes(&ZLIB_HEADER);
    if let Some(decide) = decide {
        let coded = strips.code_on_threads(threads, decide)?;
        return Ok(strips.assemble(out, idat, coded));
    }
    let adler = strips.code_here(&mut out, &mut idat)?;
    Ok(PngParts::whole(finish(out, idat, adler)))
}

/// Ends the zlib stream in `out` (its Adler-32) and the file (IDAT chunk
/// headers and CRCs, `mARK`, IEND).
fn finish(mut out: BitWriter, idat: Segments, adler: u32) -> Vec<u8> {
    out.align();
    out.push_bytes(&adler.to_be_bytes());
    let mut png = out.into_bytes();
    idat.finish(&mut png);
    png.extend_from_slice(&chunk(b"IEND", &[]));
    // The buffer was sized for the worst case; a PNG kept around (an APNG
    // frame waiting for its turn) should not hold half a raw frame.
    png.shrink_to_fit();
    png
}

/// A PNG file as consecutive byte strings: the strips as the threads coded
/// them, with the chunk framing between them, so that the file is copied
/// once, into wherever it goes, rather than gathered first.
#[derive(Debug)]
pub struct PngParts {
    parts: Vec<Vec<u8>>,
    len: usize,
}

impl PngParts {
    fn whole(png: Vec<u8>) -> PngParts {
        PngParts {
            len: png.len(),
            parts: vec![png],
        }
    }

    /// The file's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the file into `out`, which must be exactly `len()` bytes
    /// long, on up to `threads` threads (the calling one included) when it
    /// is over a MiB: the parts are taken in turn, and each thread faults in
    /// the fresh pages it writes (a 16-bit photo's file is 9 MB).
    /// `out` may be uninitialized memory (a new bytes object's buffer):
    /// every byte of it is written.
    pub fn copy_to<B: ByteSlot>(&self, out: &mut [B], threads: usize) {
        assert_eq!(out.len(), self.len, "bufpng internal error: output size");
        let mut pieces = Vec::with_capacity(self.parts.len());
        let mut rest = out;
        for part in &self.parts {
            let (here, after) = rest.split_at_mut(part.len());
            pieces.push((here, &part[..]));
            rest = after;
        }
        let threads = threads.min(self.len / STRIP_BYTES).max(1);
        let pieces = Mutex::new(pieces.into_iter());
        on_threads(threads, "bufpng-copy", || loop {
            let next = pieces.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((out, part)) = next else {
                return;
            };
            B::fill(out, part);
        });
    }

    /// The file in one buffer (no copy when it is one piece already).
    pub fn into_vec(mut self) -> Vec<u8> {
        if self.parts.len() == 1 {
            return self.parts.pop().unwrap_or_default();
        }
        let mut png = Vec::with_capacity(self.len);
        for part in &self.parts {
            png.extend_from_slice(part);
        }
        png
    }
}

/// The IDAT chunks of a striped file: one per strip, each strip a PNG
/// Restart Marker segment (`restart.rs`), described by a `mARK` chunk right
/// before the first IDAT when there is more than one strip. The stream is
/// written with room for chunk headers, CRCs and the `mARK` chunk, which
/// `finish` fills in.
struct Segments {
    /// Where the space for the `mARK` chunk starts (none for one strip).
    mark_at: usize,
    mark_len: usize,
    /// Each segment's chunk data in the file being written.
    data: Vec<Range<usize>>,
}

impl Segments {
    /// Leaves room for the `mARK` chunk and opens the first IDAT chunk.
    fn start(out: &mut BitWriter, count: usize) -> Segments {
        let mark_len = if count > 1 {
            restart::mark_chunk_len(count)
        } else {
            0
        };
        let mark_at = out.len();
        out.push_bytes(&vec![0; mark_len]);
        let mut segments = Segments {
            mark_at,
            mark_len,
            data: Vec::with_capacity(count),
        };
        segments.open(out);
        segments
    }

    fn open(&mut self, out: &mut BitWriter) {
        out.push_bytes(&[0; 8]);
        self.data.push(out.len()..out.len());
    }

    fn close(&mut self, out: &mut BitWriter) {
        if let Some(last) = self.data.last_mut() {
            last.end = out.len();
        }
        out.push_bytes(&[0; 4]);
    }

    /// Ends the current segment's IDAT chunk and opens the next one.
    fn next(&mut self, out: &mut BitWriter) {
        self.close(out);
        self.open(out);
    }

    /// Closes the last chunk (whose data runs to the end of `png`), then
    /// fills in chunk lengths, types, CRCs and the `mARK` chunk. A segment
    /// over PNG's chunk limit (a strip of over 2 GiB coded: frames of
    /// 128 GB) is split over several IDAT chunks, without `mARK`.
    fn finish(mut self, png: &mut Vec<u8>) {
        if let Some(last) = self.data.last_mut() {
            last.end = png.len();
        }
        png.extend_from_slice(&[0; 4]);
        let spans: Vec<usize> = self.data.iter().map(|data| data.len() + 12).collect();
        let mark = match self.mark_len {
            0 => Some(Vec::new()),
            _ => restart::mark_data(&spans).map(|data| chunk(&restart::MARK, &data)),
        };
        let (Some(mark), true) = (mark, spans.iter().all(|&span| span <= MAX_CHUNK)) else {
            return self.rechunk(png);
        };
        png[self.mark_at..self.mark_at + self.mark_len].copy_from_slice(&mark);
        for data in &self.data {
            let len = data.len() as u32;
            png[data.start - 8..data.start - 4].copy_from_slice(&len.to_be_bytes());
            png[data.start - 4..data.start].copy_from_slice(b"IDAT");
            let crc = crc(b"IDAT", &png[data.clone()]);
            png[data.end..data.end + 4].copy_from_slice(&crc.to_be_bytes());
        }
    }

    /// The slow path of `finish`: the zlib stream again, in IDAT chunks of
    /// at most PNG's limit, and no `mARK`.
    fn rechunk(self, png: &mut Vec<u8>) {
        let mut stream = Vec::new();
        for data in &self.data {
            stream.extend_from_slice(&png[data.clone()]);
        }
        png.truncate(self.mark_at);
        for piece in stream.chunks(MAX_CHUNK) {
            png.extend_from_slice(&chunk(b"IDAT", piece));
        }
    }
}

/// The strips of a frame being coded on threads.
struct Progress {
    /// The coder `decide` chose; until then the strips are coded with the
    /// guess.
    decided: Option<Coder>,
    /// The next strip to take.
    next: usize,
    /// Only the calling thread takes more strips.
    alone: bool,
    done: Vec<CodedStrip>,
}

/// One strip coded on a worker thread, waiting to be appended in order.
struct CodedStrip {
    index: usize,
    bytes: Vec<u8>,
    /// Adler-32 of the strip's filtered bytes, and how many there are.
    adler: u32,
    filtered_len: usize,
    /// CRC-32 state over `bytes`, computed by the thread that coded them
    /// (a serial pass over the whole output otherwise), combined into the
    /// IDAT chunks' CRCs.
    crc: crc32fast::Hasher,
}

/// A frame's rows, cut into strips coded independently.
#[derive(Clone, Copy)]
struct Strips<'a> {
    data: &'a [u8],
    coder: Coder,
    row_bytes: usize,
    bpp: usize,
    /// PNG Restart Marker segments (cut as `restart::segment_rows`), and
    /// strips in each (cut the same way); only a segment's first row is
    /// filtered without the row above.
    segments: usize,
    per_segment: usize,
}

impl Strips<'_> {
    fn rows(&self) -> usize {
        self.data.len() / self.row_bytes.max(1)
    }

    fn count(&self) -> usize {
        self.segments * self.per_segment
    }

    fn range(&self, strip: usize) -> Range<usize> {
        let segment = restart::segment_rows(self.rows(), self.segments, strip / self.per_segment);
        let part = restart::segment_rows(segment.len(), self.per_segment, strip % self.per_segment);
        segment.start + part.start..segment.start + part.end
    }

    fn starts_segment(&self, strip: usize) -> bool {
        strip % self.per_segment == 0
    }

    /// Codes `strip` into `out`; returns the Adler-32 of its filtered bytes
    /// and how many there are. `work` holds the buffers; one
    /// per thread, reused from strip to strip.
    fn code(
        &self,
        strip: usize,
        work: &mut Workspace,
        out: &mut BitWriter,
    ) -> Result<(u32, usize)> {
        let range = self.range(strip);
        let filtered_len = range.len() * (self.row_bytes + 1);
        let Coder::Smallest(candidates) = self.coder else {
            return Ok((self.code_rows(strip, work, out)?, filtered_len));
        };
        let mut best: Option<(BitWriter, u32)> = None;
        for &coder in candidates {
            let mut piece = BitWriter::new(coder.output_room(filtered_len));
            let adler = Strips { coder, ..*self }.code_rows(strip, work, &mut piece)?;
            // Strips end byte-aligned (a sync flush), the last one is
            // aligned before the Adler-32: whole bytes either way.
            piece.align();
            if best
                .as_ref()
                .is_none_or(|(kept, _)| piece.len() < kept.len())
            {
                best = Some((piece, adler));
            }
        }
        let (piece, adler) = best.context("bufpng internal error: no candidate coder")?;
        out.push_bytes(&piece.into_bytes());
        Ok((adler, filtered_len))
    }

    /// Every strip in order on the calling thread, straight into `out`.
    fn code_here(&self, out: &mut BitWriter, idat: &mut Segments) -> Result<u32> {
        let mut adler = 1;
        let mut work = Workspace::default();
        for strip in 0..self.count() {
            if strip > 0 && self.starts_segment(strip) {
                idat.next(out);
            }
            let (strip_adler, len) = self.code(strip, &mut work, out)?;
            adler = deflate::adler32_combine(adler, strip_adler, len);
        }
        Ok(adler)
    }

    /// Strips taken from a shared counter by up to `threads` workers (the
    /// calling thread is one of them, so a thread that cannot be started
    /// only means fewer workers), each into its own buffer; returned in
    /// order. The calling thread first runs `decide` while the others code
    /// strips with `self.coder`, the guess: strips coded with a guess that
    /// `decide` overrules are thrown away and coded again, and when it says
    /// further threads do not pay, they stop after their current strip.
    fn code_on_threads(
        &self,
        threads: usize,
        decide: impl FnOnce() -> (Coder, bool),
    ) -> Result<Vec<CodedStrip>> {
        let count = self.count();
        let guess = self.coder;
        let shared = Mutex::new(Progress {
            decided: None,
            next: 0,
            alone: false,
            done: Vec::with_capacity(count),
        });
        let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
        let work = |caller: bool| -> Result<()> {
            let mut work = Workspace::default();
            loop {
                let (index, coder) = {
                    let mut progress = lock();
                    if progress.next >= count || (progress.alone && !caller) {
                        return Ok(());
                    }
                    progress.next += 1;
                    (progress.next - 1, progress.decided.unwrap_or(guess))
                };
                let strips = Strips { coder, ..*self };
                let room = coder.output_room(self.range(index).len() * self.row_bytes);
                let mut piece = BitWriter::new(room);
                let coded = strips.code(index, &mut work, &mut piece);
                let mut progress = lock();
                if progress.decided.unwrap_or(guess) != coder {
                    continue; // coded with an overruled guess
                }
                // A failed strip fails the frame: the other workers stop too.
                let (adler, filtered_len) = coded.inspect_err(|_| progress.next = count)?;
                drop(progress);
                piece.align();
                let bytes = piece.into_bytes();
                let mut crc = crc32fast::Hasher::new();
                crc.update(&bytes);
                lock().done.push(CodedStrip {
                    index,
                    bytes,
                    adler,
                    filtered_len,
                    crc,
                });
            }
        };
        let first = || {
            let (coder, threads_pay) = decide();
            let mut progress = lock();
            if coder != guess {
                progress.next = 0;
                progress.done.clear();
            }
            progress.decided = Some(coder);
            progress.alone = !threads_pay;
            drop(progress);
            work(true)
        };
        let results = on_threads_first(threads.min(count), "bufpng-strip", first, || work(false));
        for result in results {
            result?;
        }
        let mut pieces = shared
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .done;
        pieces.sort_unstable_by_key(|strip| strip.index);
        anyhow::ensure!(
            pieces.len() == count,
            "bufpng internal error: {} of {count} strips coded",
            pieces.len()
        );
        Ok(pieces)
    }

    /// The file from `out` (everything up to the zlib header, with room
    /// for the `mARK` chunk and the first IDAT chunk's header) and the coded
    /// strips, as parts: `out`, then each strip's bytes, with the IDAT
    /// chunks' ends and starts (CRC, length, type) as small parts between
    /// segments. The same bytes as `finish` writes from one buffer, which
    /// it still does when a segment is too long for one chunk.
    fn assemble(&self, mut out: BitWriter, idat: Segments, coded: Vec<CodedStrip>) -> PngParts {
        let adler = coded.iter().fold(1, |adler, strip| {
            deflate::adler32_combine(adler, strip.adler, strip.filtered_len)
        });
        let segments: Vec<&[CodedStrip]> = coded.chunks(self.per_segment).collect();
        let last = segments.len().saturating_sub(1);
        // Each segment's chunk data: the zlib header before the first, the
        // Adler-32 after the last.
        let lengths: Vec<usize> = (segments.iter().enumerate())
            .map(|(i, strips)| {
                let coded: usize = strips.iter().map(|strip| strip.bytes.len()).sum();
                coded + if i == 0 { ZLIB_HEADER.len() } else { 0 } + if i == last { 4 } else { 0 }
            })
            .collect();
        let spans: Vec<usize> = lengths.iter().map(|len| len + 12).collect();
        let mark = match idat.mark_len {
            0 => Some(Vec::new()),
            _ => restart::mark_data(&spans).map(|data| chunk(&restart::MARK, &data)),
        };
        let (Some(mark), true) = (mark, spans.iter().all(|&span| span <= MAX_CHUNK)) else {
            // Gathered into `out` after all; `finish` splits the chunks.
            let mut idat = idat;
            for strip in &coded {
                if strip.index > 0 && self.starts_segment(strip.index) {
                    idat.next(&mut out);
                }
                out.push_bytes(&strip.bytes);
            }
            return PngParts::whole(finish(out, idat, adler));
        };
        let mut head = out.into_bytes();
        head[idat.mark_at..idat.mark_at + idat.mark_len].copy_from_slice(&mark);
        let first = idat.data[0].start;
        head[first - 8..first - 4].copy_from_slice(&(lengths[0] as u32).to_be_bytes());
        head[first - 4..first].copy_from_slice(b"IDAT");
        // What goes after each segment's strips: the Adler-32 after the
        // last, the chunk's CRC, then the next chunk's length and type (or
        // IEND).
        let betweens: Vec<Vec<u8>> = (segments.iter().enumerate())
            .map(|(i, strips)| {
                let mut crc = crc32fast::Hasher::new();
                crc.update(b"IDAT");
                if i == 0 {
                    crc.update(&ZLIB_HEADER);
                }
                for strip in *strips {
                    crc.combine(&strip.crc);
                }
                let mut between = Vec::with_capacity(32);
                if i == last {
                    crc.update(&adler.to_be_bytes());
                    between.extend_from_slice(&adler.to_be_bytes());
                }
                between.extend_from_slice(&crc.finalize().to_be_bytes());
                match lengths.get(i + 1) {
                    Some(&next) => {
                        between.extend_from_slice(&(next as u32).to_be_bytes());
                        between.extend_from_slice(b"IDAT");
                    }
                    None => between.extend_from_slice(&chunk(b"IEND", &[])),
                }
                between
            })
            .collect();
        let mut parts = Vec::with_capacity(coded.len() + betweens.len() + 1);
        parts.push(head);
        let mut betweens = betweens.into_iter();
        for strip in coded {
            parts.push(strip.bytes);
            if (strip.index + 1) % self.per_segment == 0 || strip.index + 1 == self.count() {
                parts.extend(betweens.next());
            }
        }
        let len = parts.iter().map(Vec::len).sum();
        PngParts { parts, len }
    }

    /// Filters and codes the rows of `strip` as deflate blocks, the final
    /// one if they reach the frame's end, else ending on a byte boundary;
    /// returns the Adler-32 of the filtered bytes.
    fn code_rows(&self, strip: usize, work: &mut Workspace, out: &mut BitWriter) -> Result<u32> {
        let (data, row_bytes) = (self.data, self.row_bytes);
        let rows = self.range(strip);
        // A segment's first row is filtered without the row above, so the
        // segment decodes on its own (PNG Restart Markers).
        let restart = self.starts_segment(strip).then_some(rows.start);
        let last = rows.end * row_bytes == data.len();
        let rows_per_band = match self.coder {
            // A strip a little over one block is one block: cut at
            // BLOCK_BYTES, a 1080p BGRA strip (72 rows, 553 KB) left a
            // 4-row tail block that paid for its own codes, header and
            // pair table (~3% of the frame's instructions) for nothing.
            Coder::Runs { .. } if rows.len() * (row_bytes + 1) <= deflate::MAX_CODED_BYTES => {
                rows.len().max(1)
            }
            _ => (deflate::BLOCK_BYTES / (row_bytes + 1)).max(1),
        };
        let mut zlib = match self.coder {
            Coder::Zlib { level, .. } => Some(ZlibStrip::new(level)),
            _ => None,
        };
        // The LZ77 coder filters into its own window (no copy into it), the
        // others into `scratch`.
        let mut lz = match self.coder {
            Coder::Lz77 { .. } => {
                let lz = work.lz.get_or_insert_with(LzStrip::new);
                lz.restart();
                Some(lz)
            }
            _ => {
                let band_bytes = rows.len().min(rows_per_band) * (row_bytes + 1);
                if work.scratch.len() < band_bytes {
                    work.scratch.resize(band_bytes, 0);
                }
                None
            }
        };
        let mut pairs = match self.coder {
            Coder::Pairs16 => {
                let pairs = (work.pairs).get_or_insert_with(|| PairStrip::new(row_bytes + 1));
                pairs.restart();
                Some(pairs)
            }
            _ => None,
        };
        let mut adler = 1;
        let mut first = rows.start;
        loop {
            let count = rows_per_band.min(rows.end - first);
            let band = &data[first * row_bytes..(first + count) * row_bytes];
            let above = (Some(first) != restart && first > 0)
                .then(|| &data[(first - 1) * row_bytes..first * row_bytes]);
            let filtered_len = count * (row_bytes + 1);
            let filter = |filter, filtered: &mut [u8]| {
                filter_rows(filter, band, above, row_bytes, self.bpp, filtered)
            };
            first += count;
            let strip_done = first == rows.end;
            let final_block = last && strip_done;
            if let Some(lz) = lz.as_deref_mut() {
                let filtered = lz.band(filtered_len);
                match self.coder {
                    Coder::Lz77 { filter: None } => {
                        adaptive::filter_rows_least_sum(band, above, row_bytes, self.bpp, filtered)
                    }
                    coder => filter(coder.filter(), filtered),
                }
                adler = deflate::adler32(adler, filtered);
                lz.code_band(filtered_len, final_block, out);
            } else {
                let filtered = &mut work.scratch[..filtered_len];
                filter(self.coder.filter(), filtered);
                // A band mostly not x257 goes to Runs, and the pair coder's
                // next band must not refer back over it.
                let paired = match pairs.as_deref_mut() {
                    Some(pairs) if pairs16::mostly_x257(band, row_bytes) => {
                        pairs.code(filtered, final_block, out);
                        true
                    }
                    Some(pairs) => {
                        pairs.forget();
                        false
                    }
                    None => false,
                };
                match &mut zlib {
                    _ if paired => {}
                    Some(zlib) => zlib.code(filtered, strip_done, last, out)?,
                    None if self.coder == Coder::Stored => {
                        deflate::write_stored(filtered, final_block, out)
                    }
                    // A band the coder declines (noise) is stored, and stored
                    // rows are filtered with None: a decoder only copies them,
                    // where Paeth costs it 3x the time and saves nothing.
                    None if filtered.len() <= deflate::MAX_CODED_BYTES => {
                        if !deflate::write_coded(filtered, final_block, out) {
                            filter(RowFilter::None, filtered);
                            deflate::write_stored(filtered, final_block, out);
                        }
                    }
                    None => deflate::write_blocks(filtered, final_block, out),
                }
                adler = deflate::adler32(adler, filtered);
            }
            if strip_done {
                break;
            }
        }
        if !last && zlib.is_none() {
            deflate::sync_flush(out);
        }
        Ok(adler)
    }
}

/// One thread's buffers, reused from strip to strip: a band of filtered
/// rows, and the LZ77 and pair coders' windows and tables (allocated once,
/// not once a strip).
#[derive(Default)]
struct Workspace {
    scratch: Vec<u8>,
    lz: Option<LzStrip>,
    pairs: Option<PairStrip>,
}

/// One strip's raw deflate stream from zlib: bands are fed in; the strip
/// ends with a sync flush (byte-aligned, not final) or, for the frame's last
/// strip, with the final block.
struct ZlibStrip {
    compress: Compress,
    output: Vec<u8>,
}

impl ZlibStrip {
    fn new(level: u8) -> ZlibStrip {
        ZlibStrip {
            compress: Compress::new(flate2::Compression::new(level as u32), false),
            output: Vec::new(),
        }
    }

    fn code(
        &mut self,
        mut input: &[u8],
        strip_done: bool,
        last: bool,
        out: &mut BitWriter,
    ) -> Result<()> {
        let flush = match (strip_done, last) {
            (false, _) => FlushCompress::None,
            (true, false) => FlushCompress::Sync,
            (true, true) => FlushCompress::Finish,
        };
        loop {
            self.output.clear();
            self.output.reserve(input.len() / 2 + 4096);
            let before = self.compress.total_in();
            let status = (self.compress)
                .compress_vec(input, &mut self.output, flush)
                .context("zlib")?;
            input = &input[(self.compress.total_in() - before) as usize..];
            out.push_bytes(&self.output);
            // Done once the input is in and zlib stopped short of filling
            // the buffer (nothing more to flush), or the stream ended.
            let drained = input.is_empty() && self.output.len() < self.output.capacity();
            if status == Status::StreamEnd || (drained && flush != FlushCompress::Finish) {
                return Ok(());
            }
        }
    }
}

/// Runs `work` on up to `threads` threads, the calling one included (a
/// thread that cannot be started only means fewer), and returns what each
/// returned, the calling thread's first. A worker's panic resumes here.
pub(crate) fn on_threads<T: Send>(
    threads: usize,
    name: &str,
    work: impl Fn() -> T + Sync,
) -> Vec<T> {
    on_threads_first(threads, name, &work, &work)
}

/// `on_threads` with `first` on the calling thread and `work` on the
/// others.
fn on_threads_first<T: Send>(
    threads: usize,
    name: &str,
    first: impl FnOnce() -> T,
    work: impl Fn() -> T + Sync,
) -> Vec<T> {
    std::thread::scope(|scope| {
        let work = &work;
        let others: Vec<_> = (1..threads)
            .filter_map(|_| {
                let builder = std::thread::Builder::new().name(name.into());
                builder.spawn_scoped(scope, work).ok()
            })
            .collect();
        let mut all = vec![first()];
        for other in others {
            all.push(
                other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        all
    })
}

fn header(layout: &ImageLayout) -> [u8; 13] {
    let mut ihdr = [0u8; 13];
    ihdr[..4].copy_from_slice(&layout.width.to_be_bytes());
    ihdr[4..8].copy_from_slice(&layout.height.to_be_bytes());
    ihdr[8] = match layout.depth {
        Depth::Eight => 8,
        Depth::Sixteen => 16,
    };
    // PNG colour types: gray 0, RGB 2, gray+alpha 4, RGBA 6.
    ihdr[9] = match layout.channels {
        1 => 0,
        2 => 4,
        3 => 2,
        _ => 6,
    };
    // Compression 0 (deflate), filter method 0, no interlace.
    ihdr
}

/// A chunk's CRC (over its type and data).
pub(crate) fn crc(kind: &[u8; 4], data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    hasher.finalize()
}

/// A whole chunk: length, type, data, CRC.
pub fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(data.len() + 12);
    bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
    bytes.extend_from_slice(kind);
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(&crc(kind, data).to_be_bytes());
    bytes
}

fn push_chunk(out: &mut BitWriter, kind: &[u8; 4], data: &[u8]) {
    out.push_bytes(&chunk(kind, data));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The samples and header of a PNG as the png crate decodes them, with
    /// no transformations (gray+alpha stays two channels).
    fn decode(png: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut data = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut data).unwrap();
        reader.finish().unwrap();
        (info, data)
    }

    /// The PNG's chunks in order: type and data.
    fn chunks(png: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut found = Vec::new();
        let mut at = SIGNATURE.len();
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind = png[at + 4..at + 8].try_into().unwrap();
            found.push((kind, &png[at + 8..at + 8 + len]));
            at += len + 12;
        }
        found
    }

    /// The filtered rows (filter type byte, residuals) inside a PNG's IDATs.
    fn filtered_rows(png: &[u8]) -> Vec<u8> {
        let stream: Vec<u8> = chunks(png)
            .into_iter()
            .filter(|(kind, _)| kind == b"IDAT")
            .flat_map(|(_, data)| data.iter().copied())
            .collect();
        let mut rows = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&stream[..]), &mut rows)
            .unwrap();
        rows
    }

    fn layout(width: u32, height: u32, channels: u8, depth: Depth) -> ImageLayout {
        ImageLayout {
            width,
            height,
            channels,
            depth,
        }
    }

    fn pixels(layout: &ImageLayout, seed: u32) -> Vec<u8> {
        let row = layout.row_bytes();
        (0..layout.byte_len())
            .map(|i| {
                let (x, y) = ((i % row) as u32, (i / row) as u32);
                // Smooth gradients, a flat stripe and some noise, like a photo.
                match y % 5 {
                    0 => 128,
                    _ => ((x / 3 + y * 2 + seed) as u8).wrapping_add(((x * y) ^ seed) as u8 % 3),
                }
            })
            .collect()
    }

    const ZLIB_UP: Coder = Coder::Zlib {
        level: 2,
        filter: RowFilter::Up,
    };

    const CODERS: [Coder; 9] = [
        Coder::RUNS,
        Coder::Runs {
            filter: RowFilter::Up,
        },
        ZLIB_UP,
        Coder::Zlib {
            level: 2,
            filter: RowFilter::Paeth,
        },
        Coder::Stored,
        Coder::Smallest(&[Coder::Stored, Coder::RUNS, ZLIB_UP]),
        // The screen and pair coders keep their windows and tables from
        // strip to strip on a thread: the strips' bytes must not depend on
        // that.
        Coder::Lz77 { filter: None },
        Coder::Lz77 {
            filter: Some(RowFilter::Paeth),
        },
        Coder::Pairs16,
    ];

    #[test]
    fn round_trips_through_the_decoder_for_every_color_type_and_depth() {
        for coder in CODERS {
            for depth in [Depth::Eight, Depth::Sixteen] {
                for channels in 1..=4 {
                    for (width, height) in [(1, 1), (3, 2), (97, 61), (640, 300)] {
                        let layout = layout(width, height, channels, depth);
                        let data = pixels(&layout, width + height);
                        let png = encode(&layout, &data, coder, 1, &[]).unwrap();
                        let (info, decoded) = decode(&png);
                        assert_eq!((info.width, info.height), (width, height));
                        assert_eq!(info.color_type.samples(), channels as usize);
                        assert_eq!(info.bit_depth as u8, depth.bits());
                        assert_eq!(
                            decoded, data,
                            "{coder:?} {channels} channels {depth:?} {width}x{height}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn stored_rows_are_filtered_with_none_and_coded_rows_with_paeth() {
        let layout = layout(1100, 700, 3, Depth::Eight);
        let mut state = 0x2545_f491u32;
        let noise: Vec<u8> = (0..layout.byte_len())
            .map(|_| {
                crate::xorshift(&mut state);
                (state >> 24) as u8
            })
            .collect();
        let row = layout.row_bytes() + 1;
        for (data, stored) in [(noise, true), (pixels(&layout, 3), false)] {
            let png = encode(&layout, &data, Coder::RUNS, 2, &[]).unwrap();
            assert_eq!(decode(&png).1, data);
            let rows = filtered_rows(&png);
            let types: Vec<u8> = rows.chunks(row).map(|row| row[0]).collect();
            if stored {
                assert!(png.len() < data.len() + data.len() / 200);
                assert!(types.iter().all(|&t| t == RowFilter::None as u8));
            } else {
                assert!(png.len() < data.len() / 2);
                let paeth = types.iter().filter(|&&t| t == RowFilter::Paeth as u8);
                // All but the first row of each strip (Sub there).
                assert!(paeth.count() >= types.len() - 16, "{types:?}");
            }
        }
    }

    #[test]
    fn the_smallest_of_several_coders_is_never_larger_than_any_of_them() {
        let layout = layout(1100, 700, 3, Depth::Eight);
        let mut data = pixels(&layout, 5);
        // Repeated "glyphs" in the lower half, where zlib beats Runs.
        let half = data.len() / 2;
        for (i, byte) in data[half..].iter_mut().enumerate() {
            *byte = if (i * 7 / 3) % 37 < 9 { 20 } else { 255 };
        }
        let candidates = &CODERS[..5];
        let sizes: Vec<usize> = (candidates.iter())
            .map(|&coder| encode(&layout, &data, coder, 1, &[]).unwrap().len())
            .collect();
        let smallest = encode(&layout, &data, Coder::Smallest(&CODERS[..5]), 2, &[]).unwrap();
        assert_eq!(decode(&smallest).1, data);
        assert!(
            sizes.iter().all(|&size| smallest.len() <= size),
            "{} {sizes:?}",
            smallest.len()
        );
        // Smaller than Stored and than Runs (zlib wins the glyph strips).
        assert!(
            smallest.len() < sizes[0] && smallest.len() < sizes[4],
            "{sizes:?}"
        );
    }

    #[test]
    fn the_pair_coder_takes_x257_bands_and_leaves_the_others_to_runs() {
        // 16-bit RGBA and gray+alpha, large enough for strips; the low byte
        // repeats the high byte (x257) except in a few rows of some strips
        // and in the whole lower third.
        for channels in [4, 2, 1] {
            let layout = layout(900, 600, channels, Depth::Sixteen);
            let row = layout.row_bytes();
            let mut state = 0x2545_f491u32;
            let mut data = vec![0; layout.byte_len()];
            for (i, pair) in data.chunks_exact_mut(2).enumerate() {
                let (x, y) = (i * 2 % row, i * 2 / row);
                crate::xorshift(&mut state);
                // A photo-like high byte: a gradient and a little noise.
                pair[0] = ((x / 9 + y / 3) as u8).wrapping_add((state >> 30) as u8);
                pair[1] = match y % 97 != 5 && y < 400 {
                    true => pair[0],
                    false => (state >> 8) as u8,
                };
            }
            let strips = strip_count(data.len(), 600);
            assert!(strips >= 2, "{strips}");
            let png = encode(&layout, &data, Coder::Pairs16, 1, &[]).unwrap();
            assert_eq!(decode(&png).1, data, "{channels} channels");
            for threads in [2, 5] {
                let other = encode(&layout, &data, Coder::Pairs16, threads, &[]).unwrap();
                assert!(other == png, "{threads} threads changed the bytes");
            }
            // Smaller than Runs (the x257 bands: sample pairs matched),
            // Paeth on every row but a segment's first.
            let runs = encode(&layout, &data, Coder::RUNS, 1, &[]).unwrap();
            assert!(png.len() < runs.len(), "{} {}", png.len(), runs.len());
            let types = filtered_rows(&png);
            let paeth = (types.chunks(row + 1)).filter(|r| r[0] == RowFilter::Paeth as u8);
            assert!(paeth.count() >= 600 - 8);
        }
    }

    #[test]
    fn compresses_smooth_content() {
        let layout = layout(640, 300, 3, Depth::Eight);
        let data = pixels(&layout, 1);
        assert!(encode(&layout, &data, Coder::RUNS, 1, &[]).unwrap().len() < data.len() / 4);
    }

    #[test]
    fn strips_on_any_number_of_threads_give_the_same_file() {
        for (width, height, channels, depth) in [
            (1100, 700, 3, Depth::Eight),
            (700, 500, 4, Depth::Sixteen),
            (2100, 1000, 1, Depth::Eight),
        ] {
            let layout = layout(width, height, channels, depth);
            let data = pixels(&layout, 7);
            let strips = strip_count(data.len(), height as usize);
            assert!(strips > 1, "the frame must be big enough to cut");
            for coder in CODERS {
                let one = encode(&layout, &data, coder, 1, &[]).unwrap();
                let (_, decoded) = decode(&one);
                assert_eq!(decoded, data, "{coder:?} {channels} channels {depth:?}");
                for threads in [2, 3, 8, 64] {
                    let png = encode(&layout, &data, coder, threads, &[]).unwrap();
                    assert!(png == one, "{coder:?}: {threads} threads changed the bytes");
                }
            }
        }
    }

    /// Fails unless every chunk's CRC is right.
    fn assert_crcs(png: &[u8]) {
        for (kind, data) in chunks(png) {
            let at = data.as_ptr() as usize - png.as_ptr() as usize + data.len();
            let stored = u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
            assert_eq!(
                stored,
                crc(&kind, data),
                "{}",
                String::from_utf8_lossy(&kind)
            );
        }
    }

    #[test]
    fn strips_started_with_an_overruled_guess_are_coded_again() {
        // Whatever the threads code while `decide` runs, the file is the
        // decided coder's: strips of a wrong guess are coded again, and
        // declining further threads only stops them. A slow `decide` lets
        // the workers code every strip with the guess first.
        let layout = layout(1100, 700, 3, Depth::Eight);
        let data = pixels(&layout, 9);
        let screens = Coder::Lz77 { filter: None };
        let metadata = [(*b"tEXt", b"k\0v".to_vec())];
        for decided in [Coder::RUNS, screens, ZLIB_UP] {
            let one = encode(&layout, &data, decided, 1, &metadata).unwrap();
            for guess in [Coder::RUNS, screens, ZLIB_UP] {
                for (threads, pay, wait) in
                    [(2, true, 0), (3, true, 30), (2, false, 30), (8, true, 0)]
                {
                    let decide = || {
                        std::thread::sleep(std::time::Duration::from_millis(wait));
                        (decided, pay)
                    };
                    let parts =
                        encode_parts_deciding(&layout, &data, guess, decide, threads, &metadata)
                            .unwrap();
                    let mut copied = vec![0; parts.len()];
                    parts.copy_to(&mut copied, threads);
                    let png = parts.into_vec();
                    assert!(
                        png == one && copied == one,
                        "{decided:?} after guessing {guess:?} on {threads} threads"
                    );
                }
            }
        }
    }

    #[test]
    fn files_in_parts_have_the_crcs_and_marker_of_the_file_in_one_piece() {
        // The threaded path's CRCs are combined from the strips' own; the
        // one-thread path computes them over the whole file.
        let layout = layout(2100, 1000, 3, Depth::Eight);
        let data = pixels(&layout, 4);
        for coder in [Coder::RUNS, Coder::Pairs16, Coder::Stored] {
            let parts = encode_parts(&layout, &data, coder, 3, &[]).unwrap();
            let png = parts.into_vec();
            assert_crcs(&png);
            assert!(chunks(&png).iter().any(|(kind, _)| kind == b"mARK"));
            assert_eq!(decode(&png).1, data);
            assert!(png == encode(&layout, &data, coder, 1, &[]).unwrap());
        }
    }

    #[test]
    fn inconsistent_frames_are_refused_not_encoded() {
        let gray = layout(4, 4, 1, Depth::Eight);
        assert!(encode(&gray, &[0; 18], Coder::RUNS, 1, &[]).is_err());
        assert!(encode(&layout(0, 4, 1, Depth::Eight), &[], Coder::RUNS, 1, &[]).is_err());
        assert!(encode(&layout(4, 0, 1, Depth::Eight), &[], Coder::RUNS, 1, &[]).is_err());
        let png = encode(&gray, &[0; 16], Coder::RUNS, 1, &[]).unwrap();
        assert_eq!(
            png.capacity(),
            png.len(),
            "the worst-case buffer is given back"
        );
    }

    #[test]
    fn strip_cuts_depend_on_size_only_and_stay_bounded() {
        assert_eq!(strip_count(1_000_000, 1080), 1);
        assert_eq!(strip_count(6_220_800, 1080), 11);
        assert_eq!(strip_count(100 << 20, 100_000), MAX_STRIPS);
        // Wide and short: never under MIN_STRIP_ROWS rows a strip.
        assert_eq!(strip_count(100 << 20, 70), 2);
        // Restart segments of about three strips, at least two of them.
        assert_eq!(segment_plan(1, 1080), (1, 1));
        assert_eq!(segment_plan(2, 1080), (2, 1));
        assert_eq!(segment_plan(11, 1080), (4, 3));
        assert_eq!(segment_plan(64, 100_000), (22, 3));
        assert_eq!(segment_plan(9, 10), (3, 3));
        assert_eq!(segment_plan(12, 13), (4, 3));
        assert_eq!(segment_plan(12, 8), (4, 2), "never a strip without rows");
    }
}
