//! Owned frames and the one copy out of an exporter's memory.
//!
//! The copy is where channel reordering (OpenCV's BGR to PNG's RGB) and
//! 16-bit byte swapping happen, fused into a single pass, so converting costs
//! about what a memcpy costs.

use crate::error::{memory_error, value_error};
use crate::layout::{Depth, Endian, ImageLayout, SourcePlan};
use crate::striped::on_threads;
use crate::swap_rb::{
    shuffle, Bgr16, Bgra16, Rgb16ToLittleBgr, Rgb8, Rgba16ToLittleBgra, Rgba8, Swap16,
};
use anyhow::Result;
use std::mem::MaybeUninit;
use std::sync::{Mutex, PoisonError};

/// Where a copy may write: initialized bytes, or memory that is not yet (a
/// new frame's capacity, a new bytes object's buffer), which only ffi/ can
/// hand out as initialized afterwards.
pub trait ByteSlot: Send + Sized {
    fn put(&mut self, byte: u8);

    fn fill(out: &mut [Self], from: &[u8]) {
        // A plain loop (write_copy_of_slice is newer than the MSRV); it
        // compiles to a memcpy.
        for (slot, &byte) in out.iter_mut().zip(from) {
            slot.put(byte);
        }
    }
}

impl ByteSlot for u8 {
    #[inline(always)]
    fn put(&mut self, byte: u8) {
        *self = byte;
    }

    fn fill(out: &mut [u8], from: &[u8]) {
        out.copy_from_slice(from);
    }
}

impl ByteSlot for MaybeUninit<u8> {
    #[inline(always)]
    fn put(&mut self, byte: u8) {
        self.write(byte);
    }
}

/// Order of the colour channels in 3- and 4-channel images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelOrder {
    /// OpenCV's order: BGR, BGRA.
    #[default]
    Bgr,
    /// PNG's order: RGB, RGBA.
    Rgb,
}

impl ChannelOrder {
    /// "bgr" or "rgb", in any case ("RGB" as Pillow spells its modes).
    pub fn parse(name: &str) -> Result<ChannelOrder> {
        match name.to_ascii_lowercase().as_str() {
            "bgr" => Ok(ChannelOrder::Bgr),
            "rgb" => Ok(ChannelOrder::Rgb),
            _ => Err(value_error(format!(
                "order must be \"bgr\" (OpenCV's channel order, the default) or \"rgb\", got {name:?}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ChannelOrder::Bgr => "bgr",
            ChannelOrder::Rgb => "rgb",
        }
    }
}

/// How samples are arranged in memory: channel order and 16-bit byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    pub order: ChannelOrder,
    pub endian: Endian,
}

impl PixelFormat {
    /// What PNG's image data holds.
    pub const PNG: PixelFormat = PixelFormat {
        order: ChannelOrder::Rgb,
        endian: Endian::Big,
    };
}

/// An owned, packed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub layout: ImageLayout,
    pub format: PixelFormat,
    pub data: Vec<u8>,
}

impl Frame {
    /// Copies an image out of `memory`, whose first sample is at `origin`,
    /// into a new frame in `target` format, on the calling thread: `fill`
    /// into zeroed memory (ffi/ fills memory it never zeroes).
    pub fn copy_from(
        plan: &SourcePlan,
        memory: &[u8],
        origin: usize,
        source_order: ChannelOrder,
        target: PixelFormat,
    ) -> Result<Frame> {
        let mut data = zeroed(&plan.layout)?;
        Frame::fill(plan, memory, origin, source_order, target, &mut data, 1)?;
        Ok(Frame {
            layout: plan.layout,
            format: target,
            data,
        })
    }

    /// Room for the bytes of a frame of `layout` (an empty vector of that
    /// capacity), or a MemoryError naming the likely cause: a broadcast
    /// view (all strides 0) can describe terabytes over a single byte, and
    /// an infallible allocation would abort the whole process.
    pub fn room_for(layout: &ImageLayout) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        data.try_reserve_exact(layout.byte_len())
            .map_err(|_| memory_error(allocation_message(layout)))?;
        Ok(data)
    }

    /// Copies an image out of `memory`, whose first sample is at `origin`,
    /// into `out` (exactly `plan.layout.byte_len()` slots) in `target`
    /// format, on up to `threads` threads (the calling one included).
    /// `source_order` is the channel order the caller says the source has.
    /// Every byte is written once, in the one pass that reorders channels
    /// and swaps bytes: `out` may be memory nobody has written yet (ffi/
    /// hands over a new frame's capacity, which a zeroing calloc would
    /// have memset serially: glibc reuses freed heap for a frame the size
    /// of the last one, 5% of a 2-thread encode of a 935x534 screenshot).
    ///
    /// A frame of over a MiB is cut into bands of rows, each converted by
    /// one thread straight into its part of `out`. The calling thread
    /// returns only when every band is copied, so a caller that holds a
    /// lock (the GIL) for the copy holds it for all of it. A thread that
    /// cannot be started only means fewer.
    ///
    /// Every read is bounds-checked against `memory`, so a plan that does not
    /// fit the slice is an error, never a stray read. Returns Ok only when
    /// every slot of `out` has been written (ffi/ relies on it).
    pub fn fill<B: ByteSlot>(
        plan: &SourcePlan,
        memory: &[u8],
        origin: usize,
        source_order: ChannelOrder,
        target: PixelFormat,
        out: &mut [B],
        threads: usize,
    ) -> Result<()> {
        let layout = plan.layout;
        let convert = Conversion::new(&layout, source_order, plan.endian, target);
        let fits = || value_error("the buffer's shape and strides point outside its memory");
        let len = layout.byte_len();
        anyhow::ensure!(
            out.len() == len,
            "bufpng internal error: {} bytes of room for a frame of {len}",
            out.len()
        );
        let row_bytes = layout.row_bytes();
        let rows = layout.height as usize;
        if plan.is_packed() {
            // Checked once here, so every band's slice below is in range.
            memory.get(origin..origin + len).ok_or_else(fits)?;
        }
        let copy_rows = |first: usize, out: &mut [B]| -> Result<()> {
            if plan.is_packed() {
                let start = origin + first * row_bytes;
                convert.packed(&memory[start..start + out.len()], out);
                return Ok(());
            }
            for (y, out_row) in (first..).zip(out.chunks_exact_mut(row_bytes)) {
                let row_start = offset(origin, y as isize * plan.strides[0]).ok_or_else(fits)?;
                if plan.pixels_packed() {
                    let source = memory
                        .get(row_start..row_start + row_bytes)
                        .ok_or_else(fits)?;
                    convert.packed(source, out_row);
                } else {
                    convert
                        .strided(memory, row_start, plan, out_row)
                        .ok_or_else(fits)?;
                }
            }
            Ok(())
        };
        let bands = threads.min(len / COPY_BAND_BYTES).min(rows).max(1);
        if bands == 1 {
            return copy_rows(0, out);
        }
        // Bands taken in turn by the threads (the calling one is one of
        // them: a thread that cannot be started only means fewer).
        let band_rows = rows.div_ceil(bands);
        let left = Mutex::new(out.chunks_mut(band_rows * row_bytes).enumerate());
        let work = || -> Result<()> {
            loop {
                let next = left.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((band, out)) = next else {
                    return Ok(());
                };
                copy_rows(band * band_rows, out)?;
            }
        };
        for done in on_threads(bands, "bufpng-copy", work) {
            done?;
        }
        Ok(())
    }

    /// Writes this frame into memory the caller owns (`out=`), laid out as
    /// `plan` says (any strides, the plan's byte order), channels in this
    /// frame's order; its first sample goes at `origin` in `memory`. The
    /// plan's whole span is checked against `memory` before the first byte
    /// is written, so a plan that does not fit writes nothing.
    pub fn copy_into(&self, plan: &SourcePlan, memory: &mut [u8], origin: usize) -> Result<()> {
        let layout = &self.layout;
        if plan.layout != *layout {
            return Err(value_error(
                "bufpng internal error: the target's layout is not the frame's",
            ));
        }
        let span = plan.span()?;
        let fits = || value_error("the target buffer's shape and strides point outside its memory");
        let end = origin.checked_add(span.len - span.before);
        if origin < span.before || end.is_none_or(|end| end > memory.len()) {
            return Err(fits());
        }
        let target = PixelFormat {
            order: self.format.order,
            endian: plan.endian,
        };
        let convert = Conversion::new(layout, self.format.order, self.format.endian, target);
        if plan.is_packed() {
            let out = memory
                .get_mut(origin..origin + self.data.len())
                .ok_or_else(fits)?;
            convert.packed(&self.data, out);
            return Ok(());
        }
        let row_bytes = layout.row_bytes();
        for (y, row) in self.data.chunks_exact(row_bytes).enumerate() {
            let row_start = offset(origin, y as isize * plan.strides[0]).ok_or_else(fits)?;
            if plan.pixels_packed() {
                let out = memory
                    .get_mut(row_start..row_start + row_bytes)
                    .ok_or_else(fits)?;
                convert.packed(row, out);
            } else {
                convert
                    .strided_into(row, memory, row_start, plan)
                    .ok_or_else(fits)?;
            }
        }
        Ok(())
    }

    /// True when the bytes already are in `target` format (channel order
    /// does not matter for gray, nor byte order for 8-bit).
    pub fn is_stored_as(&self, target: PixelFormat) -> bool {
        let same_order = self.layout.channels < 3 || self.format.order == target.order;
        let same_endian = self.layout.depth == Depth::Eight || self.format.endian == target.endian;
        same_order && same_endian
    }

    /// This frame converted to `target` format in place (no new allocation).
    pub fn into_format(mut self, target: PixelFormat) -> Frame {
        if !self.is_stored_as(target) {
            Conversion::new(&self.layout, self.format.order, self.format.endian, target)
                .in_place(&mut self.data);
        }
        self.format = target;
        self
    }

    /// True when both frames hold the same picture: same size, channels,
    /// depth and sample values, whatever order and byte order each stores.
    pub fn same_pixels(&self, other: &Frame) -> bool {
        self.layout == other.layout
            && if other.is_stored_as(self.format) {
                self.data == other.data
            } else {
                self.data == other.to_format(self.format).data
            }
    }

    /// This frame's samples in another format (a cheap clone when already there).
    pub fn to_format(&self, target: PixelFormat) -> Frame {
        if self.is_stored_as(target) {
            return Frame {
                format: target,
                ..self.clone()
            };
        }
        let mut data = vec![0u8; self.data.len()];
        Conversion::new(&self.layout, self.format.order, self.format.endian, target)
            .packed(&self.data, &mut data);
        Frame {
            layout: self.layout,
            format: target,
            data,
        }
    }
}

/// Converts whole pixels of `layout` from `from` in `source` to `to` in
/// `out` (the same length): a decoded row (`decode::convert_row`).
pub(crate) fn convert_packed(
    layout: &ImageLayout,
    from: PixelFormat,
    to: PixelFormat,
    source: &[u8],
    out: &mut [u8],
) {
    Conversion::new(layout, from.order, from.endian, to).packed(source, out);
}

/// Frames are copied on several threads in bands of at least this many
/// bytes: below it a thread's start costs about what it saves.
const COPY_BAND_BYTES: usize = 512 << 10;

/// Zeroed storage for a frame, or an error when memory cannot hold it
/// (`Frame::room_for` says why that can happen).
fn zeroed(layout: &ImageLayout) -> Result<Vec<u8>> {
    zeroed_bytes(layout.byte_len(), || allocation_message(layout))
}

fn allocation_message(layout: &ImageLayout) -> String {
    format!(
        "cannot allocate {} bytes for a {}x{} image with {} channels: is the shape right (a broadcast view such as np.broadcast_to claims memory it does not hold)?",
        layout.byte_len(), layout.width, layout.height, layout.channels
    )
}

/// `len` zero bytes, or a MemoryError saying `message` when the allocator
/// refuses (`vec![0; len]` would abort the whole process instead). A
/// zeroed allocation (calloc): fresh pages come from the kernel zeroed,
/// and whichever thread first writes a page pays for it (a restart
/// segment's worker, not the caller in a serial memset: 7 M instructions
/// on a 1080p frame). Heap memory glibc reuses (the frame before was as
/// large) is memset by calloc on the calling thread.
pub(crate) fn zeroed_bytes(len: usize, message: impl FnOnce() -> String) -> Result<Vec<u8>> {
    bytemuck::allocation::try_zeroed_vec(len).map_err(|()| memory_error(message()))
}

/// Copies packed `N`-byte pixels to `step` bytes apart in `out`.
fn scatter<const N: usize>(row: &[u8], out: &mut [u8], step: usize) {
    for (o, p) in out.chunks_mut(step).zip(row.chunks_exact(N)) {
        let p: &[u8; N] = p.try_into().expect("chunks of N");
        o[..N].copy_from_slice(p);
    }
}

fn offset(base: usize, delta: isize) -> Option<usize> {
    base.checked_add_signed(delta)
}

/// One pass that reorders channels and swaps bytes as needed.
struct Conversion {
    channels: usize,
    sample_bytes: usize,
    swap_channels: bool,
    swap_bytes: bool,
}

impl Conversion {
    fn new(
        layout: &ImageLayout,
        source_order: ChannelOrder,
        source_endian: Endian,
        target: PixelFormat,
    ) -> Self {
        Conversion {
            channels: usize::from(layout.channels),
            sample_bytes: layout.depth.bytes(),
            swap_channels: layout.channels >= 3 && source_order != target.order,
            swap_bytes: layout.depth == Depth::Sixteen && source_endian != target.endian,
        }
    }

    /// Where channel `c` of the output comes from in the input.
    fn source_channel(&self, c: usize) -> usize {
        match (self.swap_channels, c) {
            (true, 0) => 2,
            (true, 2) => 0,
            _ => c,
        }
    }

    /// Converts packed pixels; `source` and `out` have the same length.
    fn packed<B: ByteSlot>(&self, source: &[u8], out: &mut [B]) {
        match (
            self.swap_channels,
            self.swap_bytes,
            self.sample_bytes,
            self.channels,
        ) {
            (false, false, _, _) => B::fill(out, source),
            // Each of these moves is its own inverse (BGR to RGB is RGB to
            // BGR; reversing a 16-bit pixel's bytes swaps both the channels
            // and the byte order), so the decoder's kernels serve.
            (true, false, 1, 3) => shuffle::<Rgb8, B>(source, out),
            (true, false, 1, 4) => shuffle::<Rgba8, B>(source, out),
            (false, true, 2, _) => shuffle::<Swap16, B>(source, out),
            (true, true, 2, 3) => shuffle::<Rgb16ToLittleBgr, B>(source, out),
            (true, true, 2, 4) => shuffle::<Rgba16ToLittleBgra, B>(source, out),
            (true, false, 2, 3) => shuffle::<Bgr16, B>(source, out),
            (true, false, 2, 4) => shuffle::<Bgra16, B>(source, out),
            _ => self.packed_generic(source, out),
        }
    }

    /// Any conversion, one sample at a time: the reference the fast paths
    /// above are tested against.
    fn packed_generic<B: ByteSlot>(&self, source: &[u8], out: &mut [B]) {
        let pixel = self.channels * self.sample_bytes;
        for (o, s) in out.chunks_exact_mut(pixel).zip(source.chunks_exact(pixel)) {
            for c in 0..self.channels {
                let from = self.source_channel(c) * self.sample_bytes;
                self.sample(
                    &s[from..from + self.sample_bytes],
                    &mut o[c * self.sample_bytes..][..self.sample_bytes],
                );
            }
        }
    }

    /// Converts packed pixels where they are (a swap is its own inverse, so
    /// the same pass works in either direction).
    /// Runs `packed`'s kernels a piece at a time through a buffer that stays
    /// in L1: the per-pixel swap loop this replaces took 5 ms on a 1080p
    /// decode, most of the time of decoding a stored file.
    fn in_place(&self, data: &mut [u8]) {
        // A multiple of every pixel size (1, 2, 3, 4, 6, 8 bytes) and of the
        // BGR kernel's 24-byte step, so only whole pixels are cut.
        const PIECE: usize = 24 * 512;
        let mut copy = [0u8; PIECE];
        for piece in data.chunks_mut(PIECE) {
            let copy = &mut copy[..piece.len()];
            copy.copy_from_slice(piece);
            self.packed(copy, piece);
        }
    }

    /// Converts one row whose samples are scattered by arbitrary strides.
    fn strided<B: ByteSlot>(
        &self,
        memory: &[u8],
        row_start: usize,
        plan: &SourcePlan,
        out: &mut [B],
    ) -> Option<()> {
        let n = self.sample_bytes;
        let pixel = self.channels * n;
        for (x, o) in out.chunks_exact_mut(pixel).enumerate() {
            let pixel_start = offset(row_start, x as isize * plan.strides[1])?;
            for c in 0..self.channels {
                let at = offset(
                    pixel_start,
                    self.source_channel(c) as isize * plan.strides[2],
                )?;
                self.sample(memory.get(at..at + n)?, &mut o[c * n..][..n]);
            }
        }
        Some(())
    }

    /// The reverse of `strided`: scatters one packed row into memory laid
    /// out by arbitrary strides.
    fn strided_into(
        &self,
        row: &[u8],
        memory: &mut [u8],
        row_start: usize,
        plan: &SourcePlan,
    ) -> Option<()> {
        let n = self.sample_bytes;
        let pixel = self.channels * n;
        // Whole pixels at a time when each pixel's samples are adjacent (a
        // channel-last slice such as arr[..., :3] of a 4-channel array):
        // several times faster than sample by sample.
        let samples_adjacent = self.channels == 1 || plan.strides[2] == n as isize;
        if samples_adjacent && plan.strides[1] >= pixel as isize {
            // Pixels left to right without overlap: one bounds check per row.
            let step = plan.strides[1] as usize;
            let reach = (row.len() / pixel - 1) * step + pixel;
            let out = memory.get_mut(row_start..row_start.checked_add(reach)?)?;
            match (self.swap_channels || self.swap_bytes, pixel) {
                // Fixed-size moves for the plain copies (no call per pixel).
                (false, 3) => scatter::<3>(row, out, step),
                (false, 4) => scatter::<4>(row, out, step),
                (false, 6) => scatter::<6>(row, out, step),
                (false, 8) => scatter::<8>(row, out, step),
                _ => {
                    for (o, p) in out.chunks_mut(step).zip(row.chunks_exact(pixel)) {
                        self.packed(p, &mut o[..pixel]);
                    }
                }
            }
            return Some(());
        }
        for (x, p) in row.chunks_exact(pixel).enumerate() {
            let pixel_start = offset(row_start, x as isize * plan.strides[1])?;
            if samples_adjacent {
                self.packed(p, memory.get_mut(pixel_start..pixel_start + pixel)?);
                continue;
            }
            for c in 0..self.channels {
                let at = offset(pixel_start, c as isize * plan.strides[2])?;
                let from = self.source_channel(c) * n;
                self.sample(&p[from..from + n], memory.get_mut(at..at + n)?);
            }
        }
        Some(())
    }

    fn sample<B: ByteSlot>(&self, source: &[u8], out: &mut [B]) {
        if self.swap_bytes {
            out[0].put(source[1]);
            out[1].put(source[0]);
        } else {
            B::fill(out, source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{plan_source, BufferDesc};

    fn plan(format: &str, itemsize: usize, shape: &[isize], strides: &[isize]) -> SourcePlan {
        plan_source(
            &BufferDesc {
                itemsize,
                format,
                shape,
                strides,
            },
            &Default::default(),
        )
        .unwrap()
    }

    /// A slot that says whether it was written.
    impl ByteSlot for Option<u8> {
        fn put(&mut self, byte: u8) {
            *self = Some(byte);
        }
    }

    #[test]
    fn copies_on_threads_match_the_serial_copy_band_for_band() {
        // 1501x701: over two COPY_BAND_BYTES even in gray 8-bit, so the
        // bands (351 rows for 2 of them, 234 for 3, 176 for 4) end at odd
        // rows; packed, with gapped rows, channels reversed (a pixel stride
        // that is not the pixel's size), upside down.
        let (width, height) = (1501isize, 701isize);
        let mut state = 0x2545_f491u32;
        let memory: Vec<u8> = (0..(width * 4 * 2 + 13) * height)
            .map(|_| {
                crate::xorshift(&mut state);
                (state >> 24) as u8
            })
            .collect();
        for channels in [1, 3, 4] {
            for (format, item) in [("B", 1), ("<H", 2), (">H", 2)] {
                let pixel = channels * item;
                let row = width * pixel;
                let shape = [height, width, channels];
                let shape = &shape[..if channels == 1 { 2 } else { 3 }];
                let plans = [
                    (
                        plan(
                            format,
                            item as usize,
                            shape,
                            &[row, pixel, item][..shape.len()],
                        ),
                        0,
                    ),
                    (
                        plan(
                            format,
                            item as usize,
                            shape,
                            &[row + 13, pixel, item][..shape.len()],
                        ),
                        0,
                    ),
                    (
                        plan(
                            format,
                            item as usize,
                            shape,
                            &[-row, pixel, item][..shape.len()],
                        ),
                        (row * (height - 1)) as usize,
                    ),
                    (
                        plan(
                            format,
                            item as usize,
                            shape,
                            &[row, pixel, -item][..shape.len()],
                        ),
                        (pixel - item) as usize,
                    ),
                ];
                for (p, origin) in &plans {
                    for order in [ChannelOrder::Bgr, ChannelOrder::Rgb] {
                        let serial =
                            Frame::copy_from(p, &memory, *origin, order, PixelFormat::PNG).unwrap();
                        assert!(serial.data.len() > 2 * COPY_BAND_BYTES);
                        for threads in [1, 2, 3, 4, 64] {
                            // Slots that record being written: a byte `fill`
                            // skipped would be uninitialized memory in ffi/.
                            let mut slots = vec![None; serial.data.len()];
                            Frame::fill(
                                p,
                                &memory,
                                *origin,
                                order,
                                PixelFormat::PNG,
                                &mut slots,
                                threads,
                            )
                            .unwrap();
                            let banded: Option<Vec<u8>> = slots.into_iter().collect();
                            assert!(
                                banded.as_ref() == Some(&serial.data),
                                "{channels} channels {format} {:?} {threads} threads",
                                p.strides
                            );
                        }
                    }
                }
                // A plan that leaves the memory in a later band is an error
                // on threads too, not a short frame.
                let (p, _) = &plans[1];
                let short = &memory[..((row + 13) * height / 2) as usize];
                let mut slots = vec![None; p.layout.byte_len()];
                assert!(Frame::fill(
                    p,
                    short,
                    0,
                    ChannelOrder::Bgr,
                    PixelFormat::PNG,
                    &mut slots,
                    3
                )
                .is_err());
            }
        }
    }

    #[test]
    fn bgr_becomes_rgb_in_the_copy() {
        let p = plan("B", 1, &[1, 2, 3], &[6, 3, 1]);
        let frame = Frame::copy_from(
            &p,
            &[1, 2, 3, 4, 5, 6],
            0,
            ChannelOrder::Bgr,
            PixelFormat::PNG,
        )
        .unwrap();
        assert_eq!(frame.data, [3, 2, 1, 6, 5, 4]);
        let frame = Frame::copy_from(
            &p,
            &[1, 2, 3, 4, 5, 6],
            0,
            ChannelOrder::Rgb,
            PixelFormat::PNG,
        )
        .unwrap();
        assert_eq!(frame.data, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn bgra_becomes_rgba() {
        let p = plan("B", 1, &[1, 2, 4], &[8, 4, 1]);
        let frame = Frame::copy_from(
            &p,
            &[1, 2, 3, 4, 5, 6, 7, 8],
            0,
            ChannelOrder::Bgr,
            PixelFormat::PNG,
        )
        .unwrap();
        assert_eq!(frame.data, [3, 2, 1, 4, 7, 6, 5, 8]);
    }

    #[test]
    fn sixteen_bit_little_endian_becomes_big_endian() {
        let p = plan("<H", 2, &[1, 1, 3], &[6, 6, 2]);
        // B=0x0102, G=0x0304, R=0x0506 little-endian.
        let frame = Frame::copy_from(
            &p,
            &[2, 1, 4, 3, 6, 5],
            0,
            ChannelOrder::Bgr,
            PixelFormat::PNG,
        )
        .unwrap();
        assert_eq!(frame.data, [5, 6, 3, 4, 1, 2]);
        let p = plan(">H", 2, &[1, 2], &[4, 2]);
        let frame =
            Frame::copy_from(&p, &[1, 2, 3, 4], 0, ChannelOrder::Bgr, PixelFormat::PNG).unwrap();
        assert_eq!(frame.data, [1, 2, 3, 4]);
    }

    #[test]
    fn negative_and_gapped_strides() {
        // A 3x2 gray image stored upside down with 4-byte rows (2 bytes padding).
        let memory = [10, 11, 0, 0, 20, 21, 0, 0, 30, 31, 0, 0];
        let p = plan("B", 1, &[3, 2], &[-4, 1]);
        let span = p.span().unwrap();
        let frame = Frame::copy_from(
            &p,
            &memory,
            span.before,
            ChannelOrder::Bgr,
            PixelFormat::PNG,
        )
        .unwrap();
        assert_eq!(frame.data, [30, 31, 20, 21, 10, 11]);
    }

    #[test]
    fn fortran_order_goes_through_the_strided_path() {
        // 2x2 RGB in Fortran order: strides (1, 2, 4).
        let p = plan("B", 1, &[2, 2, 3], &[1, 2, 4]);
        assert!(!p.pixels_packed());
        let memory: Vec<u8> = (0..12).collect();
        let frame = Frame::copy_from(&p, &memory, 0, ChannelOrder::Rgb, PixelFormat::PNG).unwrap();
        // pixel (y, x) channel c is at y + 2x + 4c.
        assert_eq!(frame.data, [0, 4, 8, 2, 6, 10, 1, 5, 9, 3, 7, 11]);
    }

    #[test]
    fn plans_that_leave_the_memory_are_errors() {
        let p = plan("B", 1, &[2, 2], &[2, 1]);
        assert!(Frame::copy_from(&p, &[1, 2, 3], 0, ChannelOrder::Bgr, PixelFormat::PNG).is_err());
        let p = plan("B", 1, &[2, 2], &[-2, 1]);
        assert!(
            Frame::copy_from(&p, &[1, 2, 3, 4], 0, ChannelOrder::Bgr, PixelFormat::PNG).is_err()
        );
    }

    #[test]
    fn an_image_too_large_for_memory_is_an_error_not_an_abort() {
        // A broadcast view: 4 EiB of pixels claimed over one byte of memory.
        let big = 1isize << 30;
        let p = plan("B", 1, &[big, big, 4], &[0, 0, 0]);
        let err = Frame::copy_from(&p, &[0], 0, ChannelOrder::Bgr, PixelFormat::PNG).unwrap_err();
        let kind = err.downcast_ref::<crate::InputError>().unwrap().kind;
        assert_eq!(kind, crate::ErrorKind::Memory);
    }

    #[test]
    fn bgra_swap_is_exact_for_odd_and_even_pixel_counts() {
        for pixels in 0..9u32 {
            let layout = ImageLayout {
                width: pixels,
                height: 1,
                channels: 4,
                depth: Depth::Eight,
            };
            let source: Vec<u8> = (0..pixels as usize * 4)
                .map(|i| (i * 29 % 251) as u8)
                .collect();
            let convert =
                Conversion::new(&layout, ChannelOrder::Bgr, Endian::Little, PixelFormat::PNG);
            let mut out = vec![0; source.len()];
            convert.packed(&source, &mut out);
            let expected: Vec<u8> = source
                .chunks_exact(4)
                .flat_map(|p| [p[2], p[1], p[0], p[3]])
                .collect();
            assert_eq!(out, expected, "{pixels} pixels");
        }
    }

    #[test]
    fn bgr_swap_is_exact_for_every_length_around_its_48_byte_block() {
        for pixels in 0..40usize {
            let source: Vec<u8> = (0..pixels * 3).map(|i| (i * 97 % 253) as u8).collect();
            let mut out = vec![0; source.len()];
            shuffle::<Rgb8, _>(&source, &mut out);
            let expected: Vec<u8> = source
                .chunks_exact(3)
                .flat_map(|p| [p[2], p[1], p[0]])
                .collect();
            assert_eq!(out, expected, "{pixels} pixels");
        }
    }

    #[test]
    fn fast_paths_match_the_generic_conversion() {
        let source: Vec<u8> = (0..240u32).map(|i| (i * 37 % 251) as u8).collect();
        for channels in 1..=4u8 {
            // One odd pixel count too (fast paths that take pixels in
            // pairs have a remainder).
            for (depth, trim, height) in [
                (Depth::Eight, 0, 2),
                (Depth::Sixteen, 0, 2),
                (Depth::Sixteen, 1, 1),
            ] {
                let layout = ImageLayout {
                    width: 240 / (u32::from(channels) * depth.bytes() as u32) / 2 - trim,
                    height,
                    channels,
                    depth,
                };
                let len = layout.byte_len();
                for order in [ChannelOrder::Bgr, ChannelOrder::Rgb] {
                    for endian in [Endian::Little, Endian::Big] {
                        let convert = Conversion::new(&layout, order, endian, PixelFormat::PNG);
                        let (mut fast, mut reference) = (vec![0; len], vec![0; len]);
                        convert.packed(&source[..len], &mut fast);
                        convert.packed_generic(&source[..len], &mut reference);
                        assert_eq!(
                            fast, reference,
                            "{channels} channels {depth:?} {order:?} {endian:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn in_place_conversion_matches_the_copying_one_across_pieces() {
        // Over two of in_place's pieces, with a partial one at the end.
        let source: Vec<u8> = (0..24 * 512 * 2 + 24 * 7)
            .map(|i| (i * 37 % 251) as u8)
            .collect();
        for channels in 1..=4u8 {
            for depth in [Depth::Eight, Depth::Sixteen] {
                let pixel = usize::from(channels) * depth.bytes();
                let layout = ImageLayout {
                    width: (source.len() / pixel) as u32,
                    height: 1,
                    channels,
                    depth,
                };
                let len = layout.byte_len();
                for endian in [Endian::Little, Endian::Big] {
                    let convert =
                        Conversion::new(&layout, ChannelOrder::Bgr, endian, PixelFormat::PNG);
                    let mut copied = vec![0; len];
                    convert.packed_generic(&source[..len], &mut copied);
                    let mut in_place = source[..len].to_vec();
                    convert.in_place(&mut in_place);
                    assert!(
                        in_place == copied,
                        "{channels} channels {depth:?} {endian:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn to_format_round_trips() {
        let p = plan("H", 2, &[1, 2, 4], &[16, 8, 2]);
        let memory: Vec<u8> = (0..16).collect();
        let frame = Frame::copy_from(&p, &memory, 0, ChannelOrder::Bgr, PixelFormat::PNG).unwrap();
        let native = PixelFormat {
            order: ChannelOrder::Bgr,
            endian: Endian::NATIVE,
        };
        assert_eq!(frame.to_format(native).data, memory);
        assert_eq!(frame.to_format(native).to_format(PixelFormat::PNG), frame);
        assert_eq!(frame.clone().into_format(native), frame.to_format(native));
        assert_eq!(
            frame
                .clone()
                .into_format(native)
                .into_format(PixelFormat::PNG),
            frame
        );
    }

    #[test]
    fn same_pixels_ignores_storage_order_only() {
        let p = plan("B", 1, &[1, 2, 3], &[6, 3, 1]);
        let memory = [1, 2, 3, 4, 5, 6];
        let bgr = Frame::copy_from(&p, &memory, 0, ChannelOrder::Bgr, PixelFormat::PNG).unwrap();
        let stored_bgr = bgr.to_format(PixelFormat {
            order: ChannelOrder::Bgr,
            endian: Endian::Big,
        });
        assert_ne!(bgr.data, stored_bgr.data);
        assert!(bgr.same_pixels(&stored_bgr));
        let rgb = Frame::copy_from(&p, &memory, 0, ChannelOrder::Rgb, PixelFormat::PNG).unwrap();
        assert!(!bgr.same_pixels(&rgb));
    }
}
