//! Writing an APNG: the `Assembler` sink of write_animation (see the
//! module documentation of `apng`).

use super::{Delay, Delays};
use crate::atomic::AtomicFile;
use crate::batch::{Sink, Work};
use crate::encode::{encode_png, encode_png_with, Compression};
use crate::error::{value_error, FileError};
use crate::layout::ImageLayout;
use crate::metadata::Metadata;
use anyhow::{anyhow, Result};
use png::chunk::{self, ChunkType};
use png::{AnimationControl, BitDepth, BlendOp, ColorType, DisposeOp, FrameControl};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where an animation goes: a file written atomically, or bytes in memory.
#[derive(Debug, Clone)]
pub enum Destination {
    Path(PathBuf),
    Memory,
}

/// What write_animation and encode_animation write, and how.
#[derive(Debug, Clone)]
pub struct AnimationOutput {
    pub destination: Destination,
    pub compression: Compression,
    pub delays: Delays,
    /// acTL num_plays: 0 = loop forever.
    pub plays: u32,
    /// fsync the file and its directory before returning (`AtomicFile::commit`).
    pub durable: bool,
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
    /// The temporary file (or the buffer), created by `start` (so a bad path
    /// fails before, not while writing, any frame) until frame 0 opens the
    /// stream on it.
    file: Option<Target>,
    stream: Option<Stream>,
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
            file: None,
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
        writer
            .finish()
            .map_err(encoding_error(&self.output.destination))?;
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
                file.commit(self.output.durable)?;
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
                self.file
                    .take()
                    .ok_or_else(|| anyhow!("bufpng internal error: no file for frame 0"))?,
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
        let fail = encoding_error(&self.output.destination);
        stream
            .writer
            .write_chunk(chunk::fcTL, &frame_control_data(&control))
            .map_err(&fail)?;
        let mut data = Vec::new();
        for (kind, idat) in chunks.iter().filter(|(kind, _)| *kind == chunk::IDAT) {
            if index == 0 {
                stream.writer.write_chunk(*kind, idat).map_err(&fail)?;
            } else {
                data.clear();
                data.extend_from_slice(&stream.sequence.to_be_bytes());
                data.extend_from_slice(idat);
                stream.sequence += 1;
                stream
                    .writer
                    .write_chunk(chunk::fdAT, &data)
                    .map_err(&fail)?;
            }
        }
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
    /// Starts writing into the temporary file (or the buffer): signature,
    /// IHDR, acTL (with a provisional frame count), frame 0's other header
    /// chunks (its metadata).
    fn create(
        mut target: Target,
        destination: &Destination,
        ihdr: &[u8],
        chunks: &[(ChunkType, &[u8])],
        plays: u32,
    ) -> Result<Stream> {
        let sink: Box<dyn Write + Send> = match &mut target {
            Target::File(file) => {
                let handle: File = file.file().try_clone().map_err(|e| file.error(e))?;
                Box::new(handle)
            }
            Target::Memory(buffer) => Box::new(buffer.clone()),
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
        let fail = encoding_error(destination);
        let mut writer = encoder.write_header().map_err(&fail)?;
        for (kind, data) in chunks.iter().take_while(|(kind, _)| *kind != chunk::IDAT) {
            if ![chunk::IHDR, chunk::acTL, chunk::fcTL].contains(kind) {
                writer.write_chunk(*kind, data).map_err(&fail)?;
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

/// The png crate's I/O errors as `FileError`s naming the animation's path
/// (so Python gets an OSError with errno and filename, as from any other
/// write); its other errors, which would be bufpng's bugs, as they are.
/// Writing to memory cannot fail with I/O errors.
fn encoding_error(destination: &Destination) -> impl Fn(png::EncodingError) -> anyhow::Error + '_ {
    move |error| match (destination, error) {
        (Destination::Path(path), png::EncodingError::IoError(source)) => FileError {
            path: path.to_path_buf(),
            source,
        }
        .into(),
        (Destination::Path(path), other) => {
            anyhow::Error::new(other).context(path.display().to_string())
        }
        (Destination::Memory, other) => anyhow::Error::new(other).context("encode_animation"),
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

    /// Creates the temporary file before the first frame is written: errors
    /// about the path come first, and are no frame's.
    fn start(&mut self) -> Result<()> {
        self.file = Some(match &self.output.destination {
            Destination::Path(path) => Target::File(AtomicFile::create(path)?),
            Destination::Memory => Target::Memory(SharedBuffer::default()),
        });
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apng::decode_animation;
    use crate::decode::{decode_png, DecodeOptions};
    use crate::layout::{Depth, Endian};
    use crate::pixels::{ChannelOrder, Frame, PixelFormat};
    use crate::scratch::ScratchDir;

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
            durable: false,
            metadata: Arc::default(),
        }
    }

    /// Feeds `frames` to an assembler in `order` (as workers might finish).
    fn assemble(path: PathBuf, frames: &[Frame], order: &[usize]) -> Result<usize> {
        let mut assembler = Assembler::new(output(path));
        assembler.start()?;
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
        let metadata = Metadata {
            text: vec![("Source".into(), "clip.mov".into())],
            cicp: Some(crate::metadata::Cicp::preset("bt2100-pq").unwrap()),
            ..Metadata::default()
        };
        let run = |destination: Destination| {
            let mut out = output(PathBuf::new());
            out.destination = destination;
            out.metadata = Arc::new(metadata.clone());
            let mut assembler = Assembler::new(out);
            assembler.start().unwrap();
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
        assembler.start().unwrap();
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
        assembler.start().unwrap();
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
}
