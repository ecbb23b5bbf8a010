//! A per-row filter choice for screen content (the default's dense coder,
//! `encode.rs`): each row gets whichever of None, Sub and Up leaves the
//! smallest sum of absolute residuals (the residuals read as signed bytes),
//! libpng's heuristic over the three cheap filters. On screens one filter
//! for every row loses: Up wins on rows that repeat the row above (flat
//! panels, gradients across the frame), Sub on rows of text (glyph edges
//! repeat along the row), None on rows of isolated detail. Measured with
//! zlib-rs level 2 on 1080p screens: 11% smaller than Up on the tiled
//! screenshot, 3% on a synthetic UI, 11% on the real screenshot; Paeth as a
//! fourth candidate changed the first and last by 0.1% at 1.5x the cost of
//! the choice (docs/benchmarks.md, "Screens").

use crate::filter::{filter_rows_by, RowFilter};

/// Filters `rows` (whole rows of `row_bytes`) into `out` as
/// `filter::filter_rows` does, each row with the filter of least cost.
/// `above` is the unfiltered row above the first one, `None` at the top of
/// the image or of a restart segment: that row chooses between None and
/// Sub only (a segment's first row must not read the row above).
pub fn filter_rows_least_sum(
    rows: &[u8],
    above: Option<&[u8]>,
    row_bytes: usize,
    bpp: usize,
    out: &mut [u8],
) {
    filter_rows_by(rows, above, row_bytes, bpp, out, |row, previous| {
        least_sum_filter(row, previous, bpp)
    });
}

/// The filter among None, Sub and Up (Up only with a row above) whose
/// residuals have the least sum of absolute values; ties go to the
/// earlier of Up, Sub, None (cheapest for a decoder last).
fn least_sum_filter(row: &[u8], above: Option<&[u8]>, bpp: usize) -> RowFilter {
    let bpp = bpp.min(row.len());
    // The first pixel has no left neighbour: Sub leaves it as it is.
    let first = sum_abs(&row[..bpp], &row[..bpp], &row[..bpp]);
    // Without a row above, Up is not a candidate: compare against the row
    // itself (a sum of zeros, never chosen over Sub's on a tie).
    let above = above.unwrap_or(row);
    let rest = sum_abs(&row[bpp..], &row[..row.len() - bpp], &above[bpp..]);
    let (none, sub) = (first[0] + rest[0], first[0] + rest[1]);
    let up = sum_abs(&row[..bpp], &above[..bpp], &above[..bpp])[1] + rest[2];
    let mut best = (sub, RowFilter::Sub);
    if !std::ptr::eq(above, row) && up <= best.0 {
        best = (up, RowFilter::Up);
    }
    if none < best.0 {
        best = (none, RowFilter::None);
    }
    best.1
}

/// |byte as i8|, as min(byte, -byte): a byte-wide min the compiler
/// vectorises with plain SSE2 (which has no byte abs).
#[inline(always)]
fn magnitude(byte: u8) -> u8 {
    byte.min(byte.wrapping_neg())
}

/// Bytes per step of the sums: fixed-size arrays, so the loop vectorises.
const LANES: usize = 16;
const STRIDE: usize = 4 * LANES;

/// The sum of 16 bytes, widened: a reduction the compiler turns into one
/// PSADBW against zero on x86.
#[inline(always)]
fn byte_sum(bytes: [u8; LANES]) -> u64 {
    bytes.iter().map(|&b| b as u64).sum()
}

/// Adds the sums of |x|, |x - a| and |x - b| over the first LANES bytes
/// of `x`, `a` and `b`.
#[inline(always)]
fn add_lanes(total: &mut [u64; 3], x: &[u8], a: &[u8], b: &[u8]) {
    let (x, a, b) = (&x[..LANES], &a[..LANES], &b[..LANES]);
    let (mut m0, mut m1, mut m2) = ([0u8; LANES], [0u8; LANES], [0u8; LANES]);
    for i in 0..LANES {
        m0[i] = magnitude(x[i]);
        m1[i] = magnitude(x[i].wrapping_sub(a[i]));
        m2[i] = magnitude(x[i].wrapping_sub(b[i]));
    }
    total[0] += byte_sum(m0);
    total[1] += byte_sum(m1);
    total[2] += byte_sum(m2);
}

/// In one pass: the sums of |x|, |x - left| and |x - up| (as i8) over
/// `xs` and its `lefts` and `ups` (all as long as `xs`).
fn sum_abs(xs: &[u8], lefts: &[u8], ups: &[u8]) -> [u64; 3] {
    let mut total = [0u64; 3];
    // The first LANES bytes of every STRIDE: the choice is rarely close,
    // and a quarter of the row decides it as well (screens +0.4% to -0.3%
    // against half of it, 4-5% fewer instructions for the whole encode).
    for ((x, a), b) in (xs.chunks_exact(STRIDE))
        .zip(lefts.chunks_exact(STRIDE))
        .zip(ups.chunks_exact(STRIDE))
    {
        add_lanes(&mut total, x, a, b);
    }
    // The tail (under STRIDE bytes, every one counted) through the same
    // 16-byte sums, zero-padded: a padding byte leaves 0 in all three sums.
    // Byte by byte it was a third of the choice's instructions (a 1080p
    // RGB row's tail is 61 bytes).
    let whole = xs.len() / STRIDE * STRIDE;
    let tail = xs.len() - whole;
    if tail > 0 {
        let pad = |bytes: &[u8]| {
            let mut padded = [0u8; STRIDE];
            padded[..tail].copy_from_slice(&bytes[whole..]);
            padded
        };
        let (x, a, b) = (pad(xs), pad(lefts), pad(ups));
        let lanes = tail.div_ceil(LANES);
        for ((x, a), b) in (x.chunks_exact(LANES).take(lanes))
            .zip(a.chunks_exact(LANES))
            .zip(b.chunks_exact(LANES))
        {
            add_lanes(&mut total, x, a, b);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::unfilter_row;

    #[test]
    fn picks_the_filter_that_leaves_the_least_and_round_trips() {
        let row_bytes = 12;
        // Row 0: no row above (None or Sub only); a ramp, so Sub wins.
        // Row 1: the same ramp: Up leaves zeros. Row 2: spikes on zero,
        // where Sub doubles every spike and Up finds nothing: None.
        let rows: Vec<u8> = [
            (0..12).map(|i| i * 10).collect::<Vec<u8>>(),
            (0..12).map(|i| i * 10).collect(),
            [0, 0, 0, 90, 0, 0, 0, 0, 0, 90, 0, 0].to_vec(),
        ]
        .concat();
        let mut out = vec![0; 3 * (row_bytes + 1)];
        filter_rows_least_sum(&rows, None, row_bytes, 3, &mut out);
        let types: Vec<u8> = out.chunks(row_bytes + 1).map(|r| r[0]).collect();
        assert_eq!(types, [RowFilter::Sub as u8, RowFilter::Up as u8, 0]);
        let mut previous = vec![0u8; row_bytes];
        for (filtered, row) in out.chunks(row_bytes + 1).zip(rows.chunks(row_bytes)) {
            let mut decoded = vec![0u8; row_bytes];
            assert!(unfilter_row(
                filtered[0],
                &filtered[1..],
                Some(&previous),
                3,
                &mut decoded
            ));
            assert_eq!(decoded, row);
            previous = decoded;
        }
    }

    #[test]
    fn sums_count_a_quarter_of_each_stride_and_every_byte_of_the_tail() {
        // Against byte-by-byte sums over what is counted: the first LANES
        // of every STRIDE bytes, then all of the last partial STRIDE (its
        // zero padding must add nothing), for every length up to 3 STRIDEs.
        let mut state = 0x2545_f491u32;
        let mut noise = |len: usize| -> Vec<u8> {
            (0..len)
                .map(|_| {
                    crate::xorshift(&mut state);
                    (state >> 24) as u8
                })
                .collect()
        };
        let (xs, lefts, ups) = (noise(3 * STRIDE), noise(3 * STRIDE), noise(3 * STRIDE));
        for len in 0..=3 * STRIDE {
            let whole = len / STRIDE * STRIDE;
            let mut naive = [0u64; 3];
            for i in (0..len).filter(|&i| i >= whole || i % STRIDE < LANES) {
                naive[0] += magnitude(xs[i]) as u64;
                naive[1] += magnitude(xs[i].wrapping_sub(lefts[i])) as u64;
                naive[2] += magnitude(xs[i].wrapping_sub(ups[i])) as u64;
            }
            assert_eq!(
                sum_abs(&xs[..len], &lefts[..len], &ups[..len]),
                naive,
                "{len}"
            );
        }
        // |x| as a signed byte: 0x80 counts 128, 0xff counts 1.
        assert_eq!(
            sum_abs(&[0x80, 0xff, 1], &[0; 3], &[0x80; 3]),
            [130, 130, 254]
        );
    }

    #[test]
    fn a_row_without_the_row_above_never_reads_it() {
        // Identical rows: Up would leave zeros, but a segment's first row
        // may use None or Sub only.
        let rows = vec![7u8; 24];
        let mut out = vec![0; 26];
        filter_rows_least_sum(&rows, None, 12, 3, &mut out);
        assert!(out[0] == RowFilter::Sub as u8 || out[0] == RowFilter::None as u8);
        assert_eq!(out[13], RowFilter::Up as u8);
    }
}
