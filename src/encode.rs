//! PNG encoding with the png crate.

use crate::error::value_error;
use crate::layout::{Depth, ImageLayout};
use crate::pixels::{Frame, PixelFormat};
use anyhow::{Context, Result};
use png::{BitDepth, ColorType, DeflateCompression, Filter};

/// How hard to compress, as OpenCV's IMWRITE_PNG_COMPRESSION counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// bufpng's measured default: fdeflate, or zlib level 2 when a sample
    /// of rows shows the content compresses much better with a real LZ77
    /// (screens, 16-bit). Why: `docs/benchmarks.md`, "Why this default".
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

    /// The png crate setting used for `frame`. Levels 1-2 are fdeflate
    /// (a fixed-Huffman, run-only coder far faster than any zlib level 1)
    /// and 3-9 zlib-rs at that level, so sizes fall monotonically with the
    /// level on photos (measured in `bench/encode_bench.py`, checked in tests).
    fn settings(self, frame: &Frame) -> Settings {
        match self {
            Compression::Default => choose_for_content(frame),
            Compression::Level(0) => Settings::STORED,
            Compression::Level(1) => Settings {
                deflate: DeflateCompression::FdeflateUltraFast,
                filter: Filter::Up,
            },
            Compression::Level(2) => Settings::FAST,
            // Paeth alone is within 0.2% of Adaptive here and cheaper.
            Compression::Level(3) => Settings {
                deflate: DeflateCompression::Level(3),
                filter: Filter::Paeth,
            },
            Compression::Level(n) => Settings {
                deflate: DeflateCompression::Level(n),
                filter: Filter::Adaptive,
            },
        }
    }
}

/// One concrete configuration of the png crate's encoder.
#[derive(Debug, Clone, Copy)]
struct Settings {
    deflate: DeflateCompression,
    filter: Filter,
}

impl Settings {
    const STORED: Settings = Settings {
        deflate: DeflateCompression::NoCompression,
        filter: Filter::NoFilter,
    };
    /// Fast and good on photos and camera frames. Paeth: the Adaptive
    /// filter picks it for nearly every photo row anyway (sizes within
    /// 0.02%) and costs ~18% more instructions per encode (callgrind).
    const FAST: Settings = Settings {
        deflate: DeflateCompression::FdeflateUltraFast,
        filter: Filter::Paeth,
    };
    /// About 2-3x FAST's time, but several times smaller on flat screen
    /// content and ~30% smaller on 16-bit, where fdeflate finds no matches.
    const DENSE: Settings = Settings {
        deflate: DeflateCompression::Level(2),
        filter: Filter::Up,
    };
}

/// Rows per sampled band, and how many bands (spread evenly down the frame).
const BAND_ROWS: u32 = 16;
const BANDS: u32 = 2;
/// DENSE must save at least this fraction of FAST's size to be worth its time.
const DENSE_MIN_SAVING: f64 = 0.15;

/// Picks FAST or DENSE for this frame by encoding a sample of its rows both
/// ways and comparing sizes: about 3% of a 1080p frame, in bands of 16 rows
/// because each band starts without its previous row, which penalises the
/// sample. Frames too small to sample get FAST: there the choice costs more
/// than it can save.
fn choose_for_content(frame: &Frame) -> Settings {
    let layout = frame.layout;
    if layout.height < BAND_ROWS * BANDS * 2 {
        return Settings::FAST;
    }
    let row_bytes = layout.row_bytes();
    let step = layout.height / BANDS;
    let mut data = Vec::with_capacity(row_bytes * (BAND_ROWS * BANDS) as usize);
    for band in 0..BANDS {
        let first = (band * step + step / 2) as usize * row_bytes;
        data.extend_from_slice(&frame.data[first..first + row_bytes * BAND_ROWS as usize]);
    }
    let sample = Frame {
        layout: ImageLayout {
            height: BAND_ROWS * BANDS,
            ..layout
        },
        format: frame.format,
        data,
    };
    let size = |settings| encode_with(&sample, settings).map_or(usize::MAX, |png| png.len());
    let fast = size(Settings::FAST);
    let raw = sample.data.len();
    // fdeflate fell back to stored blocks on the sample (noise): the png
    // crate would compress the whole frame, find the same, and store it;
    // storing right away skips that wasted pass.
    if fast >= raw {
        return Settings::STORED;
    }
    // Barely compressible: zlib would only burn time finding little.
    if fast as f64 > raw as f64 * 0.9 {
        return Settings::FAST;
    }
    let dense = size(Settings::DENSE);
    if (dense as f64) < fast as f64 * (1.0 - DENSE_MIN_SAVING) {
        Settings::DENSE
    } else {
        Settings::FAST
    }
}

/// Encodes a frame as a complete PNG file in memory.
pub fn encode_png(frame: &Frame, compression: Compression) -> Result<Vec<u8>> {
    if !frame.is_stored_as(PixelFormat::PNG) {
        return encode_png(&frame.to_format(PixelFormat::PNG), compression);
    }
    let png = encode_with(frame, compression.settings(frame))?;
    if compression != Compression::Level(9) {
        return Ok(png);
    }
    // Level 9 is "smallest": zlib-rs at 9 with the Adaptive filter loses to
    // the plain Up filter on some photos (and wins on screens and 16-bit),
    // so try both and keep the smaller.
    let up = encode_with(
        frame,
        Settings {
            deflate: DeflateCompression::Level(9),
            filter: Filter::Up,
        },
    )?;
    Ok(if up.len() < png.len() { up } else { png })
}

/// Encodes a frame already in PNG's sample layout with one fixed setting.
fn encode_with(frame: &Frame, settings: Settings) -> Result<Vec<u8>> {
    let layout = frame.layout;
    // Stored output is the input plus filter bytes, block and chunk headers;
    // compressed output is usually under half the input.
    let capacity = match settings.deflate {
        DeflateCompression::NoCompression => frame.data.len() + frame.data.len() / 64 + 4096,
        _ => frame.data.len() / 2 + 1024,
    };
    let mut out = Vec::with_capacity(capacity);
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
    encoder.set_deflate_compression(settings.deflate);
    encoder.set_filter(settings.filter);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb_frame(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Frame {
        let mut data = Vec::with_capacity((width * height * 3) as usize);
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&pixel(x, y));
            }
        }
        Frame {
            layout: ImageLayout {
                width,
                height,
                channels: 3,
                depth: Depth::Eight,
            },
            format: PixelFormat::PNG,
            data,
        }
    }

    /// A small deterministic hash, so "noise" needs no RNG crate.
    fn hash(x: u32, y: u32) -> u32 {
        let mut h = x.wrapping_mul(0x9e37_79b9) ^ y.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 15;
        h = h.wrapping_mul(0x2c1b_3c6d);
        h ^ (h >> 12)
    }

    fn is_dense(settings: Settings) -> bool {
        matches!(settings.deflate, DeflateCompression::Level(2))
    }

    fn is_stored(settings: Settings) -> bool {
        matches!(settings.deflate, DeflateCompression::NoCompression)
    }

    #[test]
    fn default_picks_zlib_for_repetitive_screen_content() {
        // Dark "glyphs" from a 37x11 tile repeated on white, like text:
        // LZ77 matches the repeats, fdeflate (runs and literals only) cannot.
        let screen = rgb_frame(640, 240, |x, y| {
            let ink = hash(x % 37, y % 11);
            if ink % 3 == 0 {
                [(ink >> 8) as u8 & 0x3f, 20, 40]
            } else {
                [255, 255, 255]
            }
        });
        assert!(is_dense(choose_for_content(&screen)));
        let dense = encode_with(&screen, Settings::DENSE).unwrap().len();
        let fast = encode_with(&screen, Settings::FAST).unwrap().len();
        assert!(encode_png(&screen, Compression::Default).unwrap().len() == dense);
        assert!(dense < fast / 2, "dense {dense} fast {fast}");
    }

    #[test]
    fn default_keeps_fdeflate_for_noise_and_small_frames() {
        let noise = rgb_frame(640, 240, |x, y| {
            hash(x, y).to_le_bytes()[..3].try_into().unwrap()
        });
        assert!(is_stored(choose_for_content(&noise)));
        // Noise in one band only: the sample sees compressible rows too.
        let partly = rgb_frame(640, 240, |x, y| match y {
            100..=140 => hash(x, y).to_le_bytes()[..3].try_into().unwrap(),
            _ => [(x / 8) as u8, 0, 0],
        });
        assert!(!is_stored(choose_for_content(&partly)));
        let tiny = rgb_frame(32, 32, |x, _| [(x % 2) as u8 * 255; 3]);
        assert!(!is_dense(choose_for_content(&tiny)));
    }

    #[test]
    fn every_level_encodes_a_frame_that_is_not_in_png_order() {
        // BGR input goes through to_format first; all levels must accept it.
        let mut frame = rgb_frame(40, 200, |x, y| [x as u8, y as u8, (x ^ y) as u8]);
        frame.format.order = crate::pixels::ChannelOrder::Bgr;
        let mut sizes = Vec::new();
        for level in 0..=9 {
            sizes.push(encode_png(&frame, Compression::Level(level)).unwrap().len());
        }
        assert!(sizes[0] > sizes[9], "stored must be the largest: {sizes:?}");
    }
}
