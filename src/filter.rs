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
    let mut previous = above;
    for (row, filtered) in rows
        .chunks_exact(row_bytes)
        .zip(out.chunks_exact_mut(row_bytes + 1))
    {
        let filter = match previous {
            Some(_) => filter,
            None => filter.without_above(),
        };
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
        let (ai, bi, ci) = (a as i16, b as i16, c as i16);
        let pa = (bi - ci).abs();
        let pb = (ai - ci).abs();
        let pc = (ai + bi - 2 * ci).abs();
        let b_or_c = if pb <= pc { b } else { c };
        let predicted = if pa <= pb && pa <= pc { a } else { b_or_c };
        *d = x.wrapping_sub(predicted);
    }
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
