//! PNG encoding: picks a coder — the striped writer's (`striped.rs`: bufpng's
//! own or zlib, on several threads) or the png crate's — and runs it.

use crate::deflate;
use crate::error::value_error;
use crate::filter::{filter_rows, RowFilter};
use crate::layout::{Depth, ImageLayout};
use crate::metadata::Metadata;
use crate::pairs16;
use crate::pixels::{Frame, PixelFormat};
use crate::repeats;
use crate::striped::{self, Coder, PngParts};
use anyhow::Result;
use std::path::Path;

/// How hard to compress, as OpenCV's IMWRITE_PNG_COMPRESSION counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// bufpng's measured default: its own coder (`deflate.rs`), or zlib
    /// level 2 when a sample of rows shows the content compresses much
    /// better with a real LZ77 (screens). Why: `docs/benchmarks.md`, "Why
    /// this default".
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

    /// The coder used for `frame`. Every level runs on the striped writer
    /// (same strip cuts, on several threads), so a level that keeps, strip
    /// by strip, the smallest of other levels' codings is never larger
    /// than any of them. Why each level: docs/benchmarks.md, "Levels".
    ///
    /// Also whether a second thread pays for itself on `frame` (see
    /// `Sample::Incompressible`), decided from the sample before any strip
    /// is coded; the striped writer also keeps to one thread for frames of
    /// one strip and for stored ones. None of this changes the bytes.
    fn plan(self, frame: &Frame) -> (Coder, bool) {
        let coder = match self {
            Compression::Default => {
                let (coder, sample) = sample_content(frame);
                return (coder, sample.threads_pay());
            }
            Compression::Level(0) => Coder::Stored,
            Compression::Level(1) => FASTEST,
            Compression::Level(2) => Coder::RUNS,
            Compression::Level(n @ 3..=8) => Coder::Smallest(match frame.layout.depth {
                Depth::Eight => MIDDLE_LEVELS[n as usize - 3],
                Depth::Sixteen => MIDDLE_LEVELS_16[n as usize - 3],
            }),
            Compression::Level(_) => Coder::Smallest(SMALLEST),
        };
        (coder, true)
    }
}

/// Level 1: Runs after the Up filter, which costs a fraction of Paeth.
const FASTEST: Coder = Coder::Runs {
    filter: RowFilter::Up,
};

const fn zlib(level: u8, filter: RowFilter) -> Coder {
    Coder::Zlib { level, filter }
}

/// Levels 3-8: zlib at that level after Paeth, or Runs where Runs is
/// smaller (8-bit photos, where zlib's levels up to 7 lose to it), or the
/// default's screen coder where it is (screens), strip by strip: never
/// larger than level 2, and as zlib's sizes fall with its level, so do
/// these.
const MIDDLE_LEVELS: [&[Coder]; 6] = [
    &[Coder::RUNS, SCREENS, zlib(3, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, zlib(4, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, zlib(5, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, zlib(6, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, zlib(7, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, zlib(8, RowFilter::Paeth)],
];

/// Levels 3-8 for 16-bit frames: the same and the default's pair coder
/// (x257 frames, `pairs16.rs`), so no middle level is larger than the
/// default there either (zlib-rs 3 after Paeth is 4% larger on the x257
/// photo, and 4x slower).
// One level a line, as MIDDLE_LEVELS (rustfmt would stack these).
#[rustfmt::skip]
const MIDDLE_LEVELS_16: [&[Coder]; 6] = [
    &[Coder::RUNS, SCREENS, Coder::Pairs16, zlib(3, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, Coder::Pairs16, zlib(4, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, Coder::Pairs16, zlib(5, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, Coder::Pairs16, zlib(6, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, Coder::Pairs16, zlib(7, RowFilter::Paeth)],
    &[Coder::RUNS, SCREENS, Coder::Pairs16, zlib(8, RowFilter::Paeth)],
];

/// The default's coder for 8-bit screens, and a candidate of levels 3-9
/// (on screens smaller than zlib-rs up to level 8 after one filter):
/// bufpng's own LZ77 (`lz77.rs`) after each row's own choice of None, Sub
/// or Up (`adaptive.rs`).
const SCREENS: Coder = Coder::Lz77 { filter: None };

/// Level 9: every coder of the levels below and of the default, and zlib 9
/// after Paeth and after Up (Up wins on some photos), strip by strip: never
/// larger than the default or any lower level.
const SMALLEST: &[Coder] = &[
    Coder::Stored,
    FASTEST,
    Coder::RUNS,
    zlib(2, RowFilter::Up),
    zlib(2, RowFilter::Paeth),
    SCREENS,
    Coder::Pairs16,
    zlib(3, RowFilter::Paeth),
    zlib(4, RowFilter::Paeth),
    zlib(5, RowFilter::Paeth),
    zlib(6, RowFilter::Paeth),
    zlib(7, RowFilter::Paeth),
    zlib(8, RowFilter::Paeth),
    zlib(9, RowFilter::Paeth),
    zlib(9, RowFilter::Up),
];

/// Slower than Runs, but several times smaller on flat screen content with
/// repeated shapes (text, UI), which only string matching finds. For 8-bit
/// frames bufpng's own LZ77 after a per-row filter choice (SCREENS: on
/// the benchmark's screenshot 17% smaller than zlib-rs 2 after Up, in
/// fewer instructions); for 16-bit zlib-rs 2 after Paeth (18% smaller than
/// Up there; sharp native 16-bit photos).
fn dense(depth: Depth) -> Coder {
    match depth {
        Depth::Eight => SCREENS,
        Depth::Sixteen => zlib(2, RowFilter::Paeth),
    }
}

/// Rows per sampled band, and how many bands (spread evenly down the frame).
/// Two bands of 8 rows picked as two of 16 did on every benchmark frame and
/// test photo, at half the cost (the sample is serial work before the
/// strips start), but both landed between text blocks on a synthetic UI
/// (bench/dense_bench.py), which then went to Runs at twice zlib's size;
/// three bands see its text. Four tipped the x257 16-bit photo to zlib.
const BAND_ROWS: u32 = 8;
const BANDS: u32 = 3;
/// Frames with fewer rows are not sampled: there the choice costs more than
/// it can save.
const MIN_SAMPLED_ROWS: u32 = 64;
/// DENSE must save at least this fraction of Runs' size to be worth its
/// 3-5x time: screens save 60-70%, upscaled (video-like) photos 0-15%.
const DENSE_MIN_SAVING: f64 = 0.2;
/// The same for the pair coder on x257 16-bit frames (most sampled rows
/// x257): 1.5-1.7x Runs' CPU time for 25-30% smaller files.
const PAIRS_MIN_SAVING: f64 = 0.1;

/// The coder `sample_content` picks.
#[cfg(test)]
fn choose_for_content(frame: &Frame) -> Coder {
    sample_content(frame).0
}

/// What the sample of `sample_content` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sample {
    /// Too few rows to sample.
    NotSampled,
    /// Runs could not shrink the sample by 10% (noise): Runs will store
    /// most blocks, and then the work is copying (the frame out of Python,
    /// the stored blocks, the CRC, the bytes object), most of it on the
    /// calling thread: a second thread bought 1.02x (CPU time of the
    /// critical path, 1080p noise) for +35% CPU, so it is not started.
    Incompressible,
    Compressible,
}

impl Sample {
    /// Whether threads beyond the calling one pay for themselves.
    fn threads_pay(self) -> bool {
        self != Sample::Incompressible
    }
}

/// Picks Runs or DENSE for this frame by encoding a sample of its rows both
/// ways and comparing sizes: 1.5% of a 1080p frame, in bands of 8 rows
/// rather than single rows because each band starts without its previous
/// row, which penalises the sample. 8-bit samples that a repeat count
/// shows photo-like get Runs without the trials. Frames too small to
/// sample get Runs. Also returns what the sample found.
fn sample_content(frame: &Frame) -> (Coder, Sample) {
    match take_sample(frame) {
        Sampled::Known(coder, sample) => (coder, sample),
        Sampled::Trials(trials) => trials.run(),
    }
}

/// The sample's verdict, or the trial encodes still to run for it.
enum Sampled {
    Known(Coder, Sample),
    Trials(Trials),
}

/// Trial encodes of a sample of rows, with Runs and with the coder that
/// can beat it on this frame.
struct Trials {
    sample: Frame,
    /// The pair coder (x257 16-bit) or `dense(depth)`, and the saving it
    /// must make over Runs.
    dense: Coder,
    min_saving: f64,
}

impl Trials {
    /// The likelier winner, for the threads to start with while the trials
    /// run: 8-bit frames that reach the trials are not photo-like and most
    /// are screens; x257 16-bit photos go to the pair coder; other 16-bit
    /// photos (native, resampled) stay with Runs.
    fn guess(&self) -> Coder {
        match self.dense {
            Coder::Pairs16 | Coder::Lz77 { .. } => self.dense,
            _ => Coder::RUNS,
        }
    }

    /// The coder, and what the sample found.
    fn run(&self) -> (Coder, Sample) {
        let sample = &self.sample;
        let size = |coder| encode_with(sample, coder, 1, &[]).map_or(usize::MAX, |png| png.len());
        let runs = size(Coder::RUNS);
        // Barely compressible (noise): zlib would only burn time finding
        // little. Runs stores blocks its own sample finds incompressible, as
        // fast as the png crate's stored mode (measured), so noise needs no
        // case of its own.
        if incompressible(runs, sample.data.len()) {
            return (Coder::RUNS, Sample::Incompressible);
        }
        if (size(self.dense) as f64) < runs as f64 * (1.0 - self.min_saving) {
            (self.dense, Sample::Compressible)
        } else {
            (Coder::RUNS, Sample::Compressible)
        }
    }
}

/// Runs could not shrink `raw` bytes of sample below 90%.
fn incompressible(runs: usize, raw: usize) -> bool {
    runs as f64 > raw as f64 * 0.9
}

/// The sampled rows of `frame` (at least `MIN_SAMPLED_ROWS` high):
/// `BANDS` bands of `BAND_ROWS`, spread evenly down the frame.
fn sample_rows(frame: &Frame) -> Frame {
    let layout = frame.layout;
    let row_bytes = layout.row_bytes();
    let step = layout.height / BANDS;
    let mut data = Vec::with_capacity(row_bytes * (BAND_ROWS * BANDS) as usize);
    for band in 0..BANDS {
        let first = (band * step + step / 2) as usize * row_bytes;
        data.extend_from_slice(&frame.data[first..first + row_bytes * BAND_ROWS as usize]);
    }
    Frame {
        layout: ImageLayout {
            height: BAND_ROWS * BANDS,
            ..layout
        },
        format: frame.format,
        data,
    }
}

/// `sample_content` up to its trial encodes.
fn take_sample(frame: &Frame) -> Sampled {
    let layout = frame.layout;
    if layout.height < MIN_SAMPLED_ROWS {
        return Sampled::Known(Coder::RUNS, Sample::NotSampled);
    }
    let row_bytes = layout.row_bytes();
    let sample = sample_rows(frame);
    let raw = sample.data.len();
    // 8-bit photos skip both trial encodes (the LZ77 one cost 13 M
    // instructions on a 1080p BGRA photo, 8% of its encode): string
    // matching cannot win where under 1 in 14 of the bytes that repeat
    // neither the pixel before nor the row above repeat a string of 16 or
    // more (`repeats.rs`). Measured on the sample: 8-bit photos (kodim,
    // native, upscaled, 4K, gray, BGRA, JPEG'd) 0.1-6.2%; a JPEG'd
    // screenshot, which LZ77 halves, 8.4%; every other frame the LZ77 trial
    // won 25% or more (screens, text over a gradient, a page with a photo
    // in it, dithering). Frames mostly of runs (terminals, charts, pixel
    // art) are not judged by it and get the trials, which are cheap there.
    // The mirror rule (a high share of repeats picks LZ77 without trials)
    // does not hold: on bench/screen_gate_corpus.py's frames Runs won
    // where 41-94% of those bytes repeat (logos, pixel art, line charts:
    // mostly runs), and tiled noise repeats 79-99% yet is incompressible
    // to Runs; the real screenshot (43%) falls among them.
    if layout.depth == Depth::Eight
        && repeats::photo_like(&sample.data, row_bytes, layout.pixel_bytes())
    {
        // Runs either way; whether it compresses at all (it decides the
        // threads, not the bytes) needs no trial encode: the Runs coder's
        // own estimate from the Paeth residuals' counts will do.
        let mut filtered = vec![0; raw + sample.layout.height as usize];
        filter_rows(
            RowFilter::Paeth,
            &sample.data,
            None,
            row_bytes,
            layout.pixel_bytes(),
            &mut filtered,
        );
        return match incompressible(deflate::estimated_size(&filtered), raw) {
            true => Sampled::Known(Coder::RUNS, Sample::Incompressible),
            false => Sampled::Known(Coder::RUNS, Sample::Compressible),
        };
    }
    let (dense, min_saving) = match layout.depth {
        Depth::Sixteen if pairs16::mostly_x257(&sample.data, row_bytes) => {
            (Coder::Pairs16, PAIRS_MIN_SAVING)
        }
        depth => (dense(depth), DENSE_MIN_SAVING),
    };
    Sampled::Trials(Trials {
        sample,
        dense,
        min_saving,
    })
}

/// Encodes a frame as a complete PNG file in memory. `threads` (at least 1)
/// bounds the threads one frame may use; only frames of over 1 MiB are cut
/// into strips that can use more than one.
pub fn encode_png(frame: &Frame, compression: Compression, threads: usize) -> Result<Vec<u8>> {
    encode_png_with(frame, compression, threads, &Metadata::EMPTY)
}

/// `encode_png` with `metadata`'s chunks between IHDR and IDAT.
pub fn encode_png_with(
    frame: &Frame,
    compression: Compression,
    threads: usize,
    metadata: &Metadata,
) -> Result<Vec<u8>> {
    Ok(encode_png_parts(frame, compression, threads, metadata)?.into_vec())
}

/// `encode_png_with`, the file in the pieces its strips were coded in, for
/// a caller that copies it anyway (into a Python `bytes`): one copy, not
/// a gather and then a copy.
pub fn encode_png_parts(
    frame: &Frame,
    compression: Compression,
    threads: usize,
    metadata: &Metadata,
) -> Result<PngParts> {
    if !frame.is_stored_as(PixelFormat::PNG) {
        let converted = frame.to_format(PixelFormat::PNG);
        return encode_png_parts(&converted, compression, threads, metadata);
    }
    let chunks = metadata.chunks()?;
    let (layout, data) = (&frame.layout, &frame.data[..]);
    let (coder, threads_pay) = match compression {
        // `plan`, but the trial encodes run on the calling thread while the
        // others start on the strips with the likelier coder
        // (`Trials::guess`).
        Compression::Default => match take_sample(frame) {
            Sampled::Known(coder, sample) => (coder, sample.threads_pay()),
            Sampled::Trials(trials) => {
                let decide = || {
                    let (coder, sample) = trials.run();
                    (coder, sample.threads_pay())
                };
                let guess = trials.guess();
                return striped::encode_parts_deciding(
                    layout, data, guess, decide, threads, &chunks,
                );
            }
        },
        _ => compression.plan(frame),
    };
    let threads = if threads_pay { threads } else { 1 };
    striped::encode_parts(layout, data, coder, threads, &chunks)
}

/// Encodes a frame already in PNG's sample layout with one coder, with
/// `chunks` (type, data) between IHDR and IDAT.
fn encode_with(
    frame: &Frame,
    coder: Coder,
    threads: usize,
    chunks: &[([u8; 4], Vec<u8>)],
) -> Result<Vec<u8>> {
    striped::encode(&frame.layout, &frame.data, coder, threads, chunks)
}

/// Encodes a frame and writes it to `path` atomically (`durable`: fsynced,
/// see `AtomicFile::commit`).
pub fn write_png(
    path: &Path,
    frame: &Frame,
    compression: Compression,
    threads: usize,
    durable: bool,
) -> Result<()> {
    write_png_with(path, frame, compression, threads, durable, &Metadata::EMPTY)
}

/// `write_png` with `metadata`'s chunks.
pub fn write_png_with(
    path: &Path,
    frame: &Frame,
    compression: Compression,
    threads: usize,
    durable: bool,
    metadata: &Metadata,
) -> Result<()> {
    let png = encode_png_with(frame, compression, threads, metadata)?;
    crate::atomic::write_atomic(path, &png, durable)?;
    Ok(())
}

/// Suffixes of image formats other than PNG: bufpng writes PNG bytes only,
/// and a PNG named photo.jpg misleads every program that trusts the name.
const OTHER_IMAGE_SUFFIXES: [&str; 17] = [
    "jpg", "jpeg", "jpe", "jfif", "bmp", "gif", "tif", "tiff", "webp", "avif", "heic", "heif",
    "jxl", "jp2", "ppm", "pgm", "exr",
];

/// Refuses a file name that says another image format (`write("x.jpg")`).
/// Any other name (.png, .apng, .tmp, none) is the caller's business.
pub fn check_png_name(name: &Path) -> Result<()> {
    let Some(suffix) = name.extension().and_then(|s| s.to_str()) else {
        return Ok(());
    };
    if OTHER_IMAGE_SUFFIXES.contains(&suffix.to_ascii_lowercase().as_str()) {
        return Err(value_error(format!(
            "{} ends in .{suffix}, but bufpng writes PNG only: name it .png (for {} use another library, e.g. cv2.imwrite or Pillow)",
            name.display(),
            suffix.to_ascii_uppercase()
        )));
    }
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
        let dense = dense(Depth::Eight);
        assert_eq!(choose_for_content(&screen), dense);
        // The LZ77 trial ran: the repeat count did not rule it out.
        assert!(!repeats::photo_like(&screen.data, 640 * 3, 3));
        let dense = encode_with(&screen, dense, 1, &[]).unwrap().len();
        let runs = encode_with(&screen, Coder::RUNS, 1, &[]).unwrap().len();
        assert!(encode_png(&screen, Compression::Default, 1).unwrap().len() == dense);
        assert!(dense < runs / 2, "dense {dense} runs {runs}");
    }

    #[test]
    fn default_keeps_runs_for_noise_photos_and_small_frames() {
        let noise = rgb_frame(640, 240, |x, y| {
            hash(x, y).to_le_bytes()[..3].try_into().unwrap()
        });
        assert!(choose_for_content(&noise) == Coder::RUNS);
        // Runs stores what it cannot shrink, with only block headers.
        let png = encode_with(&noise, Coder::RUNS, 1, &[]).unwrap();
        assert!(png.len() < noise.data.len() + noise.data.len() / 100);
        // Smooth gradients with a little noise, like a photo.
        let photo = rgb_frame(640, 240, |x, y| {
            let n = (hash(x, y) % 3) as u8;
            [(x / 3) as u8 + n, (y / 2) as u8, ((x + y) / 4) as u8 + n]
        });
        assert!(choose_for_content(&photo) == Coder::RUNS);
        // Without an LZ77 trial: the repeat count rules it out (and the
        // trial, run anyway, agrees).
        assert!(repeats::photo_like(&photo.data, 640 * 3, 3));
        let runs = encode_with(&photo, Coder::RUNS, 1, &[]).unwrap().len();
        let dense = encode_with(&photo, dense(Depth::Eight), 1, &[])
            .unwrap()
            .len();
        assert!(dense as f64 > runs as f64 * (1.0 - DENSE_MIN_SAVING));
        let tiny = rgb_frame(32, 32, |x, _| [(x % 2) as u8 * 255; 3]);
        assert!(choose_for_content(&tiny) == Coder::RUNS);
        // A second thread is started for the photo, not for noise, where
        // the copies on the calling thread are most of the time.
        assert!(Compression::Default.plan(&photo).1);
        assert!(!Compression::Default.plan(&noise).1);
        assert!(Compression::Level(6).plan(&noise).1);
    }

    /// A 16-bit photo-like frame: smooth gradients with a little noise; the
    /// low byte repeats the high byte (`x257`, an 8-bit source) or not.
    fn photo16(width: u32, height: u32, x257: bool) -> Frame {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width * 3 {
                let high = ((x / 7 + y / 2) as u8).wrapping_add((hash(x, y) % 4) as u8);
                let low = if x257 { high } else { hash(y, x) as u8 };
                data.extend_from_slice(&[high, low]);
            }
        }
        Frame {
            layout: ImageLayout {
                width,
                height,
                channels: 3,
                depth: Depth::Sixteen,
            },
            format: PixelFormat::PNG,
            data,
        }
    }

    #[test]
    fn default_picks_the_pair_coder_for_x257_16_bit_frames_only() {
        let x257 = photo16(640, 240, true);
        assert_eq!(choose_for_content(&x257), Coder::Pairs16);
        let pairs = encode_png(&x257, Compression::Default, 2).unwrap();
        let runs = encode_with(&x257, Coder::RUNS, 1, &[]).unwrap();
        assert!(
            pairs.len() < runs.len() * 4 / 5,
            "{} {}",
            pairs.len(),
            runs.len()
        );
        let options = crate::DecodeOptions::default();
        assert!(crate::decode_png(&pairs, options)
            .unwrap()
            .same_pixels(&x257));
        // An informative low byte: not x257, the coders as before.
        let sixteen = photo16(640, 240, false);
        assert_ne!(choose_for_content(&sixteen), Coder::Pairs16);
    }

    /// Prints, for every raw 8-bit frame in $BUFPNG_GATE_CORPUS (files
    /// named NAME.WIDTHxHEIGHTxCHANNELS.raw, PNG order), the repeat counts
    /// of its sample and the trials' choice.
    #[test]
    #[ignore]
    fn gate_corpus() {
        let Ok(dir) = std::env::var("BUFPNG_GATE_CORPUS") else {
            return;
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let Some(stem) = name.strip_suffix(".raw") else {
                continue;
            };
            let (label, dims) = stem.rsplit_once('.').unwrap();
            let dims: Vec<u32> = dims.split('x').map(|d| d.parse().unwrap()).collect();
            let layout = ImageLayout {
                width: dims[0],
                height: dims[1],
                channels: dims[2] as u8,
                depth: Depth::Eight,
            };
            let frame = Frame {
                layout,
                format: PixelFormat::PNG,
                data: std::fs::read(&path).unwrap(),
            };
            if layout.height < MIN_SAMPLED_ROWS {
                println!("GATE {label} not-sampled");
                continue;
            }
            let sample = sample_rows(&frame);
            let bpp = layout.pixel_bytes();
            let found = repeats::measure(&sample.data, layout.row_bytes(), bpp);
            let photo = repeats::photo_like(&sample.data, layout.row_bytes(), bpp);
            let trials = Trials {
                sample: sample.clone(),
                dense: dense(Depth::Eight),
                min_saving: DENSE_MIN_SAVING,
            };
            let size = |coder| encode_with(&sample, coder, 1, &[]).unwrap().len();
            let (runs, lz) = (size(Coder::RUNS), size(dense(Depth::Eight)));
            let (coder, verdict) = trials.run();
            let (chosen, _) = sample_content(&frame);
            println!(
                "GATE {label} raw={} other={} repeated={} ratio={:.4} photo_like={photo} runs={runs} lz77={lz} saving={:.3} trial={} {verdict:?} now={}",
                sample.data.len(),
                found.other,
                found.repeated,
                found.repeated as f64 / found.other.max(1) as f64,
                1.0 - lz as f64 / runs as f64,
                if coder == Coder::RUNS { "runs" } else { "lz77" },
                if chosen == Coder::RUNS { "runs" } else { "lz77" },
            );
        }
    }

    #[test]
    fn every_coder_writes_the_metadata_before_the_image_data() {
        use crate::metadata::Cicp;
        // A 16-bit BT.2100 PQ frame, large enough for strips on threads.
        let layout = ImageLayout {
            width: 640,
            height: 480,
            channels: 3,
            depth: Depth::Sixteen,
        };
        let frame = Frame {
            layout,
            format: PixelFormat::PNG,
            data: (0..layout.byte_len())
                .map(|i| (i / 7 % 251) as u8)
                .collect(),
        };
        let mut metadata = Metadata {
            cicp: Some(Cicp::preset("bt2100-pq").unwrap()),
            text: vec![("Frame".into(), "17".into())],
            ..Metadata::default()
        };
        metadata.set_dpi(96.0, 96.0).unwrap();
        for compression in [
            Compression::Default,
            Compression::Level(0),
            Compression::Level(9),
        ] {
            let png = encode_png_with(&frame, compression, 4, &metadata).unwrap();
            // cICP right after IHDR, as the spec requires before IDAT.
            assert_eq!(
                &png[33..45],
                b"\0\0\0\x04cICP\x09\x10\0\x01",
                "{compression:?}"
            );
            let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
            let text = png.windows(4).position(|w| w == b"tEXt").unwrap();
            assert!(text < idat);
            let options = crate::DecodeOptions::default();
            let (decoded, read) = crate::decode_with_metadata(&png, options).unwrap();
            assert_eq!(read, metadata);
            assert!(decoded.same_pixels(&frame));
        }
        // Without metadata the image data (a large frame's restart marker
        // segments, `restart.rs`) follows IHDR.
        let plain = encode_png(&frame, Compression::Default, 4).unwrap();
        assert!(matches!(&plain[37..41], b"IDAT" | b"mARK"));
    }

    #[test]
    fn every_combination_of_metadata_kinds_decodes_with_both_coders() {
        use crate::metadata::{Cicp, ContentLightLevel, IccProfile, MasteringDisplay};
        let frame = rgb_frame(24, 80, |x, y| [x as u8, y as u8, (x * y) as u8]);
        let mut profile = vec![3u8; 200];
        profile[..4].copy_from_slice(&200u32.to_be_bytes());
        let kinds: [&dyn Fn(&mut Metadata); 8] = [
            &|m| m.text = vec![("k".into(), "v".into()), ("é".into(), "映".repeat(400))],
            &|m| m.set_dpi(96.0, 96.0).unwrap(),
            &|m| m.srgb = Some(0),
            &|m| m.gamma = Some(45455),
            &|m| m.icc_profile = Some(IccProfile::new("p", profile.clone()).unwrap()),
            &|m| m.cicp = Some(Cicp::preset("display-p3").unwrap()),
            &|m| {
                m.mastering_display = Some(
                    MasteringDisplay::new(
                        [(0.68, 0.32), (0.265, 0.69), (0.15, 0.06)],
                        (0.3127, 0.329),
                        600.0,
                        0.005,
                    )
                    .unwrap(),
                )
            },
            &|m| m.content_light_level = Some(ContentLightLevel::new(600.0, 200.0).unwrap()),
        ];
        let mut checked = 0;
        for mask in 0u32..1 << kinds.len() {
            let mut metadata = Metadata::default();
            for (bit, set) in kinds.iter().enumerate() {
                if mask & 1 << bit != 0 {
                    set(&mut metadata);
                }
            }
            if metadata.validate().is_err() {
                continue; // sRGB with iCCP: refused, as the spec asks
            }
            for compression in [Compression::Default, Compression::Level(1)] {
                let png = encode_png_with(&frame, compression, 1, &metadata).unwrap();
                let options = crate::DecodeOptions {
                    strict: true,
                    ..crate::DecodeOptions::default()
                };
                let (decoded, read) = crate::decode_with_metadata(&png, options).unwrap();
                assert_eq!(read, metadata, "mask {mask:#b}");
                assert!(decoded.same_pixels(&frame));
            }
            checked += 1;
        }
        assert_eq!(checked, 256 - 64);
    }

    #[test]
    fn every_level_encodes_a_frame_that_is_not_in_png_order() {
        // BGR input goes through to_format first; all levels must accept it.
        let mut frame = rgb_frame(40, 200, |x, y| [x as u8, y as u8, (x ^ y) as u8]);
        frame.format.order = crate::pixels::ChannelOrder::Bgr;
        let mut sizes = Vec::new();
        for level in 0..=9 {
            sizes.push(
                encode_png(&frame, Compression::Level(level), 1)
                    .unwrap()
                    .len(),
            );
        }
        assert!(sizes[0] > sizes[9], "stored must be the largest: {sizes:?}");
    }
}
