//! The default compression's PNG writer: filtered rows (`filter.rs`) coded
//! by bufpng's own coder (`deflate.rs`) or by zlib (zlib-rs through flate2's
//! raw-deflate API), in one zlib stream, in IDAT chunks. Rows are filtered a
//! band at a time into a buffer that stays in cache, and the band is coded
//! right away.
//!
//! A large frame is cut into strips of rows, each filtered (against the
//! unfiltered row above it, which every strip can read) and coded on its
//! own, each but the last ending on a byte boundary with an empty stored
//! block. Concatenated, they are one valid deflate stream, and the
//! Adler-32s combine arithmetically, so strips can be coded on several
//! threads. The cuts depend only on the frame's size, never on the thread
//! count: the file is byte-identical however many threads made it.

use crate::deflate::{self, BitWriter};
use crate::filter::{filter_rows, RowFilter};
use crate::layout::{Depth, ImageLayout};
use anyhow::{Context, Result};
use flate2::{Compress, FlushCompress, Status};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// zlib header: deflate, 32 KiB window, "fastest" level hint; no dictionary.
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];
/// PNG's limit on a chunk's length.
const MAX_CHUNK: usize = i32::MAX as usize;

/// Frames smaller than twice this are one strip: cutting them would cost
/// more (a thread start, block restarts) than it can save. Strips of half
/// a MiB (two coder blocks) keep the threads evenly loaded: workers take
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

/// How each strip's filtered rows become deflate blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coder {
    /// bufpng's own literal-and-run coder, after the Paeth filter.
    Runs,
    /// zlib (zlib-rs) at this level, after `filter`.
    Zlib { level: u8, filter: RowFilter },
}

impl Coder {
    fn filter(self) -> RowFilter {
        match self {
            Coder::Runs => RowFilter::Paeth,
            Coder::Zlib { filter, .. } => filter,
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
    // Callers pass validated frames; a mismatch here is a bug, not bad input.
    anyhow::ensure!(
        layout.width > 0 && layout.height > 0 && data.len() == layout.byte_len(),
        "bufpng internal error: {} bytes for a {}x{} frame of {} bytes",
        data.len(),
        layout.width,
        layout.height,
        layout.byte_len()
    );
    let row_bytes = layout.row_bytes();
    let rows = layout.height as usize;
    let mut out = BitWriter::new(data.len() / 2 + 1024);
    out.push_bytes(&SIGNATURE);
    push_chunk(&mut out, b"IHDR", &header(layout));
    for (kind, data) in chunks {
        push_chunk(&mut out, kind, data);
    }
    let stream_start = out.len() + 8;
    // Length and type of one IDAT chunk, filled in once the stream is done.
    out.push_bytes(&[0; 4]);
    out.push_bytes(b"IDAT");
    out.push_bytes(&ZLIB_HEADER);
    let strips = Strips {
        data,
        coder,
        row_bytes,
        bpp: layout.pixel_bytes(),
        rows_per_strip: rows.div_ceil(strip_count(data.len(), rows)).max(1),
    };
    let adler = if threads <= 1 || strips.count() == 1 {
        strips.code_here(&mut out)?
    } else {
        strips.code_on_threads(threads, &mut out)?
    };
    out.align();
    out.push_bytes(&adler.to_be_bytes());
    let mut png = out.into_bytes();
    finish_idat(&mut png, stream_start);
    png.extend_from_slice(&chunk(b"IEND", &[]));
    // The buffer was sized for the worst case; a PNG kept around (an APNG
    // frame waiting for its turn) should not hold half a raw frame.
    png.shrink_to_fit();
    Ok(png)
}

/// One strip coded on a worker thread, waiting to be appended in order.
struct CodedStrip {
    index: usize,
    bytes: Vec<u8>,
    /// Adler-32 of the strip's filtered bytes, and how many there are.
    adler: u32,
    filtered_len: usize,
}

/// A frame's rows, cut into strips coded independently.
struct Strips<'a> {
    data: &'a [u8],
    coder: Coder,
    row_bytes: usize,
    bpp: usize,
    rows_per_strip: usize,
}

impl Strips<'_> {
    fn rows(&self) -> usize {
        self.data.len() / self.row_bytes.max(1)
    }

    fn count(&self) -> usize {
        self.rows().div_ceil(self.rows_per_strip).max(1)
    }

    fn range(&self, strip: usize) -> Range<usize> {
        strip * self.rows_per_strip..((strip + 1) * self.rows_per_strip).min(self.rows())
    }

    /// Codes `strip` into `out`; returns the Adler-32 of its filtered bytes
    /// and how many there are. `scratch` holds a band of filtered rows; one
    /// per thread, reused from strip to strip.
    fn code(
        &self,
        strip: usize,
        scratch: &mut Vec<u8>,
        out: &mut BitWriter,
    ) -> Result<(u32, usize)> {
        let range = self.range(strip);
        let filtered_len = range.len() * (self.row_bytes + 1);
        Ok((self.code_rows(range, scratch, out)?, filtered_len))
    }

    /// Every strip in order on the calling thread, straight into `out`.
    fn code_here(&self, out: &mut BitWriter) -> Result<u32> {
        let mut adler = 1;
        let mut scratch = Vec::new();
        for strip in 0..self.count() {
            let (strip_adler, len) = self.code(strip, &mut scratch, out)?;
            adler = deflate::adler32_combine(adler, strip_adler, len);
        }
        Ok(adler)
    }

    /// Strips taken from a shared counter by up to `threads` workers (the
    /// calling thread is one of them, so a thread that cannot be started
    /// only means fewer workers), each into its own buffer, then appended
    /// in order.
    fn code_on_threads(&self, threads: usize, out: &mut BitWriter) -> Result<u32> {
        let count = self.count();
        let next = AtomicUsize::new(0);
        let work = || -> Result<Vec<CodedStrip>> {
            let mut done = Vec::new();
            let mut scratch = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok(done);
                }
                let bound = self.range(index).len() * self.row_bytes / 2 + 1024;
                let mut piece = BitWriter::new(bound);
                let coded = self.code(index, &mut scratch, &mut piece);
                // A failed strip fails the frame: the other workers stop too.
                let (adler, filtered_len) =
                    coded.inspect_err(|_| next.store(count, Ordering::Relaxed))?;
                piece.align();
                done.push(CodedStrip {
                    index,
                    bytes: piece.into_bytes(),
                    adler,
                    filtered_len,
                });
            }
        };
        let mut pieces = std::thread::scope(|scope| {
            let others: Vec<_> = (1..threads.min(count))
                .filter_map(|_| {
                    let builder = std::thread::Builder::new().name("bufpng-strip".into());
                    builder.spawn_scoped(scope, work).ok()
                })
                .collect();
            let mut pieces = work();
            for other in others {
                let theirs = other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                pieces = pieces.and_then(|mut all| {
                    all.extend(theirs?);
                    Ok(all)
                });
            }
            pieces
        })?;
        pieces.sort_unstable_by_key(|strip| strip.index);
        let mut adler = 1;
        for strip in pieces {
            out.push_bytes(&strip.bytes);
            adler = deflate::adler32_combine(adler, strip.adler, strip.filtered_len);
        }
        Ok(adler)
    }

    /// Filters and codes the rows in `rows` as deflate blocks, the final
    /// one if `rows` reaches the frame's end, else ending on a byte boundary;
    /// returns the Adler-32 of the filtered bytes.
    fn code_rows(
        &self,
        rows: Range<usize>,
        scratch: &mut Vec<u8>,
        out: &mut BitWriter,
    ) -> Result<u32> {
        let (data, row_bytes) = (self.data, self.row_bytes);
        let last = rows.end * row_bytes == data.len();
        let rows_per_band = (deflate::BLOCK_BYTES / (row_bytes + 1)).max(1);
        let band_bytes = rows.len().min(rows_per_band) * (row_bytes + 1);
        if scratch.len() < band_bytes {
            scratch.resize(band_bytes, 0);
        }
        let mut zlib = match self.coder {
            Coder::Runs => None,
            Coder::Zlib { level, .. } => Some(ZlibStrip::new(level)),
        };
        let mut adler = 1;
        let mut first = rows.start;
        loop {
            let count = rows_per_band.min(rows.end - first);
            let band = &data[first * row_bytes..(first + count) * row_bytes];
            let above = first
                .checked_sub(1)
                .map(|row| &data[row * row_bytes..first * row_bytes]);
            let filtered = &mut scratch[..count * (row_bytes + 1)];
            filter_rows(
                self.coder.filter(),
                band,
                above,
                row_bytes,
                self.bpp,
                filtered,
            );
            adler = deflate::adler32(adler, filtered);
            first += count;
            let strip_done = first == rows.end;
            match &mut zlib {
                None => deflate::write_blocks(filtered, last && strip_done, out),
                Some(zlib) => zlib.code(filtered, strip_done, last, out)?,
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

fn crc(kind: &[u8; 4], data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    hasher.finalize()
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
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

/// Fills in the IDAT chunk whose data (the zlib stream) starts at
/// `stream_start` and runs to the end of `png`, and appends its CRC. A
/// stream over PNG's chunk limit is split over several IDAT chunks.
fn finish_idat(png: &mut Vec<u8>, stream_start: usize) {
    let stream_len = png.len() - stream_start;
    if stream_len <= MAX_CHUNK {
        png[stream_start - 8..stream_start - 4].copy_from_slice(&(stream_len as u32).to_be_bytes());
        let crc = crc(b"IDAT", &png[stream_start..]);
        png.extend_from_slice(&crc.to_be_bytes());
        return;
    }
    let stream = png.split_off(stream_start);
    png.truncate(stream_start - 8);
    for piece in stream.chunks(MAX_CHUNK) {
        png.extend_from_slice(&chunk(b"IDAT", piece));
    }
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

    const CODERS: [Coder; 3] = [
        Coder::Runs,
        Coder::Zlib {
            level: 2,
            filter: RowFilter::Up,
        },
        Coder::Zlib {
            level: 2,
            filter: RowFilter::Paeth,
        },
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
    fn compresses_smooth_content() {
        let layout = layout(640, 300, 3, Depth::Eight);
        let data = pixels(&layout, 1);
        assert!(encode(&layout, &data, Coder::Runs, 1, &[]).unwrap().len() < data.len() / 4);
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

    #[test]
    fn inconsistent_frames_are_refused_not_encoded() {
        let gray = layout(4, 4, 1, Depth::Eight);
        assert!(encode(&gray, &[0; 18], Coder::Runs, 1, &[]).is_err());
        assert!(encode(&layout(0, 4, 1, Depth::Eight), &[], Coder::Runs, 1, &[]).is_err());
        assert!(encode(&layout(4, 0, 1, Depth::Eight), &[], Coder::Runs, 1, &[]).is_err());
        let png = encode(&gray, &[0; 16], Coder::Runs, 1, &[]).unwrap();
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
    }
}
