//! Arbitrary exporter descriptions (shape, strides, format, itemsize) and
//! caller arguments (width, height, channels, stride, order) over an arbitrary memory slice.
//!
//! `plan_source` and `Frame::copy_from` must never panic. When the copy
//! succeeds, every sample must equal what a naive reference reads at
//! `origin + y*s0 + x*s1 + c*s2`; when it fails, the reference must also find
//! a read outside the memory (or the frame must be too large to allocate).
//! Small frames are then encoded, and the PNG must decode with the png crate
//! to the same pixels.
#![no_main]

use arbitrary::Arbitrary;
use bufpng_core::layout::Endian;
use bufpng_core::{
    encode_png, plan_source, BufferDesc, ChannelOrder, Compression, ErrorKind, Frame, Geometry,
    InputError, PixelFormat, SourcePlan,
};
use libfuzzer_sys::fuzz_target;

/// Frames larger than this are planned but not copied (keeps runs fast and
/// inside libFuzzer's memory limit; broadcast strides make them cheap to claim).
const MAX_COPY: usize = 1 << 20;
const MAX_ENCODE: usize = 1 << 16;

#[derive(Arbitrary, Debug)]
enum Format {
    U8,
    U16,
    U16Little,
    U16Big,
    U16Network,
    Raw(String),
}

impl Format {
    fn text(&self) -> &str {
        match self {
            Format::U8 => "B",
            Format::U16 => "H",
            Format::U16Little => "<H",
            Format::U16Big => ">H",
            Format::U16Network => "!H",
            Format::Raw(text) => text,
        }
    }
}

/// Mostly small numbers (real images), sometimes anything (hostile exporters).
#[derive(Arbitrary, Debug)]
enum Number {
    Small(i8),
    Any(isize),
}

impl Number {
    fn value(&self) -> isize {
        match *self {
            Number::Small(n) => n as isize,
            Number::Any(n) => n,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    format: Format,
    itemsize: u8,
    shape: Vec<Number>,
    strides: Vec<Number>,
    width: Option<i64>,
    height: Option<i64>,
    channels: Option<i8>,
    stride: Option<i16>,
    source_rgb: bool,
    target_bgr_native: bool,
    origin: u16,
    compression: Option<u8>,
    memory: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let shape: Vec<isize> = input.shape.iter().take(6).map(Number::value).collect();
    let strides: Vec<isize> = input.strides.iter().take(6).map(Number::value).collect();
    let desc = BufferDesc {
        itemsize: usize::from(input.itemsize),
        format: input.format.text(),
        shape: &shape,
        strides: &strides,
    };
    let geometry = Geometry {
        width: input.width,
        height: input.height,
        channels: input.channels.map(i64::from),
        stride: input.stride.map(i64::from),
    };
    let Ok(plan) = plan_source(&desc, &geometry) else {
        return;
    };
    let Ok(span) = plan.span() else {
        return;
    };
    assert!(span.len >= plan.layout.depth.bytes());
    if plan.layout.byte_len() > MAX_COPY {
        return;
    }
    let order = if input.source_rgb {
        ChannelOrder::Rgb
    } else {
        ChannelOrder::Bgr
    };
    let target = if input.target_bgr_native {
        PixelFormat {
            order: ChannelOrder::Bgr,
            endian: Endian::NATIVE,
        }
    } else {
        PixelFormat::PNG
    };
    let origin = usize::from(input.origin);
    let expected = reference(&plan, &input.memory, origin, order, target);
    let frame = match Frame::copy_from(&plan, &input.memory, origin, order, target) {
        Ok(frame) => frame,
        Err(err) => {
            let kind = err.downcast_ref::<InputError>().map(|e| e.kind);
            assert!(
                expected.is_none() || kind == Some(ErrorKind::Memory),
                "copy failed but every read is in bounds: {err:#}"
            );
            return;
        }
    };
    let expected = expected.expect("copy succeeded although a read is out of bounds");
    assert_eq!(frame.data, expected, "copy differs from the reference");
    assert_eq!(frame.data.len(), plan.layout.byte_len());
    if frame.data.len() > MAX_ENCODE {
        return;
    }
    let compression = match input.compression {
        Some(n) => Compression::Level(n % 10),
        None => Compression::Default,
    };
    let png = encode_png(&frame, compression, 2).expect("a valid frame must encode");
    let pixels = decode(&png);
    assert_eq!(pixels, frame.to_format(PixelFormat::PNG).data);
});

/// What the copy must produce, read one sample at a time; None when any read
/// falls outside `memory`.
fn reference(
    plan: &SourcePlan,
    memory: &[u8],
    origin: usize,
    order: ChannelOrder,
    target: PixelFormat,
) -> Option<Vec<u8>> {
    let l = plan.layout;
    let n = l.depth.bytes();
    let channels = usize::from(l.channels);
    let swap_channels = channels >= 3 && order != target.order;
    let swap_bytes = n == 2 && plan.endian != target.endian;
    let [s0, s1, s2] = plan.strides.map(|s| s as i128);
    let mut out = Vec::with_capacity(l.byte_len());
    for y in 0..l.height as i128 {
        for x in 0..l.width as i128 {
            for c in 0..channels {
                let source_c = match (swap_channels, c) {
                    (true, 0) => 2,
                    (true, 2) => 0,
                    _ => c,
                } as i128;
                let at = origin as i128 + y * s0 + x * s1 + source_c * s2;
                if at < 0 || at + n as i128 > memory.len() as i128 {
                    return None;
                }
                let sample = &memory[at as usize..at as usize + n];
                if swap_bytes {
                    out.extend([sample[1], sample[0]]);
                } else {
                    out.extend_from_slice(sample);
                }
            }
        }
    }
    Some(out)
}

/// The PNG's samples exactly as stored (no transformations).
fn decode(png: &[u8]) -> Vec<u8> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().expect("PNG header decodes");
    let mut pixels = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut pixels).expect("PNG data decodes");
    pixels.truncate(info.buffer_size());
    pixels
}
