//! PNG Restart Marker (libspng's png-restart-marker, proposed to the W3C
//! PNG working group as w3c/png#60): the `mARK` chunk, segmentation method
//! 0, and the parallel decoding of files that carry it.
//!
//! The image is cut into N horizontal segments of height / N rows, the
//! first taller by the remainder. Each segment's deflate data starts an
//! IDAT chunk, its first row is filtered with None or Sub (no row above),
//! and all but the last end on a full flush (nothing refers back across
//! it). `mARK` comes before the first IDAT: segmentation method (1 byte,
//! 0), segmentation type (1 byte: 0 = with offsets, 1 = one IDAT chunk a
//! segment), segment count (4 bytes), then for type 0 one 4-byte offset per
//! segment after the first: from the IDAT chunk header starting the
//! previous segment to the one starting this segment (1..=2^31-1).
//!
//! bufpng's striped writer writes type 0 (`striped.rs`); this reader
//! accepts both types and falls back to ordinary decoding (the png crate,
//! `decode.rs`) on anything it does not expect, as the proposal requires:
//! the chunk is ancillary, and a file it misdescribes is still a PNG.

use crate::decode::convert_row;
use crate::deflate;
use crate::filter::unfilter_row;
use crate::layout::{Depth, ImageLayout};
use crate::pixels::{zeroed_bytes, Frame, PixelFormat};
use crate::striped::{crc, on_threads};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub const MARK: [u8; 4] = *b"mARK";
const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// The largest offset (and chunk length) PNG and the proposal allow.
pub const MAX_OFFSET: usize = i32::MAX as usize;
/// Method, type, count.
const MARK_HEADER: usize = 6;
/// A zlib header (deflate, 32 KiB window, no dictionary) for segments after
/// the first, so an inflater that reads zlib streams can start there.
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];

/// The rows of segment `index` of `count` in an image of `height` rows:
/// height / count each, the first taller by the remainder.
pub fn segment_rows(height: usize, count: usize, index: usize) -> Range<usize> {
    let base = height / count;
    let first = base + height % count;
    match index {
        0 => 0..first,
        _ => first + (index - 1) * base..first + index * base,
    }
}

/// Bytes of the whole `mARK` chunk (length, type, data, CRC) for `count`
/// segments with offsets (type 0).
pub fn mark_chunk_len(count: usize) -> usize {
    12 + MARK_HEADER + 4 * (count - 1)
}

/// The `mARK` chunk's data, type 0, for segments whose chunks span
/// `spans` bytes each (IDAT headers and CRCs included); the last segment's
/// span is not needed. None when an offset would exceed 2^31-1.
pub fn mark_data(spans: &[usize]) -> Option<Vec<u8>> {
    let count = u32::try_from(spans.len()).ok()?;
    let mut data = Vec::with_capacity(MARK_HEADER + 4 * spans.len());
    data.extend_from_slice(&[0, 0]);
    data.extend_from_slice(&count.to_be_bytes());
    for &span in &spans[..spans.len() - 1] {
        let offset = u32::try_from(span)
            .ok()
            .filter(|&o| o as usize <= MAX_OFFSET)?;
        data.extend_from_slice(&offset.to_be_bytes());
    }
    Some(data)
}

/// One chunk of a PNG file: where its header starts, its type and data.
#[derive(Clone, Copy)]
struct Chunk<'a> {
    at: usize,
    kind: [u8; 4],
    data: &'a [u8],
    crc: u32,
}

impl Chunk<'_> {
    fn crc_ok(&self) -> bool {
        crc(&self.kind, self.data) == self.crc
    }

    fn critical(&self) -> bool {
        self.kind[0].is_ascii_uppercase()
    }
}

/// Walks the chunks from `at`, bounds-checked; None at anything malformed.
fn chunk_at(png: &[u8], at: usize) -> Option<Chunk<'_>> {
    let header = png.get(at..at.checked_add(8)?)?;
    let len = u32::from_be_bytes(header[..4].try_into().ok()?) as usize;
    if len > MAX_OFFSET {
        return None;
    }
    let data_start = at + 8;
    let data = png.get(data_start..data_start.checked_add(len)?)?;
    let crc = png.get(data_start + len..data_start + len + 4)?;
    Some(Chunk {
        at,
        kind: header[4..8].try_into().ok()?,
        data,
        crc: u32::from_be_bytes(crc.try_into().ok()?),
    })
}

/// What a file with restart markers holds, checked as far as can be
/// without decompressing: the header, the segments' IDAT chunks.
struct Layout<'a> {
    image: ImageLayout,
    /// Each segment's IDAT chunks, in order.
    segments: Vec<&'a [Chunk<'a>]>,
}

/// Chunks that change what the pixels decode to, or that belong to
/// animations: such files go the ordinary way.
const NOT_HERE: [&[u8; 4]; 4] = [b"tRNS", b"acTL", b"fcTL", b"fdAT"];

/// Reads `png`'s chunk layout and `mARK` chunk; None when there is no
/// `mARK` (stopping at the first IDAT, so files without one cost a glance
/// at their header chunks) or anything is not as the proposal and this
/// reader expect.
fn read_layout<'a>(png: &'a [u8], chunks: &'a mut Vec<Chunk<'a>>) -> Option<Layout<'a>> {
    if !png.starts_with(&SIGNATURE) {
        return None;
    }
    let mut at = SIGNATURE.len();
    let mut header = None;
    let mut mark = None;
    // Up to the first IDAT.
    let first_idat = loop {
        let chunk = chunk_at(png, at)?;
        at = chunk.at + chunk.data.len() + 12;
        match &chunk.kind {
            b"IHDR" if header.is_none() && chunk.at == SIGNATURE.len() => header = Some(chunk),
            b"mARK" if mark.is_none() => mark = Some(chunk),
            b"IDAT" => break chunk,
            kind if chunk.critical() || NOT_HERE.contains(&kind) => return None,
            _ => {}
        }
        if header.is_none() || !chunk.crc_ok() {
            return None;
        }
    };
    let (header, mark) = (header?, mark?);
    let image = image_layout(header.data)?;
    // The IDAT chunks (consecutive; their CRCs are checked as their
    // segments are decoded), then anything up to IEND.
    chunks.push(first_idat);
    let mut chunk = chunk_at(png, at)?;
    while &chunk.kind == b"IDAT" {
        chunks.push(chunk);
        chunk = chunk_at(png, chunk.at + chunk.data.len() + 12)?;
    }
    loop {
        if !chunk.crc_ok() {
            return None;
        }
        match &chunk.kind {
            b"IEND" if chunk.data.is_empty() => break,
            kind if chunk.critical() || NOT_HERE.contains(&kind) => return None,
            _ => chunk = chunk_at(png, chunk.at + chunk.data.len() + 12)?,
        }
    }
    let starts = segment_starts(mark.data, image.height as usize, chunks)?;
    let chunks: &'a [Chunk<'a>] = chunks;
    let segments = (starts.iter().enumerate())
        .map(|(i, &start)| &chunks[start..starts.get(i + 1).copied().unwrap_or(chunks.len())])
        .collect();
    Some(Layout { image, segments })
}

/// IHDR's image, for the kinds this reader decodes: 8- or 16-bit gray, RGB
/// or RGBA, not interlaced (the proposal covers interlace method 0 only).
fn image_layout(ihdr: &[u8]) -> Option<ImageLayout> {
    let ihdr: &[u8; 13] = ihdr.try_into().ok()?;
    let width = u32::from_be_bytes(ihdr[0..4].try_into().ok()?);
    let height = u32::from_be_bytes(ihdr[4..8].try_into().ok()?);
    let depth = match ihdr[8] {
        8 => Depth::Eight,
        16 => Depth::Sixteen,
        _ => return None,
    };
    let channels = match ihdr[9] {
        0 => 1,
        2 => 3,
        6 => 4,
        _ => return None,
    };
    let valid = |n: u32| (1..=MAX_OFFSET as u32).contains(&n);
    (valid(width) && valid(height) && ihdr[10..] == [0, 0, 0]).then_some(ImageLayout {
        width,
        height,
        channels,
        depth,
    })
}

/// The index in `idats` of the chunk that starts each segment, from the
/// `mARK` chunk's data; None for anything but a consistent method 0.
fn segment_starts(mark: &[u8], height: usize, idats: &[Chunk<'_>]) -> Option<Vec<usize>> {
    let (&[method, kind], rest) = mark.split_first_chunk::<2>()?;
    let (count, offsets) = rest.split_first_chunk::<4>()?;
    let count = u32::from_be_bytes(*count) as usize;
    if method != 0 || count < 2 || count >= height {
        return None;
    }
    match kind {
        // One IDAT chunk a segment.
        1 if offsets.is_empty() && idats.len() == count => Some((0..count).collect()),
        0 if offsets.len() as u64 == 4 * (count as u64 - 1) => {
            let mut starts = Vec::with_capacity(count);
            starts.push(0);
            let mut position = idats[0].at;
            let mut next = 0;
            for offset in offsets.chunks_exact(4) {
                let offset = u32::from_be_bytes(offset.try_into().ok()?) as usize;
                if offset == 0 || offset > MAX_OFFSET {
                    return None;
                }
                position = position.checked_add(offset)?;
                while idats.get(next)?.at < position {
                    next += 1;
                }
                if idats[next].at != position {
                    return None;
                }
                starts.push(next);
            }
            Some(starts)
        }
        _ => None,
    }
}

/// Decodes `png` segment by segment on up to `threads` threads (the
/// calling one included) when it carries a valid `mARK` chunk, into a frame
/// in `target`'s order and byte order. None when it carries none, or
/// anything is not as the chunk says (the caller then decodes the file the
/// ordinary way, which also reports what is wrong with it).
pub fn decode(png: &[u8], max_bytes: usize, target: PixelFormat, threads: usize) -> Option<Frame> {
    let mut chunks = Vec::new();
    let layout = read_layout(png, &mut chunks)?;
    let image = layout.image;
    crate::decode::check_size(
        image.width,
        image.height,
        image.channels,
        image.depth,
        max_bytes,
    )
    .ok()?;
    let row_bytes = image.row_bytes();
    // Stored (incompressible) data is copied, not decoded: memory-bound
    // work that a second thread does not speed up (measured: 1.4x the time
    // of the ordinary decoder on 1080p noise), so it goes the ordinary way.
    let coded: usize = layout
        .segments
        .iter()
        .flat_map(|s| s.iter())
        .map(|c| c.data.len())
        .sum();
    if coded as u64 * 10 > (image.height as u64 * (row_bytes as u64 + 1)) * 9 {
        return None;
    }
    let mut data = zeroed_bytes(image.byte_len(), String::new).ok()?;
    let count = layout.segments.len();
    // Each segment's rows of the output, taken by whichever worker decodes it.
    let mut outputs = Vec::with_capacity(count);
    let mut rest = &mut data[..];
    for index in 0..count {
        let rows = segment_rows(image.height as usize, count, index);
        let (mine, after) = rest.split_at_mut(rows.len() * row_bytes);
        outputs.push(std::sync::Mutex::new(mine));
        rest = after;
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || -> Vec<(usize, u32)> {
        let mut done = Vec::new();
        let mut scratch = Scratch::default();
        while !failed.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(output) = outputs.get(index) else {
                break;
            };
            let mut output = output.lock().unwrap_or_else(|poison| poison.into_inner());
            let segment = Segment {
                image: &image,
                chunks: layout.segments[index],
                first: index == 0,
                last: index + 1 == count,
            };
            match segment.decode(&mut scratch, &mut output, target) {
                Some(adler) => done.push((index, adler)),
                None => failed.store(true, Ordering::Relaxed),
            }
        }
        done
    };
    let mut adlers: Vec<(usize, u32)> = (on_threads(threads.min(count), "bufpng-segment", work)
        .into_iter()
        .flatten())
    .collect();
    if failed.load(Ordering::Relaxed) || adlers.len() != count {
        return None;
    }
    // The zlib stream's Adler-32, from the segments'.
    adlers.sort_unstable_by_key(|&(index, _)| index);
    let mut adler = 1;
    for &(index, segment_adler) in &adlers {
        let rows = segment_rows(image.height as usize, count, index).len();
        adler = deflate::adler32_combine(adler, segment_adler, rows * (row_bytes + 1));
    }
    let stored = layout.segments[count - 1].last()?;
    let stream_end = stored.data.get(stored.data.len().checked_sub(4)?..)?;
    if adler != u32::from_be_bytes(stream_end.try_into().ok()?) {
        return None;
    }
    Some(Frame {
        layout: image,
        format: target,
        data,
    })
}

/// One worker's buffers, reused from segment to segment.
#[derive(Default)]
struct Scratch {
    /// A segment's zlib data when it spans several IDAT chunks.
    joined: Vec<u8>,
    /// A segment's filtered rows, and a byte more to catch extra data.
    filtered: Vec<u8>,
    /// The row above and the row being unfiltered, in PNG's layout, when
    /// the output's differs.
    rows: (Vec<u8>, Vec<u8>),
}

/// One segment to decode: its IDAT chunks and where it sits in the image.
struct Segment<'a> {
    image: &'a ImageLayout,
    chunks: &'a [Chunk<'a>],
    first: bool,
    last: bool,
}

/// A final empty stored block: appended to a segment's data, it must end
/// the stream without output, which holds only if the segment ended on a
/// block boundary (a full flush), not inside a block that the next
/// segment's bytes would continue.
const FINAL_EMPTY_BLOCK: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];
/// How a full (or sync) flush ends: an empty stored block's LEN and NLEN.
const FLUSH_END: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

impl Segment<'_> {
    /// Inflates and unfilters the segment into `output` (its rows), then
    /// converts them to `target`; returns the Adler-32 of its filtered
    /// bytes, or None at any inconsistency.
    fn decode(&self, scratch: &mut Scratch, output: &mut [u8], target: PixelFormat) -> Option<u32> {
        if !self.chunks.iter().all(Chunk::crc_ok) {
            return None;
        }
        // fdeflate (the png crate's inflater) reads zlib streams: every
        // segment gets a zlib header (the first has its own, checked), and
        // every segment but the last a final empty block and a checksum
        // that is not checked (the stream's Adler-32 is, below).
        let stream = &mut scratch.joined;
        stream.clear();
        if !self.first {
            stream.extend_from_slice(&ZLIB_HEADER);
        }
        for chunk in self.chunks {
            stream.extend_from_slice(chunk.data);
        }
        if self.last {
            stream.truncate(stream.len().checked_sub(4)?);
        } else if !stream.ends_with(&FLUSH_END) {
            return None;
        }
        if !self.last {
            stream.extend_from_slice(&FINAL_EMPTY_BLOCK);
        }
        stream.extend_from_slice(&[0; 4]);
        let row_bytes = self.image.row_bytes();
        let rows = output.len() / row_bytes;
        let filtered_len = rows * (row_bytes + 1);
        // A byte more than the rows need, to catch a segment with more.
        scratch.filtered.resize(filtered_len + 1, 0);
        let filtered = &mut scratch.filtered[..];
        let mut inflater = fdeflate::Decompressor::new();
        inflater.ignore_adler32();
        let (mut read, mut written) = (0, 0);
        while !inflater.is_done() {
            let (more_in, more_out) =
                (inflater.read(&stream[read..], filtered, written, true)).ok()?;
            if more_in == 0 && more_out == 0 {
                return None;
            }
            (read, written) = (read + more_in, written + more_out);
        }
        // All the segment's data, exactly its rows, and (from the final
        // empty block) a stream that ended on a block boundary where the
        // segment ends.
        if read != stream.len() || written != filtered_len {
            return None;
        }
        let filtered = &filtered[..filtered_len];
        let bpp = self.image.pixel_bytes();
        let image = self.image;
        let convert = (image.channels >= 3 && target.order != PixelFormat::PNG.order)
            || (image.depth == Depth::Sixteen && target.endian != PixelFormat::PNG.endian);
        // Converted rows are unfiltered into two rows in PNG's layout (the
        // next row's filter needs this one as it was), each converted into
        // the output while in L1: converting the segment afterwards read
        // it back from memory (1.5 MB at 1080p, beyond L2).
        let (above_row, row_buffer) = &mut scratch.rows;
        if convert {
            above_row.resize(row_bytes, 0);
            row_buffer.resize(row_bytes, 0);
        }
        for (row, filtered_row) in filtered.chunks_exact(row_bytes + 1).enumerate() {
            let kind = filtered_row[0];
            // Only the image's first segment may start from the row above.
            if row == 0 && !self.first && kind > 1 {
                return None;
            }
            let filtered_row = &filtered_row[1..];
            let at = row * row_bytes;
            if convert {
                let above = (row > 0).then_some(&above_row[..]);
                if !unfilter_row(kind, filtered_row, above, bpp, row_buffer) {
                    return None;
                }
                convert_row(image, target, row_buffer, &mut output[at..at + row_bytes]);
                std::mem::swap(above_row, row_buffer);
            } else {
                let (done, rest) = output.split_at_mut(at);
                let above = (row > 0).then(|| &done[at - row_bytes..]);
                if !unfilter_row(kind, filtered_row, above, bpp, &mut rest[..row_bytes]) {
                    return None;
                }
            }
        }
        Some(deflate::adler32(1, filtered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode_png, DecodeOptions};
    use crate::encode::{encode_png, Compression};
    use crate::layout::Endian;
    use crate::pixels::ChannelOrder;

    fn frame(width: u32, height: u32, channels: u8, depth: Depth) -> Frame {
        let layout = ImageLayout {
            width,
            height,
            channels,
            depth,
        };
        let row = layout.row_bytes();
        let data = (0..layout.byte_len())
            .map(|i| {
                let (x, y) = ((i % row) as u32, (i / row) as u32);
                ((x / 3 + y * 2) as u8).wrapping_add(((x * y) ^ 7) as u8 % 5)
            })
            .collect();
        Frame {
            layout,
            format: PixelFormat::PNG,
            data,
        }
    }

    fn native(order: ChannelOrder) -> PixelFormat {
        PixelFormat {
            order,
            endian: Endian::NATIVE,
        }
    }

    /// The chunks of `png` in order, as (offset of the header, type, data).
    fn chunks(png: &[u8]) -> Vec<(usize, [u8; 4], &[u8])> {
        let mut found = Vec::new();
        let mut at = SIGNATURE.len();
        while let Some(chunk) = chunk_at(png, at) {
            found.push((at, chunk.kind, chunk.data));
            at += chunk.data.len() + 12;
        }
        found
    }

    /// `png` with the chunk of type `kind` replaced by `data` (CRC fixed).
    fn with_chunk(png: &[u8], kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let (at, _, old) = *chunks(png).iter().find(|(_, k, _)| k == kind).unwrap();
        let mut out = png[..at].to_vec();
        out.extend_from_slice(&crate::striped::chunk(kind, data));
        out.extend_from_slice(&png[at + old.len() + 12..]);
        out
    }

    #[test]
    fn segments_follow_the_proposal() {
        let height = 1000;
        let frame = frame(700, height, 3, Depth::Eight);
        let png = encode_png(&frame, Compression::Default, 2).unwrap();
        let found = chunks(&png);
        let kinds: Vec<&[u8; 4]> = found.iter().map(|(_, kind, _)| kind).collect();
        let mark_index = kinds.iter().position(|k| *k == b"mARK").unwrap();
        assert_eq!(
            kinds[mark_index + 1],
            b"IDAT",
            "mARK right before the first IDAT"
        );
        let mark = found[mark_index].2;
        let count = u32::from_be_bytes(mark[2..6].try_into().unwrap()) as usize;
        assert_eq!(&mark[..2], &[0, 0], "method 0, type 0");
        assert_eq!(mark.len(), 6 + 4 * (count - 1));
        let idats: Vec<_> = found.iter().filter(|(_, k, _)| k == b"IDAT").collect();
        assert_eq!(idats.len(), count, "one IDAT chunk a segment");
        // Offsets lead from one segment's IDAT header to the next one's.
        let mut position = idats[0].0;
        for (offset, idat) in mark[6..].chunks(4).zip(&idats[1..]) {
            position += u32::from_be_bytes(offset.try_into().unwrap()) as usize;
            assert_eq!(position, idat.0);
        }
        // Each segment's first row is filtered with None or Sub; all but
        // the last end on a flush; heights as the proposal divides them.
        let row = frame.layout.row_bytes() + 1;
        for (index, idat) in idats.iter().enumerate() {
            let mut data = idat.2.to_vec();
            if index == 0 {
                data.drain(..2);
            }
            let rows = segment_rows(height as usize, count, index);
            let mut filtered = vec![0; rows.len() * row];
            let mut inflater = flate2::Decompress::new(false);
            inflater
                .decompress(&data, &mut filtered, flate2::FlushDecompress::Sync)
                .unwrap();
            assert_eq!(
                inflater.total_out() as usize,
                filtered.len(),
                "segment {index}"
            );
            assert!(
                filtered[0] <= 1,
                "segment {index} starts with filter {}",
                filtered[0]
            );
            if index + 1 < count {
                assert!(data.ends_with(&FLUSH_END));
            }
        }
        assert_eq!(segment_rows(10, 3, 0), 0..4);
        assert_eq!(segment_rows(10, 3, 2), 7..10);
    }

    #[test]
    fn segments_decode_in_parallel_to_what_the_png_crate_decodes() {
        for (channels, depth) in [
            (1, Depth::Eight),
            (3, Depth::Eight),
            (4, Depth::Eight),
            (3, Depth::Sixteen),
            (4, Depth::Sixteen),
        ] {
            // Just over 1 MiB, so the writer cuts 2 strips.
            let width = 1_200_000 / 400 / (channels as u32 * depth.bytes() as u32);
            let frame = frame(width, 400, channels, depth);
            for compression in [
                Compression::Default,
                Compression::Level(0),
                Compression::Level(1),
                Compression::Level(3),
            ] {
                let png = encode_png(&frame, compression, 2).unwrap();
                assert!(chunks(&png).iter().any(|(_, kind, _)| kind == b"mARK"));
                let ordinary = decode_png(&png, DecodeOptions::default()).unwrap();
                for order in [ChannelOrder::Bgr, ChannelOrder::Rgb] {
                    let expected = ordinary.to_format(native(order));
                    // Stored files go the ordinary way (copying gains
                    // nothing from threads).
                    let wanted = (compression != Compression::Level(0)).then_some(&expected);
                    for threads in [1, 2, 3, 16] {
                        let decoded = decode(&png, usize::MAX, native(order), threads);
                        assert!(
                            decoded.as_ref() == wanted,
                            "{channels} {depth:?} {compression:?} {order:?} {threads}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn files_without_a_valid_mark_go_the_ordinary_way() {
        let frame = frame(900, 700, 3, Depth::Eight);
        let png = encode_png(&frame, Compression::Default, 2).unwrap();
        let target = PixelFormat::PNG;
        assert!(decode(&png, usize::MAX, target, 2).is_some());
        let found = chunks(&png);
        let mark = found.iter().find(|(_, kind, _)| kind == b"mARK").unwrap().2;
        let count = u32::from_be_bytes(mark[2..6].try_into().unwrap());
        let mut hostile: Vec<Vec<u8>> = Vec::new();
        for forged_count in [0, 1, count - 1, count + 1, 700, 701, u32::MAX] {
            let mut forged = mark.to_vec();
            forged[2..6].copy_from_slice(&forged_count.to_be_bytes());
            hostile.push(forged);
        }
        for (at, value) in [
            (0, 1u8),
            (1, 1),
            (1, 2),
            (6, 0x80),
            (9, 1),
            (mark.len() - 1, mark[mark.len() - 1] ^ 1),
        ] {
            let mut forged = mark.to_vec();
            forged[at] = value;
            hostile.push(forged);
        }
        for offset in [0u32, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX] {
            let mut forged = mark.to_vec();
            forged[6..10].copy_from_slice(&offset.to_be_bytes());
            hostile.push(forged);
        }
        hostile.push(mark[..mark.len() - 4].to_vec());
        hostile.push([mark, &[0, 0, 0, 1]].concat());
        hostile.push(Vec::new());
        for forged in hostile {
            let png = with_chunk(&png, b"mARK", &forged);
            assert!(decode(&png, usize::MAX, target, 2).is_none(), "{forged:?}");
            // And the ordinary decoder, which ignores mARK, still reads it.
            let options = DecodeOptions {
                threads: 2,
                order: ChannelOrder::Rgb,
                ..DecodeOptions::default()
            };
            assert!(decode_png(&png, options).unwrap().data == frame.data);
        }
        // A PNG without mARK, and type 1 on a stream not cut at its IDATs:
        // the png crate's file, its stream split over three IDAT chunks.
        let mut plain = Vec::new();
        let mut encoder = png::Encoder::new(&mut plain, 900, 700);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&frame.data).unwrap();
        writer.finish().unwrap();
        assert!(decode(&plain, usize::MAX, target, 2).is_none());
        let stream: Vec<u8> = chunks(&plain)
            .iter()
            .filter(|(_, kind, _)| kind == b"IDAT")
            .flat_map(|(_, _, data)| data.iter().copied())
            .collect();
        let ihdr = chunks(&plain)[0].2.to_vec();
        let third = stream.len() / 3;
        let mut forged = SIGNATURE.to_vec();
        for (kind, data) in [
            (b"IHDR", &ihdr[..]),
            (b"mARK", &[0, 1, 0, 0, 0, 3][..]),
            (b"IDAT", &stream[..third]),
            (b"IDAT", &stream[third..2 * third]),
            (b"IDAT", &stream[2 * third..]),
            (b"IEND", &[][..]),
        ] {
            forged.extend_from_slice(&crate::striped::chunk(kind, data));
        }
        assert!(decode(&forged, usize::MAX, target, 2).is_none());
        assert!(
            decode_png(
                &forged,
                DecodeOptions {
                    threads: 2,
                    order: ChannelOrder::Rgb,
                    ..DecodeOptions::default()
                }
            )
            .unwrap()
            .data
                == frame.data
        );
        // A corrupt segment (flipped byte inside the data, CRC fixed): never a
        // different picture from the ordinary decoder's verdict.
        let (at, _, data) = *found
            .iter()
            .filter(|(_, kind, _)| kind == b"IDAT")
            .nth(1)
            .unwrap();
        let mut data = data.to_vec();
        data[100] ^= 0x40;
        let mut corrupt = png[..at].to_vec();
        corrupt.extend_from_slice(&crate::striped::chunk(b"IDAT", &data));
        corrupt.extend_from_slice(&png[at + data.len() + 12..]);
        let ordinary = decode_png(&corrupt, DecodeOptions::default())
            .map(|f| f.data)
            .ok();
        let parallel = decode(&corrupt, usize::MAX, target, 2).map(|f| f.data);
        assert!(parallel.is_none() || parallel == ordinary);
    }
}
