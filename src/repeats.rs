//! A cheap measure of how much string matching could find in a few rows,
//! for the default's choice of coder (`encode.rs`, `sample_content`): the
//! share of bytes that repeat a string seen earlier at a distance that is
//! neither the pixel before nor the row above (those repeats the Runs
//! coder codes as runs after its filter). Screens (text, UI, dithering)
//! repeat 25-98% of such bytes (strings of 16 bytes or more); 8-bit photos
//! 0.1-5%. One probe a pixel: 1.2 M instructions on a 1080p photo's
//! sample, against 13 M for an LZ77 trial of the same rows.

/// Shortest repeat counted: shorter ones are common in photos too (runs of
/// a colour two pixels apart) and are worth little to LZ77.
const MIN_REPEAT: usize = 16;
/// Buckets of the hash table, the most recent position each.
const HASH_BITS: u32 = 12;
const EMPTY: u32 = u32::MAX;

/// What `scan` found in a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Repeats {
    /// Bytes that repeat neither the pixel before nor the row above.
    pub(crate) other: usize,
    /// Of those, bytes in repeats of at least `MIN_REPEAT` bytes found
    /// (one probe of the most recent position with the same next 8 bytes,
    /// at pixel steps).
    pub(crate) repeated: usize,
}

/// Photo-like samples repeat under one in this many of their non-trivial
/// bytes (`Repeats::other`) as strings. 8-bit photos measured up to 1 in
/// 16 (kodim07 at 4K, 6.2%); a screenshot saved as JPEG (quality 85) and
/// read back repeats 8.4%, and LZ77 halves it: a cut at a tenth gave it
/// Runs without the trials. Frames above the cut only pay for the trials,
/// which then decide.
const PHOTO_REPEATS_CUT: usize = 14;

/// Whether `data` (whole rows of `row_bytes`, unfiltered, `bpp` bytes a
/// pixel) looks like a photo to string matching: at least half its bytes
/// repeat neither the pixel before nor the row above, and under one in
/// `PHOTO_REPEATS_CUT` of those repeat a string of `MIN_REPEAT` or more.
/// The scan stops as soon as either can no longer hold (on screens, half
/// way).
pub fn photo_like(data: &[u8], row_bytes: usize, bpp: usize) -> bool {
    let found = scan(
        data,
        row_bytes,
        bpp,
        data.len() / 2,
        data.len() / PHOTO_REPEATS_CUT,
    );
    found.other * 2 >= data.len() && found.repeated * PHOTO_REPEATS_CUT < found.other
}

/// Measures `data`, whole rows of `row_bytes` (the unfiltered sample) with
/// `bpp` bytes a pixel.
#[cfg(test)]
pub(crate) fn measure(data: &[u8], row_bytes: usize, bpp: usize) -> Repeats {
    scan(data, row_bytes, bpp, usize::MAX, usize::MAX)
}

/// `measure`, stopped once over `max_trivial` bytes repeat the pixel
/// before or the row above, or `max_repeated` bytes repeat a string: the
/// counts then are what was found by that point, but for `other`, which
/// counts the bytes not scanned.
fn scan(
    data: &[u8],
    row_bytes: usize,
    bpp: usize,
    max_trivial: usize,
    max_repeated: usize,
) -> Repeats {
    let mut table = [EMPTY; 1 << HASH_BITS];
    let word = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
    let (mut at, mut trivial, mut repeated) = (0, 0, 0);
    while at + 8 <= data.len() {
        let next = word(at);
        if (at >= bpp && next == word(at - bpp))
            || (at >= row_bytes && next == word(at - row_bytes))
        {
            trivial += bpp;
            at += bpp;
            if trivial > max_trivial {
                break;
            }
            continue;
        }
        let bucket = (next.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - HASH_BITS)) as usize;
        let candidate = table[bucket];
        // Positions fit u32: the sample is a few rows.
        table[bucket] = at as u32;
        if candidate != EMPTY && word(candidate as usize) == next {
            let from = candidate as usize;
            let mut len = 8;
            while at + len + 8 <= data.len() && word(from + len) == word(at + len) {
                len += 8;
            }
            if len >= MIN_REPEAT {
                repeated += len;
                at += len;
                if repeated >= max_repeated {
                    break;
                }
                continue;
            }
        }
        at += bpp;
    }
    let other = data.len().saturating_sub(trivial);
    Repeats {
        other,
        repeated: repeated.min(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(x: usize, y: usize) -> u8 {
        let h = (x as u32).wrapping_mul(0x9e37_79b9) ^ (y as u32).wrapping_mul(0x85eb_ca6b);
        (h ^ h >> 15).wrapping_mul(0x2c1b_3c6d).to_le_bytes()[3]
    }

    #[test]
    fn glyphs_repeated_along_a_row_count_runs_and_rows_above_do_not() {
        let (width, rows, bpp) = (300, 8, 3);
        let row_bytes = width * bpp;
        // A 20-pixel "glyph" of varied bytes repeated across the row, each
        // row a different glyph: repeats at a distance of 20 pixels.
        let glyphs: Vec<u8> = (0..rows * row_bytes)
            .map(|i| hash(i % row_bytes % (20 * bpp), i / row_bytes))
            .collect();
        let found = measure(&glyphs, row_bytes, bpp);
        assert!(found.repeated * 10 > found.other * 8, "{found:?}");
        assert!(!photo_like(&glyphs, row_bytes, bpp));
        // Flat colour and copies of the row above are trivial, but for the
        // first pixel and the last few bytes (under one probe's 8).
        let flat = vec![7u8; rows * row_bytes];
        assert!(measure(&flat, row_bytes, bpp).other < bpp + 8);
        // Mostly runs: not for this measure to judge.
        assert!(!photo_like(&flat, row_bytes, bpp));
        let row: Vec<u8> = (0..row_bytes).map(|i| hash(i, 99)).collect();
        let found = measure(&row.repeat(rows), row_bytes, bpp);
        assert!(found.other < row_bytes + 8, "{found:?}");
        // Noise repeats nothing.
        let noise: Vec<u8> = (0..rows * row_bytes).map(|i| hash(i, 7)).collect();
        let found = measure(&noise, row_bytes, bpp);
        assert_eq!(found.repeated, 0);
        assert!(found.other > rows * row_bytes * 9 / 10);
        assert!(photo_like(&noise, row_bytes, bpp));
    }
}
