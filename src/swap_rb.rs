//! Red and blue swapped in decoded 8-bit rows: PNG's RGB and RGBA to
//! OpenCV's BGR and BGRA, out of place (a decoded row, in L1, to the
//! output).
//!
//! Output byte k of a pixel takes input byte k + 2 (blue, from the
//! input's third byte), k (green, alpha) or k - 2 (red). Over a block of
//! 48 bytes (16 RGB or 12 RGBA pixels) that is three loads of the input
//! at offsets +2, 0 and -2, each masked to the bytes it supplies and
//! OR-ed together: plain byte-wise code the compiler turns into 16-byte
//! vector loads, ANDs and ORs with baseline x86-64 (SSE2) or NEON, no
//! shuffle instruction needed. The encoder's word kernel
//! (`pixels::swap_rgb8`, three shifted and masked 8-byte words per eight
//! pixels) takes about twice the time for the same bytes. Decoding
//! bufpng's 1080p noise file in BGR is little more than this swap and a
//! copy, so it is what BGR costs over RGB there.

/// Bytes a step: a multiple of 3 and of 4.
const BLOCK: usize = 48;
/// The input bytes one step reads: the block and 2 either side, which the
/// masks never select (the loads only need them to exist).
const WINDOW: usize = BLOCK + 4;

/// Which bytes of a block take the input at `offset` (+2, 0 or -2) from
/// their own position, for `PIXEL`-byte pixels.
const fn mask(pixel: usize, offset: isize) -> [u8; BLOCK] {
    let mut mask = [0; BLOCK];
    let mut j = 0;
    while j < BLOCK {
        let from = match j % pixel {
            0 => 2,
            2 => -2,
            _ => 0,
        };
        if from == offset {
            mask[j] = 0xff;
        }
        j += 1;
    }
    mask
}

/// The three masks for `PIXEL`-byte pixels (3 or 4).
struct Masks<const PIXEL: usize>;

impl<const PIXEL: usize> Masks<PIXEL> {
    const NEXT: [u8; BLOCK] = mask(PIXEL, 2);
    const SAME: [u8; BLOCK] = mask(PIXEL, 0);
    const PREVIOUS: [u8; BLOCK] = mask(PIXEL, -2);
}

/// One pixel, red and blue swapped.
fn swap_pixel<const PIXEL: usize>(source: &[u8], out: &mut [u8]) {
    out[0] = source[2];
    out[1] = source[1];
    out[2] = source[0];
    if PIXEL == 4 {
        out[3] = source[3];
    }
}

/// `source`'s `PIXEL`-byte pixels (3: RGB, 4: RGBA; 8-bit) to `out` with
/// the first and third byte of each swapped. Both hold the same whole
/// number of pixels.
pub(crate) fn swap_red_blue<const PIXEL: usize>(source: &[u8], out: &mut [u8]) {
    debug_assert!(PIXEL == 3 || PIXEL == 4);
    debug_assert_eq!(source.len(), out.len());
    debug_assert_eq!(source.len() % PIXEL, 0);
    let len = source.len().min(out.len()) / PIXEL * PIXEL;
    // The first pixel on its own, so every block has 2 bytes before it.
    let mut at = 0;
    if len >= PIXEL {
        swap_pixel::<PIXEL>(&source[..PIXEL], &mut out[..PIXEL]);
        at = PIXEL;
    }
    while at + BLOCK + 2 <= len {
        let s: &[u8; WINDOW] = source[at - 2..at + BLOCK + 2].try_into().expect("a window");
        let o: &mut [u8; BLOCK] = (&mut out[at..at + BLOCK]).try_into().expect("a block");
        for j in 0..BLOCK {
            o[j] = (s[j + 4] & Masks::<PIXEL>::NEXT[j])
                | (s[j + 2] & Masks::<PIXEL>::SAME[j])
                | (s[j] & Masks::<PIXEL>::PREVIOUS[j]);
        }
        at += BLOCK;
    }
    for (o, s) in out[at..len]
        .chunks_exact_mut(PIXEL)
        .zip(source[at..len].chunks_exact(PIXEL))
    {
        swap_pixel::<PIXEL>(s, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(source: &[u8], pixel: usize) -> Vec<u8> {
        source
            .chunks_exact(pixel)
            .flat_map(|p| {
                let mut p = p.to_vec();
                p.swap(0, 2);
                p
            })
            .collect()
    }

    /// Every length from 0 to a few blocks (the head pixel, whole blocks,
    /// the tail, and rows too short for any block), distinct bytes so a
    /// byte from the wrong place shows.
    #[test]
    fn matches_a_pixel_by_pixel_swap_at_every_length() {
        let source: Vec<u8> = (0..4 * BLOCK * 3).map(|i| (i * 7 + 3) as u8).collect();
        for pixels in 0..source.len() / 4 {
            let rgb = &source[..pixels * 3];
            let mut out = vec![0; rgb.len()];
            swap_red_blue::<3>(rgb, &mut out);
            assert_eq!(out, reference(rgb, 3), "{pixels} RGB pixels");
            let rgba = &source[..pixels * 4];
            let mut out = vec![0; rgba.len()];
            swap_red_blue::<4>(rgba, &mut out);
            assert_eq!(out, reference(rgba, 4), "{pixels} RGBA pixels");
        }
    }

    #[test]
    fn masks_select_each_byte_once() {
        for pixel in [3, 4] {
            let (next, same, previous) = (mask(pixel, 2), mask(pixel, 0), mask(pixel, -2));
            for j in 0..BLOCK {
                assert_eq!(
                    u32::from(next[j]) + u32::from(same[j]) + u32::from(previous[j]),
                    255
                );
            }
            // Nothing reaches outside the block: the window's extra bytes.
            assert_eq!(previous[0] | previous[1], 0);
            assert_eq!(next[BLOCK - 1] | next[BLOCK - 2], 0);
        }
    }
}
