//! Animated PNG: many frames in one file, written from frames encoded in
//! parallel, and read back as full frames.
//!
//! Writing: each frame is encoded on its own by `encode_png` (so the batch
//! pool compresses frames in parallel: every APNG frame's data is an
//! independent zlib stream). The `Assembler` sink then takes the zlib stream
//! out of each PNG's IDAT chunks and writes it, in frame order, through the
//! png crate's chunk writer: as IDAT for frame 0 (the default image, which
//! viewers without APNG support show) and as fdAT for later frames, each
//! after an fcTL. Frames are full-size, dispose NONE, blend SOURCE. The file
//! is streamed into an `AtomicFile`; the acTL frame count, unknown while a
//! generator is running, is patched by seeking back before the rename.
//!
//! Reading: `decode_animation` decodes every frame with the png crate and
//! composites sub-rectangles (dispose and blend operations) onto the canvas,
//! so third-party APNGs come back as full frames, as a viewer shows them.

use crate::atomic::AtomicFile;
use crate::batch::{Sink, Work};
use crate::decode::{
    channels, check_size, decode_error, start_decoding, to_opencv_layout, DecodeOptions,
};
use crate::encode::{encode_png, encode_png_with, Compression};
use crate::error::value_error;
use crate::layout::ImageLayout;
use crate::metadata::{self, Metadata};
use crate::pixels::{zeroed_bytes, Frame};
use anyhow::{anyhow, Context, Result};
use png::chunk::{self, ChunkType};
use png::{AnimationControl, BitDepth, BlendOp, ColorType, DisposeOp, FrameControl};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// APNG stores a delay as the fraction num/den seconds of two u16.
const MAX_U16: u64 = u16::MAX as u64;

/// A frame delay as APNG stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub num: u16,
    pub den: u16,
}

impl Delay {
    /// The closest num/den (both at most 65535) to `seconds`; `what` names
    /// the argument in errors.
    pub fn from_seconds(seconds: f64, what: &str) -> Result<Delay> {
        if !seconds.is_finite() || !(0.0..=MAX_U16 as f64).contains(&seconds) {
            return Err(value_error(format!(
                "{what} must be a number of seconds from 0 to 65535, got {seconds}"
            )));
        }
        let (num, den) = if seconds <= 1.0 {
            best_rational(seconds, MAX_U16)
        } else {
            // num is the larger term: approximate the inverse, whose bound is num's.
            let (p, q) = best_rational(1.0 / seconds, MAX_U16);
            (q, p)
        };
        Ok(Delay {
            num: num as u16,
            den: den.max(1) as u16,
        })
    }

    /// One frame's delay at `fps` frames per second.
    pub fn from_fps(fps: f64) -> Result<Delay> {
        if !fps.is_finite() || fps <= 0.0 {
            return Err(value_error(format!(
                "fps must be a positive number of frames per second, got {fps}"
            )));
        }
        Delay::from_seconds(1.0 / fps, "1/fps")
            .map_err(|_| value_error(format!("fps must be at least 1/65535, got {fps}")))
    }

    /// The delay in seconds; APNG reads a denominator of 0 as 100.
    pub fn seconds(self) -> f64 {
        let den = if self.den == 0 { 100 } else { self.den };
        f64::from(self.num) / f64::from(den)
    }
}

/// The best approximation p/q of `x` (0 <= x <= 1) with q <= bound, from
/// its continued fraction (convergents, then the best semiconvergent).
fn best_rational(x: f64, bound: u64) -> (u64, u64) {
    let (mut p0, mut q0, mut p1, mut q1) = (0u64, 1u64, 1u64, 0u64);
    let mut rest = x;
    loop {
        let a = rest.floor();
        if a > bound as f64 {
            break; // the remainder is negligible at this bound
        }
        let a = a as u64;
        let q2 = a * q1 + q0;
        if q2 > bound {
            let k = (bound - q0) / q1;
            let (ps, qs) = (p0 + k * p1, q0 + k * q1);
            let error = |p: u64, q: u64| (x - p as f64 / q as f64).abs();
            return if error(ps, qs) < error(p1, q1) {
                (ps, qs)
            } else {
                (p1, q1)
            };
        }
        (p0, q0, p1, q1) = (p1, q1, a * p1 + p0, q2);
        let fraction = rest - a as f64;
        if fraction < 1e-12 {
            break;
        }
        rest = 1.0 / fraction;
    }
    (p1, q1)
}

/// Frame delays: one for all frames, or one each.
#[derive(Debug, Clone)]
pub enum Delays {
    Every(Delay),
    Each(Vec<Delay>),
}

/// Where an animation goes: a file written atomically, or bytes in memory.
#[derive(Debug, Clone)]
pub enum Destination {
    Path(PathBuf),
    Memory,
}

impl Destination {
    /// What errors are about: the path, or the function writing to memory.
    fn name(&self) -> String {
        match self {
            Destination::Path(path) => path.display().to_string(),
            Destination::Memory => "encode_animation".to_string(),
        }
    }
}

/// What write_animation and encode_animation write, and how.
#[derive(Debug, Clone)]
pub struct AnimationOutput {
    pub destination: Destination,
    pub compression: Compression,
    pub delays: Delays,
    /// acTL num_plays: 0 = loop forever.
    pub plays: u32,
    /// The file's metadata, written with frame 0 before the image data.
    pub metadata: Arc<Metadata>,
}

/// The sink of write_animation: receives encoded frames in completion
/// order and writes them, in frame order, into one APNG.
pub struct Assembler {
    output: AnimationOutput,
    first: Option<ImageLayout>,
    /// The next frame to write; frames after it wait in `waiting`.
    next: usize,
    waiting: BTreeMap<usize, Vec<u8>>,
    stream: Option<Stream>,
}

/// The file being written. `writer` is declared first so it drops first:
/// it writes IEND into the temporary file, which `target` then removes.
struct Stream {
    writer: png::Writer<BufWriter<Box<dyn Write + Send>>>,
    target: Target,
    /// Frame 0's IHDR data: every frame must have been encoded the same way.
    ihdr: Vec<u8>,
    /// The next fcTL/fdAT sequence number.
    sequence: u32,
}

/// Where the png crate's encoder puts acTL: after the signature (8 bytes)
/// and IHDR (25), as it writes no other header chunk for bufpng's settings.
const ACTL_OFFSET: u64 = 33;

impl Assembler {
    pub fn new(output: AnimationOutput) -> Assembler {
        Assembler {
            output,
            first: None,
            next: 0,
            waiting: BTreeMap::new(),
            stream: None,
        }
    }

    /// Writes IEND and sets the final frame count; a file is renamed into
    /// place (nothing exists at the path unless this succeeds) and gives
    /// None, memory gives the bytes.
    pub fn finish(mut self) -> Result<Option<Vec<u8>>> {
        let frames = self.next;
        if let Delays::Each(delays) = &self.output.delays {
            if delays.len() != frames {
                return Err(value_error(format!(
                    "durations has {} entries but there were {frames} frames: pass one duration per frame",
                    delays.len()
                )));
            }
        }
        if !self.waiting.is_empty() {
            return Err(anyhow!(
                "bufpng internal error: frames were left waiting for an earlier one"
            ));
        }
        let Some(Stream { writer, target, .. }) = self.stream.take() else {
            return Err(value_error(
                "an animation needs at least one frame, got none",
            ));
        };
        writer.finish().context(self.output.destination.name())?;
        let num_frames = u32::try_from(frames)
            .map_err(|_| value_error("an APNG holds at most 4294967295 frames"))?;
        let mut control = Vec::new();
        AnimationControl {
            num_frames,
            num_plays: self.output.plays,
        }
        .encode(&mut control)?;
        match target {
            Target::File(mut file) => {
                let patched = patch_actl(file.file(), &control);
                patched.map_err(|source| file.error(source))?;
                file.commit()?;
                Ok(None)
            }
            Target::Memory(buffer) => {
                let mut png = std::mem::take(&mut *buffer.lock());
                patch_actl(&mut Cursor::new(&mut png), &control)?;
                Ok(Some(png))
            }
        }
    }

    fn delay(&self, index: usize) -> Delay {
        match &self.output.delays {
            Delays::Every(delay) => *delay,
            Delays::Each(delays) => delays[index],
        }
    }

    /// Writes frame `self.next` from its complete PNG encoding.
    fn emit(&mut self, png: &[u8]) -> Result<()> {
        let chunks = chunks(png)?;
        let ihdr = chunks
            .iter()
            .find(|(kind, _)| *kind == chunk::IHDR)
            .map(|(_, data)| *data)
            .filter(|data| data.len() == 13)
            .ok_or_else(|| anyhow!("bufpng internal error: the encoder wrote no IHDR"))?;
        let index = self.next;
        let delay = self.delay(index);
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => self.stream.insert(Stream::create(
                &self.output.destination,
                ihdr,
                &chunks,
                self.output.plays,
            )?),
        };
        if stream.ihdr != ihdr {
            return Err(anyhow!(
                "bufpng internal error: frame {index} was encoded with another header"
            ));
        }
        let width = u32::from_be_bytes(ihdr[0..4].try_into()?);
        let height = u32::from_be_bytes(ihdr[4..8].try_into()?);
        let control = FrameControl {
            sequence_number: stream.sequence,
            width,
            height,
            x_offset: 0,
            y_offset: 0,
            delay_num: delay.num,
            delay_den: delay.den,
            dispose_op: DisposeOp::None,
            blend_op: BlendOp::Source,
        };
        stream.sequence += 1;
        let path = self.output.destination.name();
        stream
            .writer
            .write_chunk(chunk::fcTL, &frame_control_data(&control))
            .context(path.clone())?;
        let mut data = Vec::new();
        for (kind, idat) in chunks.iter().filter(|(kind, _)| *kind == chunk::IDAT) {
            if index == 0 {
                stream
                    .writer
                    .write_chunk(*kind, idat)
                    .context(path.clone())?;
            } else {
                data.clear();
                data.extend_from_slice(&stream.sequence.to_be_bytes());
                data.extend_from_slice(idat);
                stream.sequence += 1;
                stream
                    .writer
                    .write_chunk(chunk::fdAT, &data)
                    .context(path.clone())?;
            }
        }
        Ok(())
    }
}

/// Where a stream's bytes go.
enum Target {
    File(AtomicFile),
    Memory(SharedBuffer),
}

/// The in-memory destination: the png crate's writer owns its sink and
/// cannot give it back, so the sink shares the buffer with the assembler.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A panic while appending leaves bytes that are still only bytes.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Overwrites the provisional acTL (data and CRC, `control` being the
/// whole chunk) with the final frame count, checking it is where the
/// encoder put it.
fn patch_actl<F: Read + Write + Seek>(file: &mut F, control: &[u8]) -> std::io::Result<()> {
    let mut name = [0u8; 4];
    file.seek(SeekFrom::Start(ACTL_OFFSET + 4))?;
    file.read_exact(&mut name)?;
    if name != chunk::acTL.0 {
        return Err(std::io::Error::other(
            "bufpng internal error: acTL is not where the encoder put it",
        ));
    }
    file.seek(SeekFrom::Start(ACTL_OFFSET))?;
    file.write_all(control)
}

impl Stream {
    /// Creates the temporary file (or the buffer) and writes the header:
    /// signature, IHDR, acTL (with a provisional frame count), frame 0's
    /// other header chunks (its metadata).
    fn create(
        destination: &Destination,
        ihdr: &[u8],
        chunks: &[(ChunkType, &[u8])],
        plays: u32,
    ) -> Result<Stream> {
        let (target, sink): (Target, Box<dyn Write + Send>) = match destination {
            Destination::Path(path) => {
                let mut file = AtomicFile::create(path)?;
                let handle: File = file.file().try_clone().map_err(|e| file.error(e))?;
                (Target::File(file), Box::new(handle))
            }
            Destination::Memory => {
                let buffer = SharedBuffer::default();
                (Target::Memory(buffer.clone()), Box::new(buffer))
            }
        };
        let width = u32::from_be_bytes(ihdr[0..4].try_into()?);
        let height = u32::from_be_bytes(ihdr[4..8].try_into()?);
        let depth = BitDepth::from_u8(ihdr[8]);
        let color = ColorType::from_u8(ihdr[9]);
        let (Some(depth), Some(color), 0) = (depth, color, ihdr[12]) else {
            return Err(anyhow!(
                "bufpng internal error: unexpected IHDR from the encoder"
            ));
        };
        let mut encoder = png::Encoder::new(BufWriter::new(sink), width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        encoder.set_animated(1, plays)?;
        let mut writer = encoder.write_header().context(destination.name())?;
        for (kind, data) in chunks.iter().take_while(|(kind, _)| *kind != chunk::IDAT) {
            if ![chunk::IHDR, chunk::acTL, chunk::fcTL].contains(kind) {
                writer.write_chunk(*kind, data)?;
            }
        }
        Ok(Stream {
            writer,
            target,
            ihdr: ihdr.to_vec(),
            sequence: 0,
        })
    }
}

/// fcTL's 26 bytes (the png crate's `FrameControl::encode` writes a whole
/// chunk straight to a stream; the writer wants the data).
fn frame_control_data(control: &FrameControl) -> Vec<u8> {
    let mut chunk = Vec::with_capacity(38);
    // Cannot fail: writing to a Vec.
    let _ = control.encode(&mut chunk);
    // length (4) + type (4) + data (26) + CRC (4)
    chunk[8..34].to_vec()
}

/// The chunks of a PNG file that bufpng's encoder wrote.
fn chunks(png: &[u8]) -> Result<Vec<(ChunkType, &[u8])>> {
    let bad = || anyhow!("bufpng internal error: the encoder's output is not a PNG");
    let mut rest = png.get(8..).ok_or_else(bad)?;
    let mut found = Vec::new();
    while !rest.is_empty() {
        let length = u32::from_be_bytes(rest.get(0..4).ok_or_else(bad)?.try_into()?) as usize;
        let kind = ChunkType(rest.get(4..8).ok_or_else(bad)?.try_into()?);
        let data = rest.get(8..8 + length).ok_or_else(bad)?;
        found.push((kind, data));
        rest = rest.get(12 + length..).ok_or_else(bad)?;
    }
    Ok(found)
}

impl Sink for Assembler {
    type Encoded = Vec<u8>;

    fn work(&self) -> Work<Vec<u8>> {
        let compression = self.output.compression;
        let metadata = Arc::clone(&self.output.metadata);
        // Only frame 0's header chunks are copied into the file.
        Arc::new(move |index, frame| match index {
            0 => encode_png_with(frame, compression, 1, &metadata),
            _ => encode_png(frame, compression, 1),
        })
    }

    fn check(&mut self, index: usize, layout: &ImageLayout) -> Result<()> {
        if let Delays::Each(delays) = &self.output.delays {
            if index >= delays.len() {
                return Err(value_error(format!(
                    "durations has {} entries but there are more frames: pass one duration per frame",
                    delays.len()
                )));
            }
        }
        let first = *self.first.get_or_insert(*layout);
        if index > 0 && first != *layout {
            return Err(value_error(format!(
                "it is {}, but frames[0] is {}: every frame of an animation must have the same size, channel count and depth",
                describe(layout),
                describe(&first)
            )));
        }
        Ok(())
    }

    fn accept(&mut self, index: usize, png: Vec<u8>) -> Result<()> {
        self.waiting.insert(index, png);
        while let Some(png) = self.waiting.remove(&self.next) {
            self.emit(&png)?;
            self.next += 1;
        }
        Ok(())
    }

    fn held(&self) -> usize {
        self.waiting.len()
    }
}

fn describe(layout: &ImageLayout) -> String {
    format!(
        "{}x{} with {} {}-bit channel{}",
        layout.width,
        layout.height,
        layout.channels,
        layout.depth.bits(),
        if layout.channels == 1 { "" } else { "s" }
    )
}

/// Every frame of an APNG (or the one frame of a plain PNG), composited
/// to full frames in the layout `decode_png` gives.
#[derive(Debug)]
pub struct Animation {
    pub frames: Vec<Frame>,
    /// Seconds each frame shows; 0.0 for a plain PNG.
    pub durations: Vec<f64>,
    /// acTL num_plays: 0 = forever (also for a plain PNG).
    pub plays: u32,
    /// The file's metadata (read as `decode_with_metadata` reads it).
    pub metadata: Metadata,
}

/// Decodes every frame of an APNG held in memory. `max_bytes` caps the
/// pixels of all frames together, so a small file of many highly
/// compressible frames cannot claim unbounded memory.
pub fn decode_animation(data: &[u8], options: DecodeOptions) -> Result<Animation> {
    if data.is_empty() {
        return Err(value_error(
            "cannot decode PNG: the data is empty (0 bytes)",
        ));
    }
    let found = metadata::read(data, options.strict, options.max_bytes)?;
    let data = found.cleaned.as_deref().unwrap_or(data);
    // fdAT and fcTL are ancillary chunks, whose CRC failures the png crate
    // skips by default: that would hand out damaged frames without a word.
    let mut strict = png::DecodeOptions::default();
    strict.set_skip_ancillary_crc_failures(false);
    // metadata::read has the text.
    strict.set_ignore_text_chunk(true);
    let decoder = png::Decoder::new_with_options(Cursor::new(data), strict);
    let (mut reader, depth) = start_decoding(decoder, data.len(), options)?;
    let (width, height) = reader.info().size();
    let fail = |e| decode_error(e, options.max_bytes);
    let info = reader.info();
    let layout = ImageLayout {
        width,
        height,
        channels: channels(info.color_type, info.trns.is_some()),
        depth,
    };
    let (color, _) = reader.output_color_type();
    let samples = color.samples();
    check_size(
        width,
        height,
        layout.channels.max(samples as u8),
        depth,
        options.max_bytes,
    )?;
    let control = info.animation_control().copied();
    let default_is_frame = info.frame_control().is_some();
    let (count, plays) = control.map_or((1, 0), |c| (c.num_frames, c.num_plays));
    let canvas_len = reader
        .output_buffer_size()
        .ok_or_else(|| fail(png::DecodingError::LimitsExceeded))?;
    // As in decode_png: MemoryError, not an abort, when memory runs out.
    let zeroed = || {
        zeroed_bytes(canvas_len, || {
            format!("cannot allocate {canvas_len} bytes to decode a {width}x{height} animation: not enough memory (lower max_bytes to refuse such files with a ValueError)")
        })
    };
    let mut canvas = Compositor {
        pixels: zeroed()?,
        width: width as usize,
        height: height as usize,
        pixel_bytes: samples * depth.bytes(),
        sample_bytes: depth.bytes(),
        alpha: matches!(color, ColorType::GrayscaleAlpha | ColorType::Rgba),
        pending: None,
    };
    let mut buffer = zeroed()?;
    if control.is_some() && !default_is_frame {
        // The default image is not part of the animation: skip it.
        reader.next_frame(&mut buffer).map_err(fail)?;
    }
    let frame_bytes = layout.byte_len().max(canvas_len) as u128;
    let mut animation = Animation {
        frames: Vec::new(),
        durations: Vec::new(),
        plays,
        metadata: found.metadata,
    };
    for index in 0..count as usize {
        if frame_bytes * (index as u128 + 1) > options.max_bytes as u128 {
            return Err(value_error(format!(
                "the animation's frames need more than max_bytes={} bytes of pixels together (frame {index} of {count} would pass it): pass a larger max_bytes if you trust the file",
                options.max_bytes
            )));
        }
        let output = reader.next_frame(&mut buffer).map_err(fail)?;
        let delay = match reader.info().frame_control().copied() {
            Some(control) => {
                canvas.draw(&control, &buffer, output.line_size, index == 0)?;
                Delay {
                    num: control.delay_num,
                    den: control.delay_den,
                }
                .seconds()
            }
            None => {
                canvas.pixels.copy_from_slice(&buffer[..canvas_len]);
                0.0
            }
        };
        animation.frames.push(to_opencv_layout(
            canvas.pixels.clone(),
            color,
            layout,
            options.order,
        ));
        animation.durations.push(delay);
    }
    reader.finish().map_err(fail)?;
    Ok(animation)
}

/// The APNG canvas: applies each frame's region, blend and dispose
/// operations (APNG spec, "fcTL") to the decoded samples (big-endian).
struct Compositor {
    pixels: Vec<u8>,
    width: usize,
    height: usize,
    pixel_bytes: usize,
    sample_bytes: usize,
    alpha: bool,
    /// The last frame's region and dispose op, with the pixels it covered
    /// when that op is PREVIOUS.
    pending: Option<(FrameControl, Option<Vec<u8>>)>,
}

impl Compositor {
    fn draw(
        &mut self,
        control: &FrameControl,
        frame: &[u8],
        line: usize,
        first: bool,
    ) -> Result<()> {
        let (x, y) = (control.x_offset as usize, control.y_offset as usize);
        let (w, h) = (control.width as usize, control.height as usize);
        if x.checked_add(w).is_none_or(|end| end > self.width)
            || y.checked_add(h).is_none_or(|end| end > self.height)
            || line < w * self.pixel_bytes
            || frame.len() < line * h
        {
            return Err(value_error(format!(
                "cannot decode PNG: frame region {w}x{h} at ({x}, {y}) lies outside the {}x{} image",
                self.width, self.height
            )));
        }
        if let Some((previous, saved)) = self.pending.take() {
            match (previous.dispose_op, saved) {
                (DisposeOp::Background, _) => self.fill_region(&previous, None),
                (DisposeOp::Previous, Some(saved)) => self.fill_region(&previous, Some(&saved)),
                _ => {}
            }
        }
        let dispose = match control.dispose_op {
            // The spec: PREVIOUS on the first frame is treated as BACKGROUND.
            DisposeOp::Previous if first => DisposeOp::Background,
            op => op,
        };
        let saved = (dispose == DisposeOp::Previous).then(|| self.region(control));
        let row_bytes = w * self.pixel_bytes;
        for row in 0..h {
            let start = ((y + row) * self.width + x) * self.pixel_bytes;
            let target = &mut self.pixels[start..start + row_bytes];
            let source = &frame[row * line..row * line + row_bytes];
            if control.blend_op == BlendOp::Over && self.alpha {
                blend_over(target, source, self.pixel_bytes, self.sample_bytes);
            } else {
                target.copy_from_slice(source);
            }
        }
        let mut control = *control;
        control.dispose_op = dispose;
        self.pending = Some((control, saved));
        Ok(())
    }

    fn region(&self, control: &FrameControl) -> Vec<u8> {
        let (x, y) = (control.x_offset as usize, control.y_offset as usize);
        let row_bytes = control.width as usize * self.pixel_bytes;
        let mut out = Vec::with_capacity(row_bytes * control.height as usize);
        for row in 0..control.height as usize {
            let start = ((y + row) * self.width + x) * self.pixel_bytes;
            out.extend_from_slice(&self.pixels[start..start + row_bytes]);
        }
        out
    }

    /// Restores `saved` into the region, or clears it to transparent black.
    fn fill_region(&mut self, control: &FrameControl, saved: Option<&[u8]>) {
        let (x, y) = (control.x_offset as usize, control.y_offset as usize);
        let row_bytes = control.width as usize * self.pixel_bytes;
        for row in 0..control.height as usize {
            let start = ((y + row) * self.width + x) * self.pixel_bytes;
            let target = &mut self.pixels[start..start + row_bytes];
            match saved {
                Some(saved) => target.copy_from_slice(&saved[row * row_bytes..][..row_bytes]),
                None => target.fill(0),
            }
        }
    }
}

/// Porter-Duff OVER of `source` onto `target`, pixels of `pixel_bytes`
/// with alpha last, samples of `sample_bytes` (1, or 2 big-endian).
fn blend_over(target: &mut [u8], source: &[u8], pixel_bytes: usize, sample_bytes: usize) {
    let max: u64 = if sample_bytes == 2 { 65535 } else { 255 };
    let read = |s: &[u8]| -> u64 {
        if sample_bytes == 2 {
            u64::from(u16::from_be_bytes([s[0], s[1]]))
        } else {
            u64::from(s[0])
        }
    };
    let write = |s: &mut [u8], v: u64| {
        if sample_bytes == 2 {
            s.copy_from_slice(&(v as u16).to_be_bytes());
        } else {
            s[0] = v as u8;
        }
    };
    let alpha_at = pixel_bytes - sample_bytes;
    for (dst, src) in target
        .chunks_exact_mut(pixel_bytes)
        .zip(source.chunks_exact(pixel_bytes))
    {
        let (sa, da) = (read(&src[alpha_at..]), read(&dst[alpha_at..]));
        // Onto a transparent pixel OVER is a copy (the formula's result where
        // it is defined; for two transparent pixels the colour is arbitrary,
        // and copying it is what OpenCV and Pillow do).
        if sa == max || da == 0 {
            dst.copy_from_slice(src);
            continue;
        }
        if sa == 0 {
            continue;
        }
        // Everything scaled by max to stay in integers: out_a * max.
        let out_a = sa * max + da * (max - sa);
        for at in (0..alpha_at).step_by(sample_bytes) {
            let (sc, dc) = (read(&src[at..]), read(&dst[at..]));
            let value = (sc * sa * max + dc * da * (max - sa) + out_a / 2) / out_a;
            write(&mut dst[at..at + sample_bytes], value);
        }
        write(&mut dst[alpha_at..], (out_a + max / 2) / max);
    }
}

/// Reads and decodes an APNG file; errors name `path`.
pub fn read_animation(path: &Path, options: DecodeOptions) -> Result<Animation> {
    let data = std::fs::read(path).map_err(|source| crate::FileError {
        path: path.to_path_buf(),
        source,
    })?;
    decode_animation(&data, options).with_context(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_png;
    use crate::decode::tests::crc32;
    use crate::layout::{Depth, Endian};
    use crate::pixels::{ChannelOrder, PixelFormat};
    use crate::scratch::ScratchDir;

    fn delay(seconds: f64) -> (u16, u16) {
        let d = Delay::from_seconds(seconds, "t").unwrap();
        (d.num, d.den)
    }

    #[test]
    fn delays_are_exact_or_the_closest_u16_fraction() {
        assert_eq!(delay(0.04), (1, 25));
        assert_eq!(delay(0.0), (0, 1));
        assert_eq!(delay(1.5), (3, 2));
        assert_eq!(delay(1.0 / 3.0), (1, 3));
        assert_eq!(delay(65535.0), (65535, 1));
        assert_eq!(delay(1001.0 / 30000.0), (1001, 30000));
        let ntsc = Delay::from_fps(29.97).unwrap();
        assert_eq!((ntsc.num, ntsc.den), (100, 2997));
        // No exact fraction: the best one with u16 terms, as Python's
        // Fraction(x).limit_denominator(65535) finds it.
        assert_eq!(delay(std::f64::consts::PI / 10.0), (71, 226));
        // Above a second the numerator is the bound: 1/x's best fraction, inverted.
        assert_eq!(delay(1000.0 * std::f64::consts::E), (19028, 7));
        for bad in [-0.1, 65536.0, f64::NAN, f64::INFINITY] {
            assert!(Delay::from_seconds(bad, "t").is_err(), "{bad}");
        }
        for bad in [0.0, -25.0, f64::NAN, 1e-6] {
            assert!(Delay::from_fps(bad).is_err(), "{bad}");
        }
        assert_eq!(Delay { num: 7, den: 0 }.seconds(), 0.07);
    }

    fn frame(seed: u8, channels: u8, depth: Depth) -> Frame {
        let layout = ImageLayout {
            width: 9,
            height: 5,
            channels,
            depth,
        };
        Frame {
            layout,
            format: PixelFormat::PNG,
            data: (0..layout.byte_len())
                .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                .collect(),
        }
    }

    fn scratch(name: &str) -> ScratchDir {
        ScratchDir::new("apng", name)
    }

    fn output(path: PathBuf) -> AnimationOutput {
        AnimationOutput {
            destination: Destination::Path(path),
            compression: Compression::Default,
            delays: Delays::Every(Delay { num: 1, den: 25 }),
            plays: 4,
            metadata: Arc::default(),
        }
    }

    /// Feeds `frames` to an assembler in `order` (as workers might finish).
    fn assemble(path: PathBuf, frames: &[Frame], order: &[usize]) -> Result<usize> {
        let mut assembler = Assembler::new(output(path));
        let work = assembler.work();
        let mut most_held = 0;
        for &index in order {
            assembler.check(index, &frames[index].layout)?;
            assembler.accept(index, work(index, &frames[index])?)?;
            most_held = most_held.max(assembler.held());
        }
        assembler.finish()?;
        Ok(most_held)
    }

    #[test]
    fn out_of_order_results_are_written_in_frame_order() {
        let dir = scratch("order");
        let frames: Vec<Frame> = (1..=5).map(|s| frame(s, 3, Depth::Eight)).collect();
        assert_eq!(
            assemble(dir.join("a.png"), &frames, &[0, 1, 2, 3, 4]).unwrap(),
            0
        );
        assert_eq!(
            assemble(dir.join("b.png"), &frames, &[3, 1, 4, 0, 2]).unwrap(),
            3
        );
        let a = std::fs::read(dir.join("a.png")).unwrap();
        assert_eq!(a, std::fs::read(dir.join("b.png")).unwrap());
        let animation = decode_animation(&a, DecodeOptions::default()).unwrap();
        assert_eq!(animation.plays, 4);
        assert_eq!(animation.durations, [0.04; 5]);
        for (got, want) in animation.frames.iter().zip(&frames) {
            assert!(got.same_pixels(want));
        }
        // The default image is frame 0, for readers that know no APNG.
        assert!(decode_png(&a, DecodeOptions::default())
            .unwrap()
            .same_pixels(&frames[0]));
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["a.png", "b.png"]);
    }

    #[test]
    fn memory_gets_the_files_bytes_and_frame_zero_carries_the_metadata() {
        let dir = scratch("memory");
        let frames: Vec<Frame> = (1..=3).map(|s| frame(s, 3, Depth::Sixteen)).collect();
        let mut metadata = Metadata::default();
        metadata.text = vec![("Source".into(), "clip.mov".into())];
        metadata.cicp = Some(crate::metadata::Cicp::preset("bt2100-pq").unwrap());
        let run = |destination: Destination| {
            let mut out = output(PathBuf::new());
            out.destination = destination;
            out.metadata = Arc::new(metadata.clone());
            let mut assembler = Assembler::new(out);
            let work = assembler.work();
            for (index, frame) in frames.iter().enumerate().rev() {
                assembler.check(index, &frame.layout).unwrap();
                assembler
                    .accept(index, work(index, frame).unwrap())
                    .unwrap();
            }
            assembler.finish().unwrap()
        };
        assert!(run(Destination::Path(dir.join("a.png"))).is_none());
        let bytes = run(Destination::Memory).unwrap();
        assert_eq!(bytes, std::fs::read(dir.join("a.png")).unwrap());
        let (first, read) =
            crate::decode::decode_with_metadata(&bytes, DecodeOptions::default()).unwrap();
        assert_eq!(read, metadata);
        assert!(first.same_pixels(&frames[0]));
        let animation = decode_animation(&bytes, DecodeOptions::default()).unwrap();
        assert_eq!(animation.frames.len(), 3);
        assert_eq!(animation.metadata, metadata);
        // cICP before the first fcTL and IDAT; acTL still right after IHDR.
        let kinds: Vec<_> = chunks(&bytes)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            kinds[..5],
            [
                chunk::IHDR,
                chunk::acTL,
                chunk::cICP,
                chunk::tEXt,
                chunk::fcTL
            ]
        );
    }

    #[test]
    fn sixteen_bit_gray_alpha_round_trips() {
        let dir = scratch("sixteen");
        let frames: Vec<Frame> = (1..=3).map(|s| frame(s, 2, Depth::Sixteen)).collect();
        assemble(dir.join("a.png"), &frames, &[2, 0, 1]).unwrap();
        let options = DecodeOptions {
            order: ChannelOrder::Rgb,
            ..DecodeOptions::default()
        };
        let data = std::fs::read(dir.join("a.png")).unwrap();
        let animation = decode_animation(&data, options).unwrap();
        for (got, want) in animation.frames.iter().zip(&frames) {
            // decode's rule: gray + alpha comes back as gray, gray, gray, alpha.
            let want = want.to_format(PixelFormat {
                order: ChannelOrder::Rgb,
                endian: Endian::NATIVE,
            });
            assert_eq!(got.layout.channels, 4);
            for (g, w) in got.data.chunks(8).zip(want.data.chunks(4)) {
                assert_eq!(g, [&w[..2], &w[..2], &w[..2], &w[2..]].concat());
            }
        }
    }

    #[test]
    fn mismatched_frames_and_no_frames_write_nothing() {
        let dir = scratch("mismatch");
        let frames = [frame(1, 3, Depth::Eight), frame(2, 4, Depth::Eight)];
        let err = assemble(dir.join("a.png"), &frames, &[0, 1]).unwrap_err();
        assert!(
            err.to_string().contains("every frame of an animation"),
            "{err}"
        );
        let err = Assembler::new(output(dir.join("a.png")))
            .finish()
            .unwrap_err();
        assert!(err.to_string().contains("at least one frame"), "{err}");
        // Frames written, then abandoned (an error elsewhere): no file, no temp.
        let mut assembler = Assembler::new(output(dir.join("a.png")));
        let work = assembler.work();
        assembler.accept(0, work(0, &frames[0]).unwrap()).unwrap();
        drop(assembler);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn durations_must_match_the_frames() {
        let dir = scratch("durations");
        let frames = [frame(1, 1, Depth::Eight), frame(2, 1, Depth::Eight)];
        let mut out = output(dir.join("a.png"));
        out.delays = Delays::Each(vec![Delay { num: 1, den: 2 }; 3]);
        let mut assembler = Assembler::new(out.clone());
        let work = assembler.work();
        for (i, f) in frames.iter().enumerate() {
            assembler.check(i, &f.layout).unwrap();
            assembler.accept(i, work(i, f).unwrap()).unwrap();
        }
        assert!(assembler
            .finish()
            .unwrap_err()
            .to_string()
            .contains("3 entries but there were 2"));
        out.delays = Delays::Each(vec![Delay { num: 1, den: 2 }; 1]);
        let mut assembler = Assembler::new(out);
        assembler.check(0, &frames[0].layout).unwrap();
        assert!(assembler.check(1, &frames[1].layout).is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn over_follows_the_apng_formula() {
        let mut dst = [40, 200, 100, 255, 9, 9, 9, 0, 1, 2, 3, 200];
        let src = [80, 200, 100, 128, 5, 6, 7, 0, 50, 60, 70, 0];
        blend_over(&mut dst, &src, 4, 1);
        // 80*128/255 + 40*127/255 = 60.08; onto a transparent pixel: a copy;
        // a transparent source: unchanged.
        assert_eq!(dst, [60, 200, 100, 255, 5, 6, 7, 0, 1, 2, 3, 200]);
        let mut dst16 = [0u8; 4];
        dst16[..2].copy_from_slice(&1000u16.to_be_bytes());
        dst16[2..].copy_from_slice(&0x8000u16.to_be_bytes());
        let mut src16 = [0u8; 4];
        src16[..2].copy_from_slice(&3000u16.to_be_bytes());
        src16[2..].copy_from_slice(&0x8000u16.to_be_bytes());
        blend_over(&mut dst16, &src16, 4, 2);
        // out_a = 0.5 + 0.5 * 0.5 = 0.75; colour = (3000*0.5 + 1000*0.25) / 0.75.
        let colour = u16::from_be_bytes([dst16[0], dst16[1]]);
        let alpha = u16::from_be_bytes([dst16[2], dst16[3]]);
        assert!((i32::from(colour) - 2333).abs() <= 1, "{colour}");
        assert!((i32::from(alpha) - 49151).abs() <= 1, "{alpha}");
    }

    /// A 4x4 gray+alpha APNG written by the png crate with sub-frames.
    fn sub_framed(ops: &[(u32, u32, u32, u32, u8, DisposeOp, BlendOp)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 4, 4);
        encoder.set_color(ColorType::GrayscaleAlpha);
        encoder.set_animated(ops.len() as u32, 0).unwrap();
        let mut writer = encoder.write_header().unwrap();
        for &(x, y, w, h, value, dispose, blend) in ops {
            // Position first to (0, 0): each call checks the region fits.
            writer.set_frame_position(0, 0).unwrap();
            writer.set_frame_dimension(w, h).unwrap();
            writer.set_frame_position(x, y).unwrap();
            writer.set_dispose_op(dispose).unwrap();
            writer.set_blend_op(blend).unwrap();
            let alpha = if value == 0 { 0 } else { 255 };
            let data: Vec<u8> = (0..w * h).flat_map(|_| [value, alpha]).collect();
            writer.write_image_data(&data).unwrap();
        }
        writer.finish().unwrap();
        out
    }

    /// Each frame's gray samples (alpha dropped), row-major.
    fn grays(png: &[u8]) -> Vec<Vec<u8>> {
        decode_animation(png, DecodeOptions::default())
            .unwrap()
            .frames
            .iter()
            .map(|f| f.data.chunks(4).map(|p| p[0]).collect())
            .collect()
    }

    #[test]
    fn sub_frames_are_composited_with_dispose_and_blend() {
        use BlendOp::{Over, Source};
        use DisposeOp::{Background, None as Keep, Previous};
        let png = sub_framed(&[
            (0, 0, 4, 4, 10, Keep, Source),
            (1, 1, 2, 2, 20, Previous, Source),
            (0, 0, 1, 1, 30, Background, Source),
            (3, 3, 1, 1, 40, Keep, Source),
            (0, 0, 2, 1, 0, Keep, Over),
        ]);
        let frames = grays(&png);
        #[rustfmt::skip]
        let expected: [[u8; 16]; 5] = [
            [10; 16],
            [10, 10, 10, 10, 10, 20, 20, 10, 10, 20, 20, 10, 10, 10, 10, 10],
            // frame 1's region restored (PREVIOUS) before frame 2 is drawn
            [30, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
            // frame 2's pixel cleared (BACKGROUND)
            [0, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 40],
            // transparent pixels OVER: (0, 0) was cleared, so copied; (1, 0) unchanged
            [0, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 40],
        ];
        assert_eq!(frames, expected.map(|f| f.to_vec()));
    }

    #[test]
    fn frame_regions_outside_the_image_are_errors() {
        let png = sub_framed(&[(0, 0, 4, 4, 10, DisposeOp::None, BlendOp::Source)]);
        let mut forged = png.clone();
        // fcTL data starts after signature, IHDR (25) and acTL (20): x_offset at +12.
        let at = 8 + 25 + 20 + 8;
        assert_eq!(&forged[at - 4..at], b"fcTL");
        forged[at + 12..at + 16].copy_from_slice(&2u32.to_be_bytes());
        let crc = crc32(&forged[at - 4..at + 26]);
        forged[at + 26..at + 30].copy_from_slice(&crc.to_be_bytes());
        assert!(decode_animation(&forged, DecodeOptions::default()).is_err());
    }
}
