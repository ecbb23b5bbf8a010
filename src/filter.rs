//! PNG row filters for the striped encoder (`striped.rs`): Paeth, which the
//! png crate's Adaptive mode picks for nearly every row of a photo, and Up,
//! as good on screen content and cheaper; None for rows that are stored
//! (decoders only copy them). The png crate keeps its filters private,
//! hence these.

/// A PNG filter type (the byte that starts each filtered row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFilter {
    None = 0,
    Sub = 1,
    Up = 2,
    Paeth = 4,
}

impl RowFilter {
    /// The filter a row without a row above is written with: Up and Paeth
    /// read the row above, which is all zeros at the top of the image, so
    /// there Up is None and Paeth is Sub, and saying so lets a decoder
    /// start at that row without the one above (PNG Restart Marker
    /// segments, `striped.rs`).
    fn without_above(self) -> RowFilter {
        match self {
            RowFilter::None | RowFilter::Up => RowFilter::None,
            RowFilter::Sub | RowFilter::Paeth => RowFilter::Sub,
        }
    }
}

/// Filters `rows` (whole rows of `row_bytes`) into `out`, which must hold
/// `rows.len() / row_bytes * (row_bytes + 1)` bytes: each row becomes the
/// filter type byte followed by its residuals. `above` is the unfiltered
/// row above the first one, `None` at the top of the image or of a strip
/// that must decode on its own (that row is then filtered with
/// `filter.without_above()`).
pub fn filter_rows(
    filter: RowFilter,
    rows: &[u8],
    above: Option<&[u8]>,
    row_bytes: usize,
    bpp: usize,
    out: &mut [u8],
) {
    filter_rows_by(
        rows,
        above,
        row_bytes,
        bpp,
        out,
        |_, previous| match previous {
            Some(_) => filter,
            None => filter.without_above(),
        },
    );
}

/// `filter_rows` with each row's filter picked by `choose(row, above)`,
/// which must not pick Up or Paeth where `above` is `None`.
pub fn filter_rows_by(
    rows: &[u8],
    above: Option<&[u8]>,
    row_bytes: usize,
    bpp: usize,
    out: &mut [u8],
    mut choose: impl FnMut(&[u8], Option<&[u8]>) -> RowFilter,
) {
    let mut previous = above;
    for (row, filtered) in rows
        .chunks_exact(row_bytes)
        .zip(out.chunks_exact_mut(row_bytes + 1))
    {
        let filter = choose(row, previous);
        filtered[0] = filter as u8;
        let residuals = &mut filtered[1..];
        match (filter, previous) {
            (RowFilter::Up, Some(above)) => up_row(row, above, residuals),
            (RowFilter::Paeth, Some(above)) => paeth_row(row, above, bpp, residuals),
            (RowFilter::Sub | RowFilter::Paeth, _) => sub_row(row, bpp, residuals),
            (RowFilter::None | RowFilter::Up, _) => residuals.copy_from_slice(row),
        }
        previous = Some(row);
    }
}

fn up_row(row: &[u8], above: &[u8], out: &mut [u8]) {
    for ((d, &x), &b) in out.iter_mut().zip(row).zip(above) {
        *d = x.wrapping_sub(b);
    }
}

fn sub_row(row: &[u8], bpp: usize, out: &mut [u8]) {
    let n = row.len();
    out[..bpp].copy_from_slice(&row[..bpp]);
    for ((d, &x), &a) in out[bpp..].iter_mut().zip(&row[bpp..]).zip(&row[..n - bpp]) {
        *d = x.wrapping_sub(a);
    }
}

fn paeth_row(row: &[u8], above: &[u8], bpp: usize, out: &mut [u8]) {
    let n = row.len();
    // No left neighbour: Paeth predicts from the byte above (the Up filter).
    for ((d, &x), &b) in out[..bpp].iter_mut().zip(&row[..bpp]).zip(&above[..bpp]) {
        *d = x.wrapping_sub(b);
    }
    // Written as one branch-free expression over zipped slices so the
    // compiler vectorises it: no iteration depends on another.
    for ((((d, &x), &a), &b), &c) in out[bpp..]
        .iter_mut()
        .zip(&row[bpp..])
        .zip(&row[..n - bpp])
        .zip(&above[bpp..])
        .zip(&above[..n - bpp])
    {
        *d = x.wrapping_sub(paeth_predictor(a, b, c));
    }
}

/// PNG's Paeth predictor, written without branches on the data and in u8
/// arithmetic only (saturating subtractions and additions, min-based
/// compares), so loops over it vectorise 16 bytes to an SSE2 register
/// rather than 8 i16 lanes: about half the instructions.
///
/// With d1 = b - c and d2 = a - c split into positive and negative parts
/// (each |d| = pos | neg, one of them zero): pa = |d1|, pb = |d2| and
/// pc = |d1 + d2| = |(pos1 + pos2) - (neg1 + neg2)|. The sums saturate only
/// when d1 and d2 have the same sign, and then the true pc = pa + pb is at
/// least pa and pb anyway, as the saturated 255 is: every comparison the
/// predictor makes comes out the same.
#[inline(always)]
fn paeth_predictor(a: u8, b: u8, c: u8) -> u8 {
    let (pos1, neg1) = (b.saturating_sub(c), c.saturating_sub(b));
    let (pos2, neg2) = (a.saturating_sub(c), c.saturating_sub(a));
    let pa = pos1 | neg1;
    let pb = pos2 | neg2;
    let (pos, neg) = (pos1.saturating_add(pos2), neg1.saturating_add(neg2));
    let pc = pos.saturating_sub(neg) | neg.saturating_sub(pos);
    let b_or_c = if pb <= pc { b } else { c };
    if pa <= pb && pa <= pc {
        a
    } else {
        b_or_c
    }
}

/// The Paeth predictor in the form stb_image decodes with: the same
/// choice as the specification's, from two comparisons against one
/// threshold and a min/max, so the chain from one pixel to the next (the
/// left neighbour) is short and branch-free.
#[inline(always)]
fn paeth_from_left(a: i16, b: i16, c: i16) -> u8 {
    let threshold = 3 * c - (a + b);
    let (low, high) = (a.min(b), a.max(b));
    let low_or_c = if high <= threshold { low } else { c };
    (if threshold <= low { high } else { low_or_c }) as u8
}

/// Reverses the filter `kind` (the row's type byte) on `filtered` (the
/// row's residuals) into `out`; `above` is the decoded row above, None at
/// the top of the image or of a restart segment (all zeros). False for a
/// type PNG does not define.
pub fn unfilter_row(
    kind: u8,
    filtered: &[u8],
    above: Option<&[u8]>,
    bpp: usize,
    out: &mut [u8],
) -> bool {
    match bpp {
        1 => unfilter::<1>(kind, filtered, above, out),
        2 => unfilter::<2>(kind, filtered, above, out),
        3 => unfilter::<3>(kind, filtered, above, out),
        4 => unfilter::<4>(kind, filtered, above, out),
        6 => unfilter::<6>(kind, filtered, above, out),
        8 => unfilter::<8>(kind, filtered, above, out),
        _ => false,
    }
}

/// `unfilter_row` for pixels of N bytes: whole pixels at a time, so the
/// left neighbour is a register rather than an indexed load.
fn unfilter<const N: usize>(
    kind: u8,
    filtered: &[u8],
    above: Option<&[u8]>,
    out: &mut [u8],
) -> bool {
    if filtered.len() != out.len() || above.is_some_and(|above| above.len() != out.len()) {
        return false;
    }
    match (kind, above) {
        (0, _) | (2, None) => out.copy_from_slice(filtered),
        (2, Some(above)) => {
            for ((o, &f), &b) in out.iter_mut().zip(filtered).zip(above) {
                *o = f.wrapping_add(b);
            }
        }
        // Sub, and Paeth with a row of zeros above (it predicts the left byte).
        (1, _) | (4, None) => {
            let mut left = [0u8; N];
            for (o, f) in out.chunks_exact_mut(N).zip(filtered.chunks_exact(N)) {
                for k in 0..N {
                    left[k] = f[k].wrapping_add(left[k]);
                    o[k] = left[k];
                }
            }
        }
        (3, _) => {
            let mut left = [0u8; N];
            let zeros = vec![0u8; if above.is_none() { out.len() } else { 0 }];
            let above = above.unwrap_or(&zeros);
            let pixels = out.chunks_exact_mut(N).zip(filtered.chunks_exact(N));
            for ((o, f), b) in pixels.zip(above.chunks_exact(N)) {
                for k in 0..N {
                    let average = ((u16::from(left[k]) + u16::from(b[k])) / 2) as u8;
                    left[k] = f[k].wrapping_add(average);
                    o[k] = left[k];
                }
            }
        }
        (4, Some(above)) => {
            let (mut left, mut upper_left) = ([0i16; N], [0i16; N]);
            let pixels = out.chunks_exact_mut(N).zip(filtered.chunks_exact(N));
            for ((o, f), b) in pixels.zip(above.chunks_exact(N)) {
                for k in 0..N {
                    let b = i16::from(b[k]);
                    let predicted = paeth_from_left(left[k], b, upper_left[k]);
                    o[k] = f[k].wrapping_add(predicted);
                    left[k] = i16::from(o[k]);
                    upper_left[k] = b;
                }
            }
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Paeth predictor exactly as PNG's specification writes it.
    fn predictor(a: u8, b: u8, c: u8) -> u8 {
        let p = a as i32 + b as i32 - c as i32;
        let (pa, pb, pc) = (
            (p - a as i32).abs(),
            (p - b as i32).abs(),
            (p - c as i32).abs(),
        );
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }

    #[test]
    fn the_u8_paeth_predictor_matches_the_specification_for_every_input() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    assert_eq!(paeth_predictor(a, b, c), predictor(a, b, c), "{a} {b} {c}");
                }
            }
        }
    }

    #[test]
    fn paeth_matches_the_specification_on_every_byte() {
        for bpp in [1, 2, 3, 4, 6, 8] {
            let row_bytes = bpp * 37;
            let rows: Vec<u8> = (0..row_bytes * 3).map(|i| (i * 7919 % 251) as u8).collect();
            let mut out = vec![0; 3 * (row_bytes + 1)];
            filter_rows(RowFilter::Paeth, &rows, None, row_bytes, bpp, &mut out);
            for y in 0..3 {
                // The top row has no row above: Paeth there is Sub.
                assert_eq!(out[y * (row_bytes + 1)], if y == 0 { 1 } else { 4 });
                for x in 0..row_bytes {
                    let at = |yy: usize, xx: usize| rows[yy * row_bytes + xx];
                    let a = if x >= bpp { at(y, x - bpp) } else { 0 };
                    let b = if y > 0 { at(y - 1, x) } else { 0 };
                    let c = if x >= bpp && y > 0 {
                        at(y - 1, x - bpp)
                    } else {
                        0
                    };
                    let expected = at(y, x).wrapping_sub(predictor(a, b, c));
                    assert_eq!(
                        out[y * (row_bytes + 1) + 1 + x],
                        expected,
                        "bpp {bpp} row {y} byte {x}"
                    );
                }
            }
        }
    }

    /// Every filter type reversed, against the specification's formulas
    /// applied byte by byte, for every pixel size, with and without a row
    /// above.
    #[test]
    fn unfilter_reverses_every_filter_type() {
        for bpp in [1, 2, 3, 4, 6, 8] {
            let row_bytes = bpp * 23;
            let filtered: Vec<u8> = (0..row_bytes).map(|i| (i * 7919 % 251) as u8).collect();
            let above_row: Vec<u8> = (0..row_bytes).map(|i| (i * 31 % 253) as u8).collect();
            for above in [None, Some(&above_row[..])] {
                for kind in 0..5u8 {
                    let mut expected = vec![0u8; row_bytes];
                    for x in 0..row_bytes {
                        let a = if x >= bpp { expected[x - bpp] } else { 0 };
                        let b = above.map_or(0, |above| above[x]);
                        let c = match above {
                            Some(above) if x >= bpp => above[x - bpp],
                            _ => 0,
                        };
                        let predicted = match kind {
                            0 => 0,
                            1 => a,
                            2 => b,
                            3 => ((a as u16 + b as u16) / 2) as u8,
                            _ => predictor(a, b, c),
                        };
                        expected[x] = filtered[x].wrapping_add(predicted);
                    }
                    let mut out = vec![0u8; row_bytes];
                    assert!(unfilter_row(kind, &filtered, above, bpp, &mut out));
                    assert_eq!(
                        out,
                        expected,
                        "bpp {bpp} type {kind} above {}",
                        above.is_some()
                    );
                }
                assert!(!unfilter_row(
                    5,
                    &filtered,
                    above,
                    bpp,
                    &mut vec![0; row_bytes]
                ));
            }
        }
    }

    #[test]
    fn up_subtracts_the_row_above_and_keeps_the_first_row() {
        let rows: Vec<u8> = (0..30u8).map(|i| i.wrapping_mul(37)).collect();
        let mut out = vec![0; 3 * 11];
        filter_rows(RowFilter::Up, &rows, None, 10, 1, &mut out);
        assert_eq!(out[0], 0, "Up without a row above is None");
        assert_eq!(out[11], 2);
        assert_eq!(&out[1..11], &rows[..10]);
        for y in 1..3 {
            for x in 0..10 {
                let expected = rows[y * 10 + x].wrapping_sub(rows[(y - 1) * 10 + x]);
                assert_eq!(out[y * 11 + 1 + x], expected);
            }
        }
    }
}
