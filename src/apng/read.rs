//! Reading an APNG: every frame decoded and composited onto the canvas
//! (see the module documentation of `apng`).

use super::Delay;
use crate::decode::{
    channels, check_size, decode_error, start_decoding, to_opencv_layout, DecodeOptions,
};
use crate::error::value_error;
use crate::layout::ImageLayout;
use crate::metadata::{self, Metadata};
use crate::pixels::{zeroed_bytes, Frame};
use anyhow::{Context, Result};
use png::{BlendOp, ColorType, DisposeOp, FrameControl};
use std::io::Cursor;
use std::path::Path;

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
    use crate::decode::tests::crc32;

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

    /// A PNG's chunks as (type, data), and back (CRCs recomputed).
    type Chunks = Vec<([u8; 4], Vec<u8>)>;

    fn split_chunks(png: &[u8]) -> Chunks {
        let mut at = 8;
        let mut out = Vec::new();
        while at < png.len() {
            let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind = png[at + 4..at + 8].try_into().unwrap();
            out.push((kind, png[at + 8..at + 8 + length].to_vec()));
            at += 12 + length;
        }
        out
    }

    fn join_chunks(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in chunks {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = png.len();
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            let crc = crc32(&png[start..]);
            png.extend_from_slice(&crc.to_be_bytes());
        }
        png
    }

    #[test]
    fn a_still_decode_ignores_damaged_animation_chunks() {
        use crate::decode::decode_png;
        let ops = [(0, 0, 4, 4, 10, DisposeOp::None, BlendOp::Source); 4];
        let mut ops = ops;
        for (i, op) in ops.iter_mut().enumerate() {
            op.4 = 10 * (i as u8 + 1);
        }
        let intact = sub_framed(&ops);
        let default = decode_png(&intact, DecodeOptions::default()).unwrap();
        assert_eq!(grays(&intact).len(), 4);
        let chunks = split_chunks(&intact);
        let fdat: Vec<usize> = (0..chunks.len())
            .filter(|&i| &chunks[i].0 == b"fdAT")
            .collect();
        let sequence_of = |i: usize| chunks[i].1[..4].to_vec();
        let mut damaged: Vec<(&str, Chunks)> = Vec::new();
        // A gap: one fdAT's sequence number skips ahead.
        let mut gap = chunks.clone();
        gap[fdat[1]].1[..4].copy_from_slice(&100u32.to_be_bytes());
        damaged.push(("gap", gap));
        // A repeat: the second fdAT carries the first one's number.
        let mut repeat = chunks.clone();
        let first = sequence_of(fdat[0]);
        repeat[fdat[1]].1[..4].copy_from_slice(&first);
        damaged.push(("repeat", repeat));
        // Reordered: two frames' (fcTL, fdAT) pairs swapped.
        let mut reordered = chunks.clone();
        reordered.swap(fdat[0] - 1, fdat[1] - 1);
        reordered.swap(fdat[0], fdat[1]);
        damaged.push(("reordered", reordered));
        // A restart: an fdAT sequence number goes back to 0.
        let mut restart = chunks.clone();
        restart[fdat[2]].1[..4].copy_from_slice(&0u32.to_be_bytes());
        damaged.push(("restart", restart));
        for (name, chunks) in damaged {
            let png = join_chunks(&chunks);
            let still = decode_png(&png, DecodeOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(still.same_pixels(&default), "{name}");
            assert!(
                decode_animation(&png, DecodeOptions::default()).is_err(),
                "{name}: read_animation must keep refusing"
            );
        }
        // Damage to the default image itself still fails a still decode.
        let mut broken = chunks.clone();
        let idat = broken.iter().position(|(k, _)| k == b"IDAT").unwrap();
        broken[idat].1.truncate(3);
        assert!(decode_png(&join_chunks(&broken), DecodeOptions::default()).is_err());
    }
}
