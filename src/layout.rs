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

/// Turns an exporter's description plus the optional `width`/`height`
/// arguments into a plan for reading the image, or says what is wrong.
pub fn plan_source(
    desc: &BufferDesc,
    width: Option<i64>,
    height: Option<i64>,
) -> Result<SourcePlan> {
    let (depth, endian) = parse_format(desc.format, desc.itemsize)?;
    let width = width.map(|w| check_dimension("width", w)).transpose()?;
    let height = height.map(|h| check_dimension("height", h)).transpose()?;
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
        1 => flat_dims(shape[0] as u64, strides[0], width, height)?,
        2 | 3 => {
            let channels = if shape.len() == 3 { shape[2] as u64 } else { 1 };
            if !(1..=4).contains(&channels) {
                return Err(value_error(channel_count_hint(shape)));
            }
            let dims = Dims {
                width: shape[1] as u64,
                height: shape[0] as u64,
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
            check_given_size(&dims, shape, width, height)?;
            dims
        }
        4 => {
            return Err(value_error(format!(
                "got a 4-dimensional buffer of shape {}: that looks like a batch of {} frames; pass one frame (arr[i]), or the whole batch to write_frames",
                fmt_shape(shape),
                shape[0]
            )))
        }
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

struct Dims {
    width: u64,
    height: u64,
    channels: u64,
    strides: [isize; 3],
}

/// A one-dimensional buffer (bytes, bytearray, flat arrays): the caller's
/// width and height give the shape, and the length gives the channel count.
fn flat_dims(samples: u64, stride: isize, width: Option<u32>, height: Option<u32>) -> Result<Dims> {
    let (width, height) = match (width, height) {
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
    if samples % pixels == 0 && (1..=4).contains(&(samples / pixels)) {
        let channels = samples / pixels;
        let overflow = || overflow_error("the buffer's stride is too large");
        let pixel_stride = stride.checked_mul(channels as isize).ok_or_else(overflow)?;
        let row_stride = pixel_stride
            .checked_mul(width as isize)
            .ok_or_else(overflow)?;
        return Ok(Dims {
            width,
            height,
            channels,
            strides: [row_stride, pixel_stride, stride],
        });
    }
    Err(value_error(flat_length_hint(samples, width, height)))
}

fn flat_length_hint(samples: u64, width: u64, height: u64) -> String {
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
        if per_pixel == 6 || per_pixel == 8 {
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
    } else {
        message.push_str("; not a whole number of samples per pixel: wrong width/height (a frame of another size?), or rows padded to a stride?");
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
    Err(value_error(format!(
        "width={w}, height={h} do not match the array's shape {} (width {}, height {}): a frame of another size? leave width and height out to use the array's own shape",
        fmt_shape(shape),
        dims.width,
        dims.height
    )))
}

fn channel_count_hint(shape: &[isize]) -> String {
    let first = shape[0];
    if shape.len() == 3 && (1..=4).contains(&first) {
        return format!(
            "shape {} looks channels-first (channels, height, width); bufpng wants channels last: pass np.moveaxis(img, 0, -1)",
            fmt_shape(shape)
        );
    }
    format!(
        "shape {} has {} channels in its last dimension; an image has 1 (gray), 2 (gray+alpha), 3 (colour) or 4 (colour+alpha)",
        fmt_shape(shape),
        shape[shape.len() - 1]
    )
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

    fn kind_and_message(err: anyhow::Error) -> (ErrorKind, String) {
        let input = err.downcast_ref::<InputError>().expect("an InputError");
        (input.kind, input.message.clone())
    }

    #[test]
    fn numpy_bgr_frame() {
        let plan = plan_source(&desc("B", 1, &[480, 640, 3], &[1920, 3, 1]), None, None).unwrap();
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
    fn seed_question_flat_buffer_infers_channels() {
        for channels in 1..=4isize {
            let len = 640 * 480 * channels;
            let plan = plan_source(&desc("B", 1, &[len], &[1]), Some(640), Some(480)).unwrap();
            assert_eq!(plan.layout.channels as isize, channels);
            assert!(plan.is_packed());
        }
    }

    #[test]
    fn flat_buffer_needs_width_and_height() {
        let (kind, message) =
            kind_and_message(plan_source(&desc("B", 1, &[12], &[1]), None, Some(2)).unwrap_err());
        assert_eq!(kind, ErrorKind::Value);
        assert!(message.contains("pass width= and height="), "{message}");
    }

    #[test]
    fn flat_buffer_of_16_bit_bytes_is_diagnosed() {
        let (_, message) = kind_and_message(
            plan_source(&desc("B", 1, &[6 * 20], &[1]), Some(5), Some(4)).unwrap_err(),
        );
        assert!(message.contains("16-bit 3-channel"), "{message}");
    }

    #[test]
    fn flat_buffer_of_wrong_size_is_diagnosed() {
        let (_, message) = kind_and_message(
            plan_source(&desc("B", 1, &[1001], &[1]), Some(10), Some(10)).unwrap_err(),
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
            plan_source(
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
            plan_source(&desc("B", 1, &[480, 640], &[640, 1]), Some(320), Some(240)).unwrap_err(),
        );
        assert!(
            message.contains("do not match the array's shape (480, 640)"),
            "{message}"
        );
    }

    #[test]
    fn channels_first_is_diagnosed() {
        let (_, message) = kind_and_message(
            plan_source(&desc("B", 1, &[3, 48, 64], &[3072, 64, 1]), None, None).unwrap_err(),
        );
        assert!(message.contains("channels-first"), "{message}");
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
            let plan = plan_source(&desc(format, 2, &[2, 3], &[6, 2]), None, None).unwrap();
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
                plan_source(
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
        let plan = plan_source(&desc("B", 1, &[4, 5], &[-5, 1]), None, None).unwrap();
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
                plan_source(&desc("B", 1, &[12], &[1]), Some(w), Some(h)).unwrap_err(),
            );
            assert_eq!(got, kind);
        }
        let (kind, _) = kind_and_message(
            plan_source(&desc("B", 1, &[0, 5, 3], &[15, 3, 1]), None, None).unwrap_err(),
        );
        assert_eq!(kind, ErrorKind::Value);
    }

    #[test]
    fn huge_claimed_shape_is_an_overflow_not_an_allocation() {
        let big = (1isize << 31) - 1;
        let (kind, _) = kind_and_message(
            plan_source(&desc("H", 2, &[big, big, 4], &[0, 0, 0]), None, None).unwrap_err(),
        );
        assert_eq!(kind, ErrorKind::Overflow);
    }

    #[test]
    fn batches_and_scalars_are_rejected_with_hints() {
        let (_, message) = kind_and_message(
            plan_source(&desc("B", 1, &[10, 4, 4, 3], &[48, 12, 3, 1]), None, None).unwrap_err(),
        );
        assert!(message.contains("batch of 10 frames"), "{message}");
        let (_, message) =
            kind_and_message(plan_source(&desc("B", 1, &[], &[]), None, None).unwrap_err());
        assert!(message.contains("0-dimensional"), "{message}");
    }
}
