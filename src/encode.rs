//! PNG encoding with the png crate.

use crate::error::value_error;
use crate::layout::Depth;
use crate::pixels::{Frame, PixelFormat};
use anyhow::{Context, Result};
use png::{BitDepth, ColorType, DeflateCompression, Filter};

/// How hard to compress, as OpenCV's IMWRITE_PNG_COMPRESSION counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// bufpng's measured default: see `docs/design.md`.
    #[default]
    Default,
    /// 0 = stored (no compression) .. 9 = smallest.
    Level(u8),
}

impl Compression {
    pub fn from_level(level: Option<i64>) -> Result<Compression> {
        match level {
            None => Ok(Compression::Default),
            Some(n @ 0..=9) => Ok(Compression::Level(n as u8)),
            Some(n) => Err(value_error(format!(
                "compression must be 0-9 (0 = stored, fastest; 9 = smallest) or None for the default, got {n}"
            ))),
        }
    }

    fn settings(self) -> (DeflateCompression, Filter) {
        match self {
            Compression::Default => (DeflateCompression::FdeflateUltraFast, Filter::Adaptive),
            Compression::Level(0) => (DeflateCompression::NoCompression, Filter::NoFilter),
            Compression::Level(n) => (DeflateCompression::Level(n), Filter::Adaptive),
        }
    }
}

/// Encodes a frame as a complete PNG file in memory.
pub fn encode_png(frame: &Frame, compression: Compression) -> Result<Vec<u8>> {
    if !frame.is_stored_as(PixelFormat::PNG) {
        return encode_png(&frame.to_format(PixelFormat::PNG), compression);
    }
    let layout = frame.layout;
    let mut out = Vec::with_capacity(frame.data.len() / 2 + 1024);
    let mut encoder = png::Encoder::new(&mut out, layout.width, layout.height);
    encoder.set_color(match layout.channels {
        1 => ColorType::Grayscale,
        2 => ColorType::GrayscaleAlpha,
        3 => ColorType::Rgb,
        _ => ColorType::Rgba,
    });
    encoder.set_depth(match layout.depth {
        Depth::Eight => BitDepth::Eight,
        Depth::Sixteen => BitDepth::Sixteen,
    });
    let (deflate, filter) = compression.settings();
    encoder.set_deflate_compression(deflate);
    encoder.set_filter(filter);
    let mut writer = encoder.write_header().context("PNG encoder")?;
    writer
        .write_image_data(&frame.data)
        .context("PNG encoder")?;
    writer.finish().context("PNG encoder")?;
    Ok(out)
}

/// Encodes a frame and writes it to `path` atomically.
pub fn write_png(path: &std::path::Path, frame: &Frame, compression: Compression) -> Result<()> {
    let png = encode_png(frame, compression)?;
    crate::atomic::write_atomic(path, &png)?;
    Ok(())
}
