//! PNG decoding with the png crate, to the layout OpenCV's
//! `cv2.imread(path, cv2.IMREAD_UNCHANGED)` returns (rules in `docs/decoding.md`):
//!
//! - palette images become 3 channels, or 4 when a tRNS chunk gives alpha;
//! - 1/2/4-bit gray is scaled to 8-bit (1-bit 0/1 become 0/255);
//! - gray + alpha becomes 4 channels (gray, gray, gray, alpha);
//! - a tRNS chunk adds alpha to truecolour and palette images, not to gray;
//! - 16-bit stays 16-bit, stored in native byte order;
//! - interlaced images are de-interlaced.

use crate::error::{memory_error, value_error};
use crate::layout::{Depth, Endian, ImageLayout};
use crate::metadata::{self, Metadata};
use crate::pixels::{convert_packed, zeroed_bytes, ChannelOrder, Frame, PixelFormat};
use crate::restart;
use crate::swap_rb::{shuffle, Rgb16ToLittleBgr, Rgb8, Rgba16ToLittleBgra, Rgba8};
use crate::FileError;
use anyhow::{Context, Result};
use png::{BitDepth, ColorType, DecodingError, Transformations};
use std::io::Cursor;
use std::path::Path;

/// Default cap on the memory one decode may use for pixels (1 GiB): well above
/// any real photo or video frame (8K RGBA 16-bit is 265 MB), far below what a
/// forged header can declare (2^31 x 2^31 pixels).
pub const DEFAULT_MAX_BYTES: usize = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Channel order of the decoded colour frames.
    pub order: ChannelOrder,
    /// The most bytes of pixels (and ancillary chunk data) a decode may allocate.
    pub max_bytes: usize,
    /// Corrupt metadata chunks are errors rather than skipped.
    pub strict: bool,
    /// Threads a file with PNG Restart Markers may be decoded on (the
    /// calling one included; `restart.rs`). Other files use one.
    pub threads: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            order: ChannelOrder::default(),
            max_bytes: DEFAULT_MAX_BYTES,
            strict: false,
            threads: 1,
        }
    }
}

/// Decodes a complete PNG file held in memory.
pub fn decode_png(data: &[u8], options: DecodeOptions) -> Result<Frame> {
    Ok(decode_with_metadata(data, options)?.0)
}

/// Decodes a complete PNG file held in memory, with its metadata. Corrupt
/// metadata chunks are left out (and out of what the image decoder sees,
/// as it refuses some outright) unless `options.strict`.
pub fn decode_with_metadata(data: &[u8], options: DecodeOptions) -> Result<(Frame, Metadata)> {
    if data.is_empty() {
        return Err(value_error(
            "cannot decode PNG: the data is empty (0 bytes)",
        ));
    }
    let found = metadata::read(data, options.strict, options.max_bytes)?;
    let data = found.cleaned.as_deref().unwrap_or(data);
    Ok((decode_pixels(data, options)?, found.metadata))
}

fn decode_pixels(data: &[u8], options: DecodeOptions) -> Result<Frame> {
    if options.threads > 1 {
        let target = PixelFormat {
            order: options.order,
            endian: Endian::NATIVE,
        };
        if let Some(frame) = restart::decode(data, options.max_bytes, target, options.threads) {
            return Ok(frame);
        }
    }
    let still = without_animation(data);
    let data = still.as_deref().unwrap_or(data);
    let mut png_options = png::DecodeOptions::default();
    // metadata::read has the text; strict also refuses bad ancillary CRCs.
    png_options.set_ignore_text_chunk(true);
    png_options.set_skip_ancillary_crc_failures(!options.strict);
    // The png crate skips the zlib stream's Adler-32 unless told; libpng
    // (OpenCV), libspng and the restart-marker path check it, so a stream
    // damaged under an intact CRC (an encoder bug, a bad re-chunking) fails
    // here too, not only there.
    png_options.set_ignore_adler32(false);
    let decoder = png::Decoder::new_with_options(Cursor::new(data), png_options);
    let (mut reader, depth) = start_decoding(decoder, data.len(), options)?;
    let (width, height) = reader.info().size();
    let fail = |e| decode_error(e, options.max_bytes);
    // The header check counted channels without tRNS; this is the exact count.
    let info = reader.info();
    let channels = channels(info.color_type, info.trns.is_some());
    let (decoded_color, _) = reader.output_color_type();
    // Gray + tRNS decodes to 2 samples before the alpha is dropped.
    let most = channels.max(decoded_color.samples() as u8);
    check_size(width, height, most, depth, options.max_bytes)?;
    let layout = ImageLayout {
        width,
        height,
        channels,
        depth,
    };
    // None would mean beyond the address space, which the check above excludes
    // unless max_bytes is set that high.
    let decoded_len = reader
        .output_buffer_size()
        .ok_or_else(|| fail(DecodingError::LimitsExceeded))?;
    // A bomb within max_bytes can still exceed the memory there is: that is a
    // MemoryError, not an abort of the whole process.
    let no_memory = || {
        format!("cannot allocate {decoded_len} bytes to decode a {width}x{height} PNG: not enough memory (lower max_bytes to refuse such files with a ValueError)")
    };
    if decoded_color == ColorType::GrayscaleAlpha || reader.info().interlaced {
        let mut decoded = zeroed_bytes(decoded_len, no_memory)?;
        reader.next_frame(&mut decoded).map_err(fail)?;
        // Reads and checks everything up to IEND, so a truncated or corrupt tail fails.
        reader.finish().map_err(fail)?;
        return Ok(to_opencv_layout(
            decoded,
            decoded_color,
            layout,
            options.order,
        ));
    }
    // Everything else decodes row by row, each row appended to the output
    // and converted there while it is in cache: no zeroed buffer first, and
    // one pass over the output instead of three (zeroing, the png crate's
    // copy, the in-place BGR swap).
    let target = PixelFormat {
        order: options.order,
        endian: Endian::NATIVE,
    };
    let convert = (channels >= 3 && target.order != PixelFormat::PNG.order)
        || (depth == Depth::Sixteen && target.endian != PixelFormat::PNG.endian);
    let mut data = Vec::new();
    data.try_reserve_exact(decoded_len)
        .map_err(|_| memory_error(no_memory()))?;
    let row_bytes = layout.row_bytes();
    // The png crate's rows have OpenCV's layout for these colour types, and
    // it gives every row or an error; checked all the same, as an error
    // rather than a panic or a wrong picture.
    let short = || value_error("cannot decode PNG: the decoder gave rows of the wrong size");
    while let Some(row) = reader.next_row().map_err(fail)? {
        let row = row.data();
        if row.len() != row_bytes || data.len() + row_bytes > decoded_len {
            return Err(short());
        }
        if convert {
            // The row's place in the output, zeroed and then converted into
            // while its cache lines are in L1 (cheaper than converting into
            // a row buffer and copying that).
            let at = data.len();
            data.resize(at + row_bytes, 0);
            convert_row(&layout, target, row, &mut data[at..]);
        } else {
            data.extend_from_slice(row);
        }
    }
    reader.finish().map_err(fail)?;
    if data.len() != layout.byte_len() {
        return Err(short());
    }
    Ok(Frame {
        layout,
        format: target,
        data,
    })
}

/// A decoded row (PNG's order and byte order) to `target`'s in `out`.
/// RGB(A) to BGR(A), 8-bit and 16-bit to little-endian, most of the work
/// on files with little to decode, take the vectorisable kernels
/// (`swap_rb.rs`); 16-bit samples kept in RGB order only change byte
/// order, which the compiler already vectorises in `convert_packed` (and
/// faster than a masked-load kernel: 0.23 against 0.33 ms a 1080p frame).
pub(crate) fn convert_row(layout: &ImageLayout, target: PixelFormat, row: &[u8], out: &mut [u8]) {
    let swap = layout.channels >= 3 && target.order != PixelFormat::PNG.order;
    let sixteen = layout.depth == Depth::Sixteen;
    let to_little =
        sixteen && target.endian == Endian::Little && PixelFormat::PNG.endian == Endian::Big;
    match (swap, sixteen, to_little, layout.channels) {
        (true, false, _, 3) => shuffle::<Rgb8, _>(row, out),
        (true, false, _, 4) => shuffle::<Rgba8, _>(row, out),
        (true, true, true, 3) => shuffle::<Rgb16ToLittleBgr, _>(row, out),
        (true, true, true, 4) => shuffle::<Rgba16ToLittleBgra, _>(row, out),
        _ => convert_packed(layout, PixelFormat::PNG, target, row, out),
    }
}

/// The chunks only an animation needs: a still decode reads the default
/// image (IDAT) and, as libpng and OpenCV do, ignores these, so damage to
/// them (sequence gaps, repeats, reordering, which the png crate refuses)
/// does not cost the intact default image. `decode_animation` checks them.
const ANIMATION_CHUNKS: [&[u8; 4]; 3] = [b"acTL", b"fcTL", b"fdAT"];

/// A copy of `data` without animation chunks, or None when it has none
/// (plain PNGs are decoded in place). Walks the chunk structure only; what
/// follows a chunk that runs past the end is kept for the decoder to judge.
fn without_animation(data: &[u8]) -> Option<Vec<u8>> {
    let chunk_at = |at: usize| -> Option<(&[u8], usize)> {
        let length = u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?) as usize;
        let end = at.checked_add(12)?.checked_add(length)?;
        Some((data.get(at + 4..at + 8)?, end)).filter(|_| end <= data.len())
    };
    let mut at = 8;
    let mut kept: Option<Vec<u8>> = None;
    while let Some((kind, end)) = chunk_at(at) {
        let animation = ANIMATION_CHUNKS.iter().any(|name| kind == &name[..]);
        match (&mut kept, animation) {
            (None, true) => kept = Some(data[..at].to_vec()),
            (Some(out), false) => out.extend_from_slice(&data[at..end]),
            _ => {}
        }
        at = end;
    }
    let mut out = kept?;
    out.extend_from_slice(&data[at..]);
    Some(out)
}

/// The png crate's decoded samples (`decoded_color`, big-endian) as a frame
/// of `layout` (OpenCV's channel count) in `order`, native-endian.
pub(crate) fn to_opencv_layout(
    decoded: Vec<u8>,
    decoded_color: ColorType,
    layout: ImageLayout,
    order: ChannelOrder,
) -> Frame {
    let sample_bytes = layout.depth.bytes();
    let data = match (decoded_color, layout.channels) {
        (ColorType::GrayscaleAlpha, 1) => drop_alpha(&decoded, sample_bytes),
        (ColorType::GrayscaleAlpha, 4) => gray_alpha_to_rgba(&decoded, sample_bytes),
        _ => decoded,
    };
    let frame = Frame {
        layout,
        format: PixelFormat::PNG,
        data,
    };
    frame.into_format(PixelFormat {
        order,
        endian: Endian::NATIVE,
    })
}

/// Opens a decoder with bufpng's limits and transformations, and checks the
/// header before anything the size of the image is allocated, so a forged
/// header costs an error, not gigabytes: the declared size must fit
/// `max_bytes`, and the file must be large enough to hold it. tRNS (which may
/// add alpha) comes after the header, so the count here is without it.
pub(crate) fn start_decoding(
    mut decoder: png::Decoder<Cursor<&[u8]>>,
    file_len: usize,
    options: DecodeOptions,
) -> Result<(png::Reader<Cursor<&[u8]>>, Depth)> {
    let fail = |e| decode_error(e, options.max_bytes);
    decoder.set_limits(png::Limits {
        bytes: options.max_bytes,
    });
    // EXPAND: palette to RGB(A), 1/2/4-bit gray scaled to 8-bit, tRNS to alpha.
    decoder.set_transformations(Transformations::EXPAND);
    let header = decoder.read_header_info().map_err(fail)?;
    let (width, height) = header.size();
    let depth = match header.bit_depth {
        BitDepth::Sixteen => Depth::Sixteen,
        _ => Depth::Eight,
    };
    check_size(
        width,
        height,
        channels(header.color_type, false),
        depth,
        options.max_bytes,
    )?;
    check_plausible(
        width,
        height,
        header.color_type.samples() as u64 * header.bit_depth as u64,
        file_len,
    )?;
    let reader = decoder.read_info().map_err(fail)?;
    // A PLTE of other than whole RGB entries is invalid (libpng and libspng
    // refuse it), and the png crate's palette expansion panics on one
    // (png 0.18.1, found by the decode fuzz target).
    if let Some(palette) = &reader.info().palette {
        if palette.len() % 3 != 0 {
            return Err(value_error(format!(
                "cannot decode PNG: its PLTE chunk is {} bytes long, not a whole number of 3-byte entries",
                palette.len()
            )));
        }
    }
    Ok((reader, depth))
}

/// OpenCV's channel count: its libpng reader ignores tRNS on gray images
/// and turns gray + alpha into BGRA.
pub(crate) fn channels(color: ColorType, has_trns: bool) -> u8 {
    match (color, has_trns) {
        (ColorType::Grayscale, _) => 1,
        (ColorType::Rgb | ColorType::Indexed, false) => 3,
        _ => 4,
    }
}

pub(crate) fn check_size(
    width: u32,
    height: u32,
    channels: u8,
    depth: Depth,
    max_bytes: usize,
) -> Result<()> {
    let bytes =
        u128::from(width) * u128::from(height) * u128::from(channels) * depth.bytes() as u128;
    if bytes > max_bytes as u128 {
        return Err(value_error(format!(
            "the PNG declares a {width}x{height} image with {channels} {}-bit channels, {bytes} bytes of pixels, more than the decoding limit of max_bytes={max_bytes} bytes: pass a larger max_bytes if you trust the file",
            depth.bits(),
        )));
    }
    Ok(())
}

/// Deflate shrinks data at most 1032 times (a 258-byte match in 2 bits), so
/// a file cannot hold more pixels than that: a small file declaring a huge
/// image is forged or truncated, and is refused before anything of the
/// declared size is allocated.
const MAX_DEFLATE_RATIO: u128 = 1032;

pub(crate) fn check_plausible(
    width: u32,
    height: u32,
    bits_per_pixel: u64,
    file_len: usize,
) -> Result<()> {
    // The pixels alone, without filter bytes: a lower bound on the
    // decompressed size, interlaced or not.
    let least = u128::from(width) * u128::from(height) * u128::from(bits_per_pixel) / 8;
    if least > file_len as u128 * MAX_DEFLATE_RATIO {
        return Err(value_error(format!(
            "cannot decode PNG: it declares a {width}x{height} image, at least {least} bytes of pixels, but the data is only {file_len} bytes and PNG compression shrinks data at most {MAX_DEFLATE_RATIO} times: the header is forged or the file is truncated"
        )));
    }
    Ok(())
}

/// Reads and decodes a PNG file. I/O errors are `FileError`s naming `path`;
/// decoding errors are prefixed with the path.
pub fn read_png(path: &Path, options: DecodeOptions) -> Result<Frame> {
    Ok(read_with_metadata(path, options)?.0)
}

/// `read_png` with the file's metadata, as `decode_with_metadata`.
pub fn read_with_metadata(path: &Path, options: DecodeOptions) -> Result<(Frame, Metadata)> {
    let data = std::fs::read(path).map_err(|source| FileError {
        path: path.to_path_buf(),
        source,
    })?;
    decode_with_metadata(&data, options).with_context(|| path.display().to_string())
}

pub(crate) fn decode_error(error: DecodingError, max_bytes: usize) -> anyhow::Error {
    value_error(match error {
        DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "cannot decode PNG: the data ends early (a truncated file?)".to_string()
        }
        DecodingError::LimitsExceeded => format!(
            "cannot decode PNG: it needs more memory than the decoding limit of max_bytes={max_bytes} bytes: pass a larger max_bytes if you trust the file"
        ),
        other => format!("cannot decode PNG: {}", plain_chunk_names(&other.to_string())),
    })
}

/// The png crate prints chunk types with Debug (`ChunkType { type: IDAT,
/// critical: true, .. }`); the name alone is what a reader needs.
fn plain_chunk_names(message: &str) -> String {
    const OPEN: &str = "ChunkType { type: ";
    let mut out = String::new();
    let mut rest = message;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let (Some(comma), Some(close)) = (after.find(','), after.find('}')) else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&after[..comma.min(close)]);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Gray + alpha samples to gray only.
fn drop_alpha(decoded: &[u8], sample_bytes: usize) -> Vec<u8> {
    decoded
        .chunks_exact(2 * sample_bytes)
        .flat_map(|ga| &ga[..sample_bytes])
        .copied()
        .collect()
}

/// Gray + alpha samples to gray, gray, gray, alpha (as OpenCV does).
fn gray_alpha_to_rgba(decoded: &[u8], sample_bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(decoded.len() * 2);
    for ga in decoded.chunks_exact(2 * sample_bytes) {
        let (gray, alpha) = ga.split_at(sample_bytes);
        for _ in 0..3 {
            out.extend_from_slice(gray);
        }
        out.extend_from_slice(alpha);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::encode::{encode_png, Compression};

    fn png_of(
        width: u32,
        height: u32,
        color: ColorType,
        depth: BitDepth,
        trns: Option<&[u8]>,
        palette: Option<&[u8]>,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        if let Some(palette) = palette {
            encoder.set_palette(palette.to_vec());
        }
        if let Some(trns) = trns {
            encoder.set_trns(trns.to_vec());
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    fn options(order: ChannelOrder) -> DecodeOptions {
        DecodeOptions {
            order,
            ..DecodeOptions::default()
        }
    }

    #[test]
    fn rgb_comes_back_in_the_requested_order() {
        let png = png_of(
            2,
            1,
            ColorType::Rgb,
            BitDepth::Eight,
            None,
            None,
            &[1, 2, 3, 4, 5, 6],
        );
        let bgr = decode_png(&png, options(ChannelOrder::Bgr)).unwrap();
        assert_eq!(bgr.layout.channels, 3);
        assert_eq!(bgr.data, [3, 2, 1, 6, 5, 4]);
        let rgb = decode_png(&png, options(ChannelOrder::Rgb)).unwrap();
        assert_eq!(rgb.data, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn sixteen_bit_is_native_endian() {
        let png = png_of(
            1,
            1,
            ColorType::Grayscale,
            BitDepth::Sixteen,
            None,
            None,
            &[0x12, 0x34],
        );
        let frame = decode_png(&png, DecodeOptions::default()).unwrap();
        assert_eq!(frame.layout.depth, Depth::Sixteen);
        assert_eq!(frame.data, 0x1234u16.to_ne_bytes());
    }

    #[test]
    fn low_bit_gray_is_scaled_to_eight_bits() {
        // 1-bit: 1,0,1,1 then padding.
        let png = png_of(
            4,
            1,
            ColorType::Grayscale,
            BitDepth::One,
            None,
            None,
            &[0b1011_0000],
        );
        let frame = decode_png(&png, DecodeOptions::default()).unwrap();
        assert_eq!(frame.data, [255, 0, 255, 255]);
        let png = png_of(
            2,
            1,
            ColorType::Grayscale,
            BitDepth::Two,
            None,
            None,
            &[0b0110_0000],
        );
        assert_eq!(
            decode_png(&png, DecodeOptions::default()).unwrap().data,
            [85, 170]
        );
    }

    #[test]
    fn palette_expands_and_trns_adds_alpha() {
        let palette = [10, 20, 30, 40, 50, 60];
        let png = png_of(
            2,
            1,
            ColorType::Indexed,
            BitDepth::Eight,
            None,
            Some(&palette),
            &[1, 0],
        );
        let frame = decode_png(&png, DecodeOptions::default()).unwrap();
        assert_eq!(frame.layout.channels, 3);
        assert_eq!(frame.data, [60, 50, 40, 30, 20, 10]);
        let png = png_of(
            2,
            1,
            ColorType::Indexed,
            BitDepth::Eight,
            Some(&[7]),
            Some(&palette),
            &[1, 0],
        );
        let frame = decode_png(&png, DecodeOptions::default()).unwrap();
        assert_eq!(frame.layout.channels, 4);
        // Entries beyond the tRNS list are opaque.
        assert_eq!(frame.data, [60, 50, 40, 255, 30, 20, 10, 7]);
    }

    #[test]
    fn gray_alpha_becomes_four_channels_and_gray_trns_is_ignored() {
        let png = png_of(
            1,
            1,
            ColorType::GrayscaleAlpha,
            BitDepth::Eight,
            None,
            None,
            &[9, 200],
        );
        assert_eq!(
            decode_png(&png, DecodeOptions::default()).unwrap().data,
            [9, 9, 9, 200]
        );
        let png = png_of(
            2,
            1,
            ColorType::Grayscale,
            BitDepth::Eight,
            Some(&[0, 9]),
            None,
            &[9, 10],
        );
        let frame = decode_png(&png, DecodeOptions::default()).unwrap();
        assert_eq!(frame.layout.channels, 1);
        assert_eq!(frame.data, [9, 10]);
    }

    #[test]
    fn round_trips_through_encode() {
        let data: Vec<u8> = (0..5 * 3 * 4 * 2).map(|i| (i * 7) as u8).collect();
        let frame = Frame {
            layout: ImageLayout {
                width: 5,
                height: 3,
                channels: 4,
                depth: Depth::Sixteen,
            },
            format: PixelFormat {
                order: ChannelOrder::Bgr,
                endian: Endian::NATIVE,
            },
            data,
        };
        let png = encode_png(&frame, Compression::Default, 1).unwrap();
        assert_eq!(decode_png(&png, DecodeOptions::default()).unwrap(), frame);
    }

    #[test]
    fn every_truncation_fails() {
        let png = png_of(3, 2, ColorType::Rgb, BitDepth::Eight, None, None, &[7; 18]);
        for end in 0..png.len() {
            let err = decode_png(&png[..end], DecodeOptions::default()).unwrap_err();
            assert!(
                err.downcast_ref::<crate::InputError>().is_some(),
                "{end}: {err}"
            );
        }
    }

    #[test]
    fn huge_declared_size_fails_before_allocating() {
        let png = png_of(
            1,
            1,
            ColorType::Rgba,
            BitDepth::Sixteen,
            None,
            None,
            &[0; 8],
        );
        let forged = with_size(&png, 0x7fff_ffff, 0x7fff_ffff);
        let err = decode_png(&forged, DecodeOptions::default()).unwrap_err();
        assert!(err.to_string().contains("2147483647x2147483647"), "{err}");
        let small = DecodeOptions {
            max_bytes: 7,
            ..DecodeOptions::default()
        };
        assert!(decode_png(&png, small).is_err());
    }

    /// Regression: a 74-byte file declaring 16300x16300 RGBA (1 GB, under the
    /// default limit) allocated the whole gigabyte before finding the data
    /// missing, and aborted the process where that much memory was not there.
    #[test]
    fn a_small_file_declaring_a_huge_image_fails_before_allocating() {
        let png = png_of(1, 1, ColorType::Rgba, BitDepth::Eight, None, None, &[0; 4]);
        let forged = with_size(&png, 16_300, 16_300);
        let err = decode_png(&forged, DecodeOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("forged or the file is truncated"),
            "{err}"
        );
        assert!(err.downcast_ref::<crate::InputError>().is_some());
        // A file that could hold its image is not refused by this check.
        assert!(check_plausible(1032, 8, 8, 8).is_ok());
        assert!(check_plausible(1033, 8, 8, 8).is_err());
    }

    /// `png` with its IHDR size replaced (and its CRC fixed).
    fn with_size(png: &[u8], width: u32, height: u32) -> Vec<u8> {
        let mut forged = png.to_vec();
        // IHDR data starts at byte 16: width, height; then the CRC.
        forged[16..20].copy_from_slice(&width.to_be_bytes());
        forged[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&forged[12..29]);
        forged[29..33].copy_from_slice(&crc.to_be_bytes());
        forged
    }

    /// Regression (decode fuzz target): a PLTE of 38 bytes, CRC intact, made
    /// the png crate's palette expansion panic; it is a ValueError, as in
    /// libpng and libspng.
    #[test]
    fn a_palette_of_partial_entries_is_refused_not_a_panic() {
        let png = png_of(
            2,
            1,
            ColorType::Indexed,
            BitDepth::Eight,
            Some(&[7]),
            Some(&[1; 6]),
            &[1, 0],
        );
        // PLTE (6 bytes) follows IHDR: lengthen it to 8 bytes, CRC fixed.
        let at = 33;
        assert_eq!(&png[at + 4..at + 8], b"PLTE");
        let mut forged = png[..at].to_vec();
        let mut chunk = b"PLTE".to_vec();
        chunk.extend_from_slice(&[1; 8]);
        forged.extend_from_slice(&8u32.to_be_bytes());
        forged.extend_from_slice(&chunk);
        forged.extend_from_slice(&crc32(&chunk).to_be_bytes());
        forged.extend_from_slice(&png[at + 18..]);
        for threads in [1, 2] {
            let options = DecodeOptions {
                threads,
                ..DecodeOptions::default()
            };
            let err = decode_png(&forged, options).unwrap_err();
            assert!(err.to_string().contains("PLTE chunk is 8 bytes"), "{err}");
            assert!(err.downcast_ref::<crate::InputError>().is_some());
        }
    }

    #[test]
    fn chunk_names_are_plain() {
        assert_eq!(
            plain_chunk_names("CRC error while decoding ChunkType { type: IDAT, critical: true, private: false } chunk."),
            "CRC error while decoding IDAT chunk."
        );
        assert_eq!(plain_chunk_names("no chunk here"), "no chunk here");
    }

    /// PNG's chunk CRC, for tests that forge chunks (apng's tests use it too).
    pub(crate) fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
