//! What a buffer exporter described, checked against what an image must be.
//!
//! `plan_source` is the generalised form of the original question's
//! `view.len == 3*w*h` check: it turns an exporter's shape, strides and format
//! into an image layout plus byte strides, or an error that says what is wrong
//! and how to fix it. Nothing here touches the pixels.

use crate::error::{overflow_error, type_error, value_error};
use anyhow::Result;

/// PNG's limit on either dimension (2^31 - 1).
pub const MAX_DIMENSION: u64 = (1 << 31) - 1;

/// Bits per sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Eight,
    Sixteen,
}

impl Depth {
    pub fn bytes(self) -> usize {
        match self {
            Depth::Eight => 1,
            Depth::Sixteen => 2,
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            Depth::Eight => 8,
            Depth::Sixteen => 16,
        }
    }
}

/// Byte order of 16-bit samples. PNG stores big-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    pub const NATIVE: Endian = if cfg!(target_endian = "big") {
        Endian::Big
    } else {
        Endian::Little
    };
}

/// Size and sample type of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLayout {
    pub width: u32,
    pub height: u32,
    /// 1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha.
    pub channels: u8,
    pub depth: Depth,
}

impl ImageLayout {
    pub fn pixel_bytes(&self) -> usize {
        usize::from(self.channels) * self.depth.bytes()
    }

    pub fn row_bytes(&self) -> usize {
        self.width as usize * self.pixel_bytes()
    }

    /// Bytes of a packed image. `plan_source` has checked this fits in isize.
    pub fn byte_len(&self) -> usize {
        self.row_bytes() * self.height as usize
    }
}

/// The buffer as the exporter described it (a safe copy of `Py_buffer`'s fields).
#[derive(Debug, Clone)]
pub struct BufferDesc<'a> {
    pub itemsize: usize,
    /// struct-module format string; "B" when the exporter gave none.
    pub format: &'a str,
    pub shape: &'a [isize],
    /// Byte strides, one per dimension (C-contiguous ones when the exporter gave none).
    pub strides: &'a [isize],
}

/// How to read an image out of the exporter's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePlan {
    pub layout: ImageLayout,
    pub endian: Endian,
    /// Byte steps between rows, pixels and samples; may be negative.
    pub strides: [isize; 3],
}

/// The bytes an image occupies around its first sample: `before` bytes lie at
/// lower addresses (negative strides), `len` bytes in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub before: usize,
    pub len: usize,
}

impl SourcePlan {
    /// The memory the plan reads, for the boundary to hand over as one slice.
    pub fn span(&self) -> Result<Span> {
        let l = &self.layout;
        let extents = [
            (l.height as i128, self.strides[0] as i128),
            (l.width as i128, self.strides[1] as i128),
            (i128::from(l.channels), self.strides[2] as i128),
        ];
        let (mut low, mut high) = (0i128, 0i128);
        for (count, stride) in extents {
            let reach = (count - 1) * stride;
            if reach < 0 {
                low += reach;
            } else {
                high += reach;
            }
        }
        let len = high - low + l.depth.bytes() as i128;
        if len > isize::MAX as i128 {
            return Err(overflow_error(
                "the buffer's shape and strides reach beyond addressable memory",
            ));
        }
        Ok(Span {
            before: (-low) as usize,
            len: len as usize,
        })
    }

    /// True when rows, pixels and samples follow each other with no gaps.
    pub fn is_packed(&self) -> bool {
        let l = &self.layout;
        self.pixels_packed() && self.strides[0] == l.row_bytes() as isize
    }

    /// True when each row's samples are contiguous (rows may have gaps).
    pub fn pixels_packed(&self) -> bool {
        let l = &self.layout;
        let bps = l.depth.bytes() as isize;
        (l.channels == 1 || self.strides[2] == bps)
            && (l.width == 1 || self.strides[1] == l.pixel_bytes() as isize)
    }

    /// The plan for a packed image (e.g. an owned frame's own storage).
    pub fn packed(layout: ImageLayout, endian: Endian) -> SourcePlan {
        let bps = layout.depth.bytes() as isize;
        SourcePlan {
            layout,
            endian,
            strides: [
                layout.row_bytes() as isize,
                layout.pixel_bytes() as isize,
                bps,
            ],
        }
    }
}

/// Checks a `width`/`height` argument.
pub fn check_dimension(name: &str, value: i64) -> Result<u32> {
    if value <= 0 {
        return Err(value_error(format!(
            "{name} must be a positive number of pixels, got {value}"
        )));
    }
    if value as u64 > MAX_DIMENSION {
        return Err(value_error(format!(
            "{name}={value} is beyond PNG's limit of {MAX_DIMENSION} pixels"
        )));
    }
    Ok(value as u32)
}

/// Sample depth and byte order from a struct-module format string.
pub fn parse_format(format: &str, itemsize: usize) -> Result<(Depth, Endian)> {
    let (endian, code) = match format.as_bytes().first() {
        Some(b'<') => (Endian::Little, &format[1..]),
        Some(b'>') | Some(b'!') => (Endian::Big, &format[1..]),
        Some(b'@') | Some(b'=') => (Endian::NATIVE, &format[1..]),
        _ => (Endian::NATIVE, format),
    };
    let depth = match code {
        "B" => Depth::Eight,
        "H" => Depth::Sixteen,
        _ => return Err(type_error(unsupported_format(format, code, itemsize))),
    };
    if itemsize != depth.bytes() {
        return Err(type_error(format!(
            "buffer format '{format}' says {}-byte samples but the exporter reports itemsize {itemsize}",
            depth.bytes()
        )));
    }
    Ok((depth, endian))
}

fn unsupported_format(format: &str, code: &str, itemsize: usize) -> String {
    // A repeat count ("3B", numpy's "1s") makes each item a struct or string.
    let base = code.trim_start_matches(|c: char| c.is_ascii_digit());
    let what = match base {
        "b" => "signed 8-bit (int8) samples; PNG samples are unsigned: convert with .astype(np.uint8), or .view(np.uint8) if the bits are already right",
        "h" => "signed 16-bit (int16) samples; PNG samples are unsigned: convert with .astype(np.uint16)",
        "e" | "f" | "d" => "floating-point samples; PNG stores integers: scale and convert, e.g. (img * 255).clip(0, 255).astype(np.uint8), or to np.uint16 for 16-bit",
        "?" => "boolean samples; convert with img.astype(np.uint8) * 255",
        "i" | "l" | "q" | "n" => "signed integer samples wider than 16 bits; convert with .astype(np.uint8) or .astype(np.uint16) once the values fit",
        "I" | "L" | "Q" | "N" => "unsigned integer samples wider than 16 bits; convert with .astype(np.uint8) or .astype(np.uint16) once the values fit",
        "c" | "s" | "p" => "an array of characters or byte strings, not pixel samples; pass bytes or a uint8 array",
        "u" | "w" => "an array of text characters, not pixel samples",
        _ if base != code => "a repeat count, i.e. structured items rather than single samples; view the data as a plain uint8/uint16 array",
        _ => "samples bufpng cannot read",
    };
    format!(
        "unsupported buffer format '{format}' (itemsize {itemsize}): {what}; bufpng takes unsigned 8-bit ('B', np.uint8) or 16-bit ('H', np.uint16) samples"
    )
}

/// What the caller said about an image besides its buffer: the `width=`,
/// `height=`, `channels=` and `stride=` arguments (None = not given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Geometry {
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// 1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha.
    pub channels: Option<i64>,
    /// Bytes from the start of one row to the start of the next.
    pub stride: Option<i64>,
}

/// Turns an exporter's description plus the caller's `Geometry` into a plan
/// for reading the image, or says what is wrong. The rule (docs/api.md,
/// "How a buffer is read"): an array's shape and format say what it is; a
/// flat buffer needs width and height, and its samples per pixel are taken
/// from its length only where one reading fits (1 or 3 bytes a pixel, or
/// 16-bit samples); otherwise `channels=` (and `stride=` for padded rows)
/// must say it.
pub fn plan_source(desc: &BufferDesc, geometry: &Geometry) -> Result<SourcePlan> {
    let (depth, endian) = parse_format(desc.format, desc.itemsize)?;
    let width = geometry
        .width
        .map(|w| check_dimension("width", w))
        .transpose()?;
    let height = geometry
        .height
        .map(|h| check_dimension("height", h))
        .transpose()?;
    let channels = geometry.channels.map(check_channels).transpose()?;
    let stride = geometry
        .stride
        .map(|s| check_stride(s, depth))
        .transpose()?;
    let given = Given {
        width,
        height,
        channels,
        stride,
    };
    let shape = desc.shape;
    let strides = desc.strides;
    if shape.iter().any(|&n| n < 0) || strides.len() != shape.len() {
        return Err(value_error(
            "the buffer's exporter reported an invalid shape or strides",
        ));
    }
    let dims = match shape.len() {
        0 => {
            return Err(value_error(
                "got a 0-dimensional buffer (a single number), not an image",
            ))
        }
        1 => flat_dims(shape[0] as u64, strides[0], depth, &given)?,
        2 | 3 => shaped_dims(shape, strides, depth, &given)?,
        4 => return Err(value_error(four_dimensional_hint(shape))),
        n => {
            return Err(value_error(format!(
                "got a {n}-dimensional buffer of shape {}; an image is (height, width) or (height, width, channels)",
                fmt_shape(shape)
            )))
        }
    };
    if dims.width == 0 || dims.height == 0 {
        return Err(value_error(format!(
            "empty image ({}x{}, shape {}): PNG needs at least one pixel",
            dims.width,
            dims.height,
            fmt_shape(shape)
        )));
    }
    for (name, value) in [("width", dims.width), ("height", dims.height)] {
        if value > MAX_DIMENSION {
            return Err(value_error(format!(
                "image {name} {value} is beyond PNG's limit of {MAX_DIMENSION} pixels"
            )));
        }
    }
    let total = dims
        .width
        .checked_mul(dims.height)
        .and_then(|n| n.checked_mul(dims.channels * depth.bytes() as u64));
    match total {
        Some(n) if n <= isize::MAX as u64 => {}
        _ => {
            return Err(overflow_error(format!(
                "a {}x{} image with {} channels of {}-bit samples is too large to hold in memory",
                dims.width,
                dims.height,
                dims.channels,
                depth.bits()
            )))
        }
    }
    Ok(SourcePlan {
        layout: ImageLayout {
            width: dims.width as u32,
            height: dims.height as u32,
            channels: dims.channels as u8,
            depth,
        },
        endian,
        strides: dims.strides,
    })
}

/// The checked `Geometry`.
struct Given {
    width: Option<u32>,
    height: Option<u32>,
    channels: Option<u64>,
    /// In samples, not bytes.
    stride: Option<u64>,
}

fn check_channels(channels: i64) -> Result<u64> {
    if !(1..=4).contains(&channels) {
        return Err(value_error(format!(
            "channels must be 1 (gray), 2 (gray+alpha), 3 (colour) or 4 (colour+alpha), got {channels}"
        )));
    }
    Ok(channels as u64)
}

fn check_stride(stride: i64, depth: Depth) -> Result<u64> {
    if stride <= 0 {
        return Err(value_error(format!(
            "stride must be the positive number of bytes from one row's start to the next, got {stride}"
        )));
    }
    let bytes = depth.bytes() as i64;
    if stride % bytes != 0 {
        return Err(value_error(format!(
            "stride={stride} is not a whole number of {}-bit samples: stride counts bytes per row",
            depth.bits()
        )));
    }
    Ok((stride / bytes) as u64)
}

struct Dims {
    width: u64,
    height: u64,
    channels: u64,
    strides: [isize; 3],
}

fn stride_overflow() -> anyhow::Error {
    overflow_error("the buffer's stride is too large")
}

/// A 2-D or 3-D array. Its shape gives the size and channel count; a 2-D
/// array whose rows are wider than `width=` is read as rows of samples
/// (a padded plane, or pixels packed into rows), like a flat buffer.
fn shaped_dims(shape: &[isize], strides: &[isize], depth: Depth, given: &Given) -> Result<Dims> {
    let channels = if shape.len() == 3 { shape[2] as u64 } else { 1 };
    if !(1..=4).contains(&channels) {
        return Err(value_error(channel_count_hint(shape)));
    }
    let (rows, row_samples) = (shape[0] as u64, shape[1] as u64);
    if let (2, Some(w)) = (shape.len(), given.width) {
        let fits_rows = given.height.is_none_or(|h| u64::from(h) == rows);
        // Only with channels= given: a width short of the rows is otherwise
        // far more often a frame of another size than a padded plane.
        if u64::from(w) < row_samples && fits_rows && given.channels.is_some() {
            let sample_stride = strides[1];
            let c = pick_channels(u64::from(w), row_samples, true, depth, given, || {
                format!(
                    "rows of {row_samples} samples (the array's shape {})",
                    fmt_shape(shape)
                )
            })?;
            if let Some(s) = given.stride {
                check_stride_matches(s, strides[0], sample_stride, depth)?;
            }
            let pixel_stride = sample_stride
                .checked_mul(c as isize)
                .ok_or_else(stride_overflow)?;
            return Ok(Dims {
                width: u64::from(w),
                height: rows,
                channels: c,
                strides: [strides[0], pixel_stride, sample_stride],
            });
        }
    }
    let dims = Dims {
        width: row_samples,
        height: rows,
        channels,
        strides: [
            strides[0],
            strides[1],
            if shape.len() == 3 {
                strides[2]
            } else {
                depth.bytes() as isize
            },
        ],
    };
    check_given_size(&dims, shape, given.width, given.height)?;
    if let Some(c) = given.channels.filter(|&c| c != channels) {
        return Err(value_error(format!(
            "channels={c} does not match the array's shape {} ({channels} channel{}): an array's shape says its channels, so leave channels out (or reshape the array)",
            fmt_shape(shape),
            if channels == 1 { "" } else { "s" }
        )));
    }
    if let Some(s) = given.stride {
        check_stride_matches(s, strides[0], depth.bytes() as isize, depth)?;
    }
    Ok(dims)
}

/// An array's strides already say where its rows are; `stride=` may only repeat it.
fn check_stride_matches(
    stride: u64,
    row_stride: isize,
    sample_stride: isize,
    depth: Depth,
) -> Result<()> {
    let bytes = stride * depth.bytes() as u64;
    if sample_stride == depth.bytes() as isize && row_stride == bytes as isize {
        return Ok(());
    }
    Err(value_error(format!(
        "stride={bytes} does not match the array's own row stride of {row_stride} bytes: stride= is for flat buffers (bytes, memoryview) with padded rows; leave it out for an array"
    )))
}

/// A one-dimensional buffer (bytes, bytearray, flat arrays): the caller's
/// width and height give the size; `stride=` the distance between rows.
fn flat_dims(samples: u64, item_stride: isize, depth: Depth, given: &Given) -> Result<Dims> {
    let (width, height) = match (given.width, given.height) {
        (Some(w), Some(h)) => (u64::from(w), u64::from(h)),
        _ => {
            return Err(value_error(format!(
                "a flat buffer of {samples} samples has no shape: pass width= and height= (for a numpy array, pass the array itself, not its bytes)"
            )))
        }
    };
    let pixels = width * height;
    if samples == 0 {
        return Err(value_error(format!(
            "the buffer is empty (0 samples) but width={width}, height={height} needs at least {pixels}: was the frame read correctly?"
        )));
    }
    let sample_bytes = depth.bytes() as u64;
    let Some(stride) = given.stride else {
        if samples % pixels != 0 || samples / pixels > 4 {
            return Err(value_error(flat_length_hint(samples, width, height, depth)));
        }
        let channels = pick_channels(width, samples / height, false, depth, given, || {
            format!(
                "a buffer of {} bytes ({} per row)",
                samples * sample_bytes,
                samples / height * sample_bytes
            )
        })?;
        return flat_rows(width, height, channels, samples / height, item_stride);
    };
    let channels = pick_channels(width, stride, true, depth, given, || {
        format!("stride={}", stride * sample_bytes)
    })?;
    // The last row's padding may be missing (a cropped or exact buffer).
    let longest = stride.checked_mul(height).ok_or_else(stride_overflow)?;
    let shortest = longest - stride + width * channels;
    if samples > longest || samples < shortest {
        return Err(value_error(format!(
            "with stride={} and height={height} the buffer should hold {} bytes (or down to {} without padding after the last row), got {}: check stride (bytes per row), height and channels",
            stride * sample_bytes,
            longest * sample_bytes,
            shortest * sample_bytes,
            samples * sample_bytes
        )));
    }
    flat_rows(width, height, channels, stride, item_stride)
}

fn flat_rows(
    width: u64,
    height: u64,
    channels: u64,
    row_samples: u64,
    item_stride: isize,
) -> Result<Dims> {
    let pixel_stride = item_stride
        .checked_mul(channels as isize)
        .ok_or_else(stride_overflow)?;
    let row_stride = item_stride
        .checked_mul(row_samples as isize)
        .ok_or_else(stride_overflow)?;
    Ok(Dims {
        width,
        height,
        channels,
        strides: [row_stride, pixel_stride, item_stride],
    })
}

/// The channel count for rows of `row_samples` samples holding `width`
/// pixels each: `channels=` when given; else the one reading that fits, or
/// a ValueError that lists the readings and the parameter that picks one.
/// `padded`: rows may hold more than the pixels (stride= or a 2-D array).
fn pick_channels(
    width: u64,
    row_samples: u64,
    padded: bool,
    depth: Depth,
    given: &Given,
    rows: impl Fn() -> String,
) -> Result<u64> {
    let sample_bytes = depth.bytes() as u64;
    if let Some(c) = given.channels {
        let needed = width * c;
        if needed > row_samples || (!padded && needed != row_samples) {
            return Err(value_error(format!(
                "width={width} with channels={c} needs {} bytes per row, but the buffer has {}: check width, channels and stride",
                needed * sample_bytes,
                rows()
            )));
        }
        return Ok(c);
    }
    if padded {
        let fitting: Vec<u64> = (1..=4).filter(|c| width * c <= row_samples).collect();
        return match fitting[..] {
            [only] => Ok(only),
            [] => Err(value_error(format!(
                "{} is too short for a row of width={width} pixels ({} bytes at 1 channel): check width and stride",
                rows(),
                width * sample_bytes
            ))),
            _ => Err(value_error(format!(
                "{} for width={width} fits {} channels (the rest of each row padding), so it cannot say the channel count: pass channels= (1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha)",
                rows(),
                fitting
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))),
        };
    }
    let exact = (row_samples % width == 0)
        .then(|| row_samples / width)
        .filter(|per| (1..=4).contains(per));
    match exact {
        Some(per) if depth == Depth::Sixteen || per == 1 || per == 3 => Ok(per),
        Some(per) => Err(value_error(ambiguous_reading(width, per, rows()))),
        None => Err(value_error(format!(
            "{} is not a whole number of 1-4 samples per pixel for width={width}: check width, or pass channels= and stride= for padded rows",
            rows()
        ))),
    }
}

/// The readings of 2 or 4 bytes a pixel, and the parameter that picks each.
fn ambiguous_reading(width: u64, per: u64, rows: String) -> String {
    let row = width * per;
    let readings = if per == 2 {
        format!(
            "gray+alpha (pass channels=2), 16-bit gray sent as bytes (pass a 16-bit buffer: np.frombuffer(data, np.uint16) or memoryview(data).cast('H')), or gray rows padded to {row} bytes (pass channels=1, stride={row})"
        )
    } else {
        format!(
            "colour+alpha, BGRA or RGBA (pass channels=4), 16-bit gray+alpha sent as bytes (pass a 16-bit buffer: np.frombuffer(data, np.uint16) or memoryview(data).cast('H'), with channels=2), or gray rows padded to {row} bytes (pass channels=1, stride={row})"
        )
    };
    format!("{rows} is {per} bytes a pixel for width={width}, which fits more than one reading: {readings}")
}

fn flat_length_hint(samples: u64, width: u64, height: u64, depth: Depth) -> String {
    let pixels = width * height;
    let mut message = format!(
        "buffer length does not match width={width}, height={height}: got {samples} samples, expected {} (1 channel), {} (2), {} (3) or {} (4)",
        pixels,
        2 * pixels,
        3 * pixels,
        4 * pixels
    );
    if samples % pixels == 0 {
        let per_pixel = samples / pixels;
        if depth == Depth::Eight && (per_pixel == 6 || per_pixel == 8) {
            message.push_str(&format!(
                "; {per_pixel} bytes per pixel looks like 16-bit {}-channel data in an 8-bit buffer: view it as 16-bit, e.g. np.frombuffer(data, np.uint16) or memoryview(data).cast('H')",
                per_pixel / 2
            ));
        } else {
            message.push_str(&format!(
                "; that is {per_pixel} samples per pixel, more than 4 channels: are width and height right?"
            ));
        }
    } else if samples < pixels {
        message.push_str("; the buffer holds less than one sample per pixel: wrong width/height, or a thumbnail or crop of another frame?");
    } else if samples % height == 0 {
        message.push_str(&format!(
            "; {} bytes per row: if rows are padded, pass stride={} and channels=",
            samples / height * depth.bytes() as u64,
            samples / height * depth.bytes() as u64
        ));
    } else {
        message.push_str("; not a whole number of samples per pixel: wrong width/height (a frame of another size?), or rows padded to a stride (pass stride= and channels=)?");
    }
    message
}

fn check_given_size(
    dims: &Dims,
    shape: &[isize],
    width: Option<u32>,
    height: Option<u32>,
) -> Result<()> {
    let w = width.map_or(dims.width, u64::from);
    let h = height.map_or(dims.height, u64::from);
    if w == dims.width && h == dims.height {
        return Ok(());
    }
    if w == dims.height && h == dims.width {
        return Err(value_error(format!(
            "width and height are swapped: the array has shape {} (height {}, width {}), so pass width=shape[1]={}, height=shape[0]={}, or leave them out",
            fmt_shape(shape),
            dims.height,
            dims.width,
            dims.width,
            dims.height
        )));
    }
    let padded = if shape.len() == 2 && w < dims.width && h == dims.height {
        "; or rows padded beyond the image (a plane with a line size)? pass channels= too"
    } else {
        ""
    };
    Err(value_error(format!(
        "width={w}, height={h} do not match the array's shape {} (width {}, height {}): a frame of another size? leave width and height out to use the array's own shape{padded}",
        fmt_shape(shape),
        dims.width,
        dims.height
    )))
}

fn channel_count_hint(shape: &[isize]) -> String {
    let last = shape[shape.len() - 1];
    // (3, 480, 640): a small first axis before two that are not channel
    // counts. (4, 4, 5) is not: moving its axis would make a 5x4 image.
    if shape.len() == 3 && (1..=4).contains(&shape[0]) && shape[1] > 4 && last > 4 {
        return format!(
            "shape {} looks channels-first (channels, height, width); bufpng wants channels last: pass np.moveaxis(img, 0, -1)",
            fmt_shape(shape)
        );
    }
    let stack = if shape.len() == 3 && last > 4 {
        format!(
            "; if it is a stack of {} gray frames of {}x{}, write it with write_frames",
            shape[0], last, shape[1]
        )
    } else {
        String::new()
    };
    format!(
        "shape {} has {last} channels in its last dimension; an image has 1 (gray), 2 (gray+alpha), 3 (colour) or 4 (colour+alpha){stack}",
        fmt_shape(shape),
    )
}

fn four_dimensional_hint(shape: &[isize]) -> String {
    if shape[3] == 1 && (1..=4).contains(&shape[2]) {
        return format!(
            "got a 4-dimensional buffer of shape {}: an image with an extra axis of length 1; pass img[..., 0] (or img.squeeze(-1))",
            fmt_shape(shape)
        );
    }
    if shape[0] == 1 {
        return format!(
            "got a 4-dimensional buffer of shape {}: a batch of one frame; pass img[0]",
            fmt_shape(shape)
        );
    }
    format!(
        "got a 4-dimensional buffer of shape {}: that looks like a batch of {} frames; pass one frame (arr[i]), or the whole batch to write_frames",
        fmt_shape(shape),
        shape[0]
    )
}

/// Whether one 3-D array handed to write_frames or write_animation (or
/// saved for `bufpng npy`) is a stack of gray frames (n, height, width). It
/// is only when its last axis cannot be channels; (720, 1280, 3) is refused,
/// not written as 720 gray frames of 3x1280.
pub fn check_stack(shape: &[isize]) -> Result<()> {
    let &[n, height, width] = shape else {
        return Ok(());
    };
    if !(1..=4).contains(&width) {
        return Ok(());
    }
    Err(type_error(format!(
        "an array of shape {} is one {height}x{n} image with {width} channel{}, or {n} gray frames of {width}x{height}: use write() for a single image; for gray frames add a channel axis, arr[..., np.newaxis] (bufpng npy: --gray-frames)",
        fmt_shape(shape),
        if width == 1 { "" } else { "s" }
    )))
}

/// Formats a shape the way numpy prints it: (480, 640, 3), (5,).
pub fn fmt_shape(shape: &[isize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, InputError};

    fn desc<'a>(
        format: &'a str,
        itemsize: usize,
        shape: &'a [isize],
        strides: &'a [isize],
    ) -> BufferDesc<'a> {
        BufferDesc {
            itemsize,
            format,
            shape,
            strides,
        }
    }

    fn plan_wh(desc: &BufferDesc, width: Option<i64>, height: Option<i64>) -> Result<SourcePlan> {
        plan_source(
            desc,
            &Geometry {
                width,
                height,
                ..Geometry::default()
            },
        )
    }

    fn plan_with(desc: &BufferDesc, geometry: Geometry) -> Result<SourcePlan> {
        plan_source(desc, &geometry)
    }

    fn kind_and_message(err: anyhow::Error) -> (ErrorKind, String) {
        let input = err.downcast_ref::<InputError>().expect("an InputError");
        (input.kind, input.message.clone())
    }

    #[test]
    fn numpy_bgr_frame() {
        let plan = plan_wh(&desc("B", 1, &[480, 640, 3], &[1920, 3, 1]), None, None).unwrap();
        assert_eq!(
            plan.layout,
            ImageLayout {
                width: 640,
                height: 480,
                channels: 3,
                depth: Depth::Eight
            }
        );
        assert!(plan.is_packed());
        assert_eq!(
            plan.span().unwrap(),
            Span {
                before: 0,
                len: 921600
            }
        );
    }

    #[test]
    fn seed_question_flat_buffer_reads_one_and_three_bytes_a_pixel() {
        for channels in [1, 3isize] {
            let len = 640 * 480 * channels;
            let plan = plan_wh(&desc("B", 1, &[len], &[1]), Some(640), Some(480)).unwrap();
            assert_eq!(plan.layout.channels as isize, channels);
            assert!(plan.is_packed());
        }
        // 16-bit samples leave no doubt: 1-4 channels.
        for channels in 1..=4isize {
            let len = 8 * 6 * channels;
            let plan = plan_wh(&desc("H", 2, &[len], &[2]), Some(8), Some(6)).unwrap();
            assert_eq!(plan.layout.channels as isize, channels);
        }
    }

    #[test]
    fn two_and_four_bytes_a_pixel_list_the_readings() {
        for (per, needles) in [
            (2, ["channels=2", "cast('H')", "channels=1, stride=16"]),
            (
                4,
                ["channels=4", "with channels=2", "channels=1, stride=32"],
            ),
        ] {
            let (kind, message) = kind_and_message(
                plan_wh(&desc("B", 1, &[8 * 10 * per], &[1]), Some(8), Some(10)).unwrap_err(),
            );
            assert_eq!(kind, ErrorKind::Value);
            for needle in needles {
                assert!(message.contains(needle), "{needle}: {message}");
            }
            let plan = plan_with(
                &desc("B", 1, &[8 * 10 * per], &[1]),
                Geometry {
                    width: Some(8),
                    height: Some(10),
                    channels: Some(per as i64),
                    stride: None,
                },
            )
            .unwrap();
            assert_eq!(plan.layout.channels as isize, per);
        }
    }

    #[test]
    fn stride_reads_padded_rows() {
        // An 8-pixel gray plane with rows padded to 16 bytes (ffmpeg's linesize).
        let geometry = Geometry {
            width: Some(8),
            height: Some(10),
            channels: Some(1),
            stride: Some(16),
        };
        for len in [160, 152] {
            let plan = plan_with(&desc("B", 1, &[len], &[1]), geometry).unwrap();
            assert_eq!(plan.layout.channels, 1);
            assert_eq!(plan.strides, [16, 1, 1]);
            assert_eq!(plan.span().unwrap().len, 152);
        }
        for len in [151, 161] {
            let (_, message) =
                kind_and_message(plan_with(&desc("B", 1, &[len], &[1]), geometry).unwrap_err());
            assert!(message.contains("stride=16"), "{message}");
        }
        // Without channels= the padding hides the channel count.
        let (_, message) = kind_and_message(
            plan_with(
                &desc("B", 1, &[160], &[1]),
                Geometry {
                    channels: None,
                    ..geometry
                },
            )
            .unwrap_err(),
        );
        assert!(message.contains("fits 1 or 2 channels"), "{message}");
        // 16-bit rows: stride counts bytes.
        let plan = plan_with(
            &desc("H", 2, &[10 * 10], &[2]),
            Geometry {
                stride: Some(20),
                ..geometry
            },
        )
        .unwrap();
        assert_eq!(plan.strides, [20, 2, 2]);
        let (_, message) = kind_and_message(
            plan_with(
                &desc("H", 2, &[100], &[2]),
                Geometry {
                    stride: Some(21),
                    ..geometry
                },
            )
            .unwrap_err(),
        );
        assert!(message.contains("whole number of 16-bit"), "{message}");
        for (stride, needle) in [(0, "positive"), (7, "needs 8 bytes per row")] {
            let (_, message) = kind_and_message(
                plan_with(
                    &desc("B", 1, &[160], &[1]),
                    Geometry {
                        stride: Some(stride),
                        ..geometry
                    },
                )
                .unwrap_err(),
            );
            assert!(message.contains(needle), "{stride}: {message}");
        }
    }

    #[test]
    fn a_padded_two_dimensional_plane_is_read_with_width_and_channels() {
        let plane = desc("B", 1, &[10, 16], &[16, 1]);
        let plan = plan_with(
            &plane,
            Geometry {
                width: Some(8),
                channels: Some(1),
                ..Geometry::default()
            },
        )
        .unwrap();
        assert_eq!((plan.layout.width, plan.layout.height), (8, 10));
        assert_eq!(plan.strides, [16, 1, 1]);
        let plan = plan_with(
            &plane,
            Geometry {
                width: Some(8),
                channels: Some(2),
                ..Geometry::default()
            },
        )
        .unwrap();
        assert_eq!(plan.layout.channels, 2);
        let (_, message) = kind_and_message(plan_wh(&plane, Some(8), None).unwrap_err());
        assert!(message.contains("pass channels="), "{message}");
    }

    #[test]
    fn channels_and_stride_must_agree_with_an_array() {
        let image = desc("B", 1, &[4, 5, 3], &[15, 3, 1]);
        for (geometry, needle) in [
            (
                Geometry {
                    channels: Some(4),
                    ..Geometry::default()
                },
                "channels=4 does not match",
            ),
            (
                Geometry {
                    stride: Some(16),
                    ..Geometry::default()
                },
                "stride=16 does not match",
            ),
            (
                Geometry {
                    channels: Some(5),
                    ..Geometry::default()
                },
                "channels must be 1",
            ),
        ] {
            let (kind, message) = kind_and_message(plan_with(&image, geometry).unwrap_err());
            assert_eq!(kind, ErrorKind::Value);
            assert!(message.contains(needle), "{message}");
        }
        let same = Geometry {
            channels: Some(3),
            stride: Some(15),
            ..Geometry::default()
        };
        assert!(plan_with(&image, same).is_ok());
    }

    #[test]
    fn flat_buffer_needs_width_and_height() {
        let (kind, message) =
            kind_and_message(plan_wh(&desc("B", 1, &[12], &[1]), None, Some(2)).unwrap_err());
        assert_eq!(kind, ErrorKind::Value);
        assert!(message.contains("pass width= and height="), "{message}");
    }

    #[test]
    fn flat_buffer_of_16_bit_bytes_is_diagnosed() {
        let (_, message) = kind_and_message(
            plan_wh(&desc("B", 1, &[6 * 20], &[1]), Some(5), Some(4)).unwrap_err(),
        );
        assert!(message.contains("16-bit 3-channel"), "{message}");
    }

    #[test]
    fn flat_buffer_of_wrong_size_is_diagnosed() {
        let (_, message) = kind_and_message(
            plan_wh(&desc("B", 1, &[1001], &[1]), Some(10), Some(10)).unwrap_err(),
        );
        assert!(
            message.contains("got 1001 samples, expected 100 (1 channel)"),
            "{message}"
        );
        assert!(message.contains("not a whole number"), "{message}");
    }

    #[test]
    fn swapped_width_and_height_are_named() {
        let (kind, message) = kind_and_message(
            plan_wh(
                &desc("B", 1, &[480, 640, 3], &[1920, 3, 1]),
                Some(480),
                Some(640),
            )
            .unwrap_err(),
        );
        assert_eq!(kind, ErrorKind::Value);
        assert!(
            message.contains("width and height are swapped"),
            "{message}"
        );
    }

    #[test]
    fn mismatched_size_is_named() {
        let (_, message) = kind_and_message(
            plan_wh(&desc("B", 1, &[480, 640], &[640, 1]), Some(320), Some(240)).unwrap_err(),
        );
        assert!(
            message.contains("do not match the array's shape (480, 640)"),
            "{message}"
        );
    }

    #[test]
    fn channels_first_is_diagnosed() {
        let (_, message) = kind_and_message(
            plan_wh(&desc("B", 1, &[3, 48, 64], &[3072, 64, 1]), None, None).unwrap_err(),
        );
        assert!(message.contains("channels-first"), "{message}");
        // Regression: (4, 4, 5) was called channels-first, and moving its
        // axis would make a wrong 5x4 image with 4 channels.
        let (_, message) = kind_and_message(
            plan_wh(&desc("B", 1, &[4, 4, 5], &[20, 5, 1]), None, None).unwrap_err(),
        );
        assert!(!message.contains("moveaxis"), "{message}");
        assert!(message.contains("write_frames"), "{message}");
    }

    #[test]
    fn sixteen_bit_formats_and_byte_orders() {
        for (format, endian) in [
            ("H", Endian::NATIVE),
            ("<H", Endian::Little),
            (">H", Endian::Big),
            ("!H", Endian::Big),
            ("=H", Endian::NATIVE),
        ] {
            let plan = plan_wh(&desc(format, 2, &[2, 3], &[6, 2]), None, None).unwrap();
            assert_eq!(plan.layout.depth, Depth::Sixteen);
            assert_eq!(plan.endian, endian);
        }
    }

    #[test]
    fn unsupported_formats_name_the_fix() {
        for (format, itemsize, needle) in [
            ("f", 4, "astype(np.uint8)"),
            ("d", 8, "floating-point"),
            ("b", 1, "signed 8-bit"),
            ("?", 1, "boolean"),
            ("i", 4, "signed integer"),
            ("c", 1, "characters"),
            ("T{B:r:B:g:}", 2, "cannot read"),
        ] {
            let (kind, message) = kind_and_message(
                plan_wh(
                    &desc(
                        format,
                        itemsize,
                        &[4, 4],
                        &[4 * itemsize as isize, itemsize as isize],
                    ),
                    None,
                    None,
                )
                .unwrap_err(),
            );
            assert_eq!(kind, ErrorKind::Type);
            assert!(message.contains(needle), "{format}: {message}");
        }
    }

    #[test]
    fn negative_strides_span_memory_before_the_origin() {
        // img[::-1] of a 4x5 gray image: first row is the last in memory.
        let plan = plan_wh(&desc("B", 1, &[4, 5], &[-5, 1]), None, None).unwrap();
        assert_eq!(
            plan.span().unwrap(),
            Span {
                before: 15,
                len: 20
            }
        );
        assert!(!plan.is_packed());
        assert!(plan.pixels_packed());
    }

    #[test]
    fn bad_dimensions() {
        for (w, h, kind) in [
            (0, 4, ErrorKind::Value),
            (-3, 4, ErrorKind::Value),
            (1 << 31, 1, ErrorKind::Value),
        ] {
            let (got, _) = kind_and_message(
                plan_wh(&desc("B", 1, &[12], &[1]), Some(w), Some(h)).unwrap_err(),
            );
            assert_eq!(got, kind);
        }
        let (kind, _) = kind_and_message(
            plan_wh(&desc("B", 1, &[0, 5, 3], &[15, 3, 1]), None, None).unwrap_err(),
        );
        assert_eq!(kind, ErrorKind::Value);
    }

    #[test]
    fn huge_claimed_shape_is_an_overflow_not_an_allocation() {
        let big = (1isize << 31) - 1;
        let (kind, _) = kind_and_message(
            plan_wh(&desc("H", 2, &[big, big, 4], &[0, 0, 0]), None, None).unwrap_err(),
        );
        assert_eq!(kind, ErrorKind::Overflow);
    }

    #[test]
    fn a_stack_is_gray_frames_only_when_its_last_axis_cannot_be_channels() {
        assert!(check_stack(&[10, 48, 64]).is_ok());
        assert!(check_stack(&[10, 48, 64, 3]).is_ok());
        let (kind, message) = kind_and_message(check_stack(&[720, 1280, 3]).unwrap_err());
        assert_eq!(kind, ErrorKind::Type);
        assert!(
            message.contains("one 1280x720 image with 3 channels"),
            "{message}"
        );
        assert!(message.contains("720 gray frames of 3x1280"), "{message}");
        assert!(message.contains("--gray-frames"), "{message}");
    }

    #[test]
    fn batches_and_scalars_are_rejected_with_hints() {
        let (_, message) = kind_and_message(
            plan_wh(&desc("B", 1, &[10, 4, 4, 3], &[48, 12, 3, 1]), None, None).unwrap_err(),
        );
        assert!(message.contains("batch of 10 frames"), "{message}");
        let (_, message) = kind_and_message(
            plan_wh(
                &desc("B", 1, &[480, 640, 3, 1], &[1920, 3, 1, 1]),
                None,
                None,
            )
            .unwrap_err(),
        );
        assert!(message.contains("img[..., 0]"), "{message}");
        let (_, message) =
            kind_and_message(plan_wh(&desc("B", 1, &[], &[]), None, None).unwrap_err());
        assert!(message.contains("0-dimensional"), "{message}");
    }
}
