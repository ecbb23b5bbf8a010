//! Decoded rows from PNG's layout (RGB(A), big-endian samples) to the
//! output's (OpenCV's BGR(A), native-endian), out of place: a decoded row,
//! in L1, to the output. Each move is its own inverse, so the encoder's
//! copy out of the caller's BGR(A) array (`pixels.rs`) uses them too.
//!
//! Each conversion moves every byte a fixed distance that depends only on
//! its place in the pixel: 8-bit RGB to BGR takes output byte k from input
//! byte k + 2, k or k - 2 as k % 3 is 0, 1 or 2. Over a block of 48
//! bytes that is one load of the input per distinct distance, each masked
//! to the bytes it supplies and OR-ed together: plain byte-wise code the
//! compiler turns into 16-byte vector loads, ANDs and ORs with baseline
//! x86-64 (SSE2) or NEON, no shuffle instruction needed. The word kernel
//! both sides had before (three shifted and masked 8-byte words per eight
//! pixels) took about twice the time for the same bytes in L1.
//! Decoding bufpng's 1080p noise file in BGR is little more than this and
//! a copy, so it is what BGR costs over RGB there.

use crate::pixels::ByteSlot;

/// Bytes a step: a multiple of every pixel size here (3, 4, 6, 8).
const BLOCK: usize = 48;
/// The farthest any byte moves (16-bit RGB reversed: 5 bytes).
const REACH: usize = 5;
/// The input bytes one step reads: the block and `REACH` either side,
/// which the masks never select (the loads only need them to exist).
const WINDOW: usize = BLOCK + 2 * REACH;
/// The most distinct distances a conversion has (16-bit BGR: 6).
const MOST: usize = 6;

/// A conversion: output byte k of a pixel takes input byte k + `FROM[k]`.
pub(crate) trait Shuffle {
    /// One entry per byte of a pixel.
    const FROM: &'static [isize];
    /// The distinct values of `FROM`.
    const DISTANCES: &'static [isize];
    /// For each distance, which bytes of a block take it.
    const MASKS: [[u8; BLOCK]; MOST] = masks(Self::FROM, Self::DISTANCES);
}

const fn masks(from: &[isize], distances: &[isize]) -> [[u8; BLOCK]; MOST] {
    let mut masks = [[0; BLOCK]; MOST];
    let mut j = 0;
    while j < BLOCK {
        let mut d = 0;
        while d < distances.len() {
            if from[j % from.len()] == distances[d] {
                masks[d][j] = 0xff;
            }
            d += 1;
        }
        j += 1;
    }
    masks
}

/// 8-bit RGB to BGR.
pub(crate) struct Rgb8;
impl Shuffle for Rgb8 {
    const FROM: &'static [isize] = &[2, 0, -2];
    const DISTANCES: &'static [isize] = &[2, 0, -2];
}

/// 8-bit RGBA to BGRA.
pub(crate) struct Rgba8;
impl Shuffle for Rgba8 {
    const FROM: &'static [isize] = &[2, 0, -2, 0];
    const DISTANCES: &'static [isize] = &[2, 0, -2];
}

/// 16-bit big-endian RGB to little-endian BGR: each 6-byte pixel reversed.
pub(crate) struct Rgb16ToLittleBgr;
impl Shuffle for Rgb16ToLittleBgr {
    const FROM: &'static [isize] = &[5, 3, 1, -1, -3, -5];
    const DISTANCES: &'static [isize] = &[5, 3, 1, -1, -3, -5];
}

/// 16-bit big-endian RGBA to little-endian BGRA.
pub(crate) struct Rgba16ToLittleBgra;
impl Shuffle for Rgba16ToLittleBgra {
    const FROM: &'static [isize] = &[5, 3, 1, -1, -3, -5, 1, -1];
    const DISTANCES: &'static [isize] = &[5, 3, 1, -1, -3, -5];
}

/// 16-bit samples' two bytes swapped (big- to little-endian or back).
pub(crate) struct Swap16;
impl Shuffle for Swap16 {
    const FROM: &'static [isize] = &[1, -1];
    const DISTANCES: &'static [isize] = &[1, -1];
}

/// 16-bit RGB to BGR, each sample's bytes kept in their order.
pub(crate) struct Bgr16;
impl Shuffle for Bgr16 {
    const FROM: &'static [isize] = &[4, 4, 0, 0, -4, -4];
    const DISTANCES: &'static [isize] = &[4, 0, -4];
}

/// 16-bit RGBA to BGRA, each sample's bytes kept in their order.
pub(crate) struct Bgra16;
impl Shuffle for Bgra16 {
    const FROM: &'static [isize] = &[4, 4, 0, 0, -4, -4, 0, 0];
    const DISTANCES: &'static [isize] = &[4, 0, -4];
}

/// One pixel (`at` is its first byte), byte by byte.
fn one_pixel<S: Shuffle, B: ByteSlot>(source: &[u8], out: &mut [B], at: usize) {
    for (k, &from) in S::FROM.iter().enumerate() {
        out[at + k].put(source[(at + k).wrapping_add_signed(from)]);
    }
}

/// `source`'s pixels converted by `S` into `out`. Both hold the same
/// whole number of pixels; every slot of `out` is written.
pub(crate) fn shuffle<S: Shuffle, B: ByteSlot>(source: &[u8], out: &mut [B]) {
    let pixel = S::FROM.len();
    debug_assert_eq!(source.len(), out.len());
    debug_assert_eq!(source.len() % pixel, 0);
    let len = source.len().min(out.len()) / pixel * pixel;
    // The first pixels on their own, so every block has `REACH` bytes before it.
    let mut at = 0;
    while at < REACH && at < len {
        one_pixel::<S, B>(source, out, at);
        at += pixel;
    }
    while at + BLOCK + REACH <= len {
        let s: &[u8; WINDOW] = source[at - REACH..at + BLOCK + REACH]
            .try_into()
            .expect("a window");
        let o: &mut [B; BLOCK] = (&mut out[at..at + BLOCK]).try_into().expect("a block");
        for (j, o) in o.iter_mut().enumerate() {
            let mut byte = 0;
            for (d, &distance) in S::DISTANCES.iter().enumerate() {
                byte |= s[(j + REACH).wrapping_add_signed(distance)] & S::MASKS[d][j];
            }
            o.put(byte);
        }
        at += BLOCK;
    }
    while at < len {
        one_pixel::<S, B>(source, out, at);
        at += pixel;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference<S: Shuffle>(source: &[u8]) -> Vec<u8> {
        let pixel = S::FROM.len();
        let mut out = vec![0; source.len()];
        for (at, o) in out.iter_mut().enumerate() {
            *o = source[at.wrapping_add_signed(S::FROM[at % pixel])];
        }
        out
    }

    fn check<S: Shuffle>(source: &[u8], name: &str) {
        let pixel = S::FROM.len();
        for pixels in 0..source.len() / pixel {
            let source = &source[..pixels * pixel];
            let mut out = vec![0; source.len()];
            shuffle::<S, _>(source, &mut out);
            assert_eq!(out, reference::<S>(source), "{name}: {pixels} pixels");
        }
    }

    /// Every length from 0 to a few blocks (the head pixels, whole blocks,
    /// the tail, and rows too short for any block), distinct bytes so a
    /// byte from the wrong place shows.
    #[test]
    fn matches_a_byte_by_byte_move_at_every_length() {
        let source: Vec<u8> = (0..5 * BLOCK).map(|i| (i * 7 + 3) as u8).collect();
        check::<Rgb8>(&source, "RGB8");
        check::<Rgba8>(&source, "RGBA8");
        check::<Rgb16ToLittleBgr>(&source, "RGB16");
        check::<Rgba16ToLittleBgra>(&source, "RGBA16");
        check::<Swap16>(&source, "16-bit byte swap");
        check::<Bgr16>(&source, "BGR16");
        check::<Bgra16>(&source, "BGRA16");
        // What the conversions mean, on one pixel each.
        let mut out = [0; 8];
        shuffle::<Rgb8, _>(&[1, 2, 3], &mut out[..3]);
        assert_eq!(out[..3], [3, 2, 1]);
        shuffle::<Rgba16ToLittleBgra, _>(
            &[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
            &mut out,
        );
        assert_eq!(out, [0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x08, 0x07]);
    }

    fn masks_are_a_partition<S: Shuffle>() {
        let pixel = S::FROM.len();
        assert_eq!(BLOCK % pixel, 0);
        assert!(S::DISTANCES.len() <= MOST);
        for j in 0..BLOCK {
            let selected: Vec<usize> = (0..S::DISTANCES.len())
                .filter(|&d| S::MASKS[d][j] == 0xff)
                .collect();
            assert_eq!(selected.len(), 1, "byte {j}");
            // Nothing reaches outside the block: the window's extra bytes.
            let from = j.checked_add_signed(S::DISTANCES[selected[0]]);
            assert!(from.is_some_and(|from| from < BLOCK), "byte {j}");
        }
        assert!(S::MASKS[S::DISTANCES.len()..]
            .iter()
            .flatten()
            .all(|&m| m == 0));
        assert!(S::FROM.iter().all(|f| f.unsigned_abs() <= REACH));
    }

    #[test]
    fn masks_select_each_byte_once_from_inside_its_pixel() {
        masks_are_a_partition::<Rgb8>();
        masks_are_a_partition::<Rgba8>();
        masks_are_a_partition::<Rgb16ToLittleBgr>();
        masks_are_a_partition::<Rgba16ToLittleBgra>();
        masks_are_a_partition::<Swap16>();
        masks_are_a_partition::<Bgr16>();
        masks_are_a_partition::<Bgra16>();
    }
}
