//! One frame compressed on several cores: the rows are split into strips,
//! each strip is Paeth-filtered (its first row against the previous strip's
//! last row, so the result is exactly what a serial encoder would filter)
//! and compressed by fdeflate on its own thread, and the strips are joined
//! into one valid zlib stream.
//!
//! fdeflate has no flush or raw-deflate mode, so the join edits its output:
//! each strip is a zlib stream holding one final Huffman block. For every
//! strip but the last, the block's BFINAL bit is cleared and an empty stored
//! block (a sync marker) is appended after its end-of-block code, which
//! brings the next strip's block to a byte boundary. The zlib headers of all
//! strips but the first and all but one Adler-32 are dropped; the Adler-32 of
//! the whole stream is combined from the strips' own.

use anyhow::{ensure, Result};

/// PNG's Paeth predictor, written so the compiler emits conditional moves.
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let pa = (ib - ic).abs();
    let pb = (ia - ic).abs();
    let pc = (ia + ib - 2 * ic).abs();
    let mut predicted = c;
    if pb <= pc {
        predicted = b;
    }
    if pa <= pb && pa <= pc {
        predicted = a;
    }
    predicted
}

/// Paeth-filters `row` into `out` (same length), a whole pixel per step
/// with the left and up-left pixels carried in registers.
fn paeth_row<const BPP: usize>(previous: &[u8], row: &[u8], out: &mut [u8]) {
    let (mut left, mut up_left) = ([0u8; BPP], [0u8; BPP]);
    for ((o, cur), up) in out
        .chunks_exact_mut(BPP)
        .zip(row.chunks_exact(BPP))
        .zip(previous.chunks_exact(BPP))
    {
        for i in 0..BPP {
            o[i] = cur[i].wrapping_sub(paeth(left[i], up[i], up_left[i]));
            left[i] = cur[i];
            up_left[i] = up[i];
        }
    }
}

/// The filtered image data of `rows`: each row as filter type 4 (Paeth)
/// and its filtered bytes; `previous` is the row above the first.
fn filter_rows(bpp: usize, previous: &[u8], rows: &[u8], row_bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; rows.len() / row_bytes * (row_bytes + 1)];
    let mut previous = previous;
    for (row, filtered) in rows
        .chunks_exact(row_bytes)
        .zip(out.chunks_exact_mut(row_bytes + 1))
    {
        filtered[0] = 4;
        let filtered = &mut filtered[1..];
        match bpp {
            1 => paeth_row::<1>(previous, row, filtered),
            2 => paeth_row::<2>(previous, row, filtered),
            3 => paeth_row::<3>(previous, row, filtered),
            4 => paeth_row::<4>(previous, row, filtered),
            6 => paeth_row::<6>(previous, row, filtered),
            _ => paeth_row::<8>(previous, row, filtered),
        }
        previous = row;
    }
    out
}

/// Adler-32 of A followed by B, from adler(A), adler(B) and B's length
/// (zlib's adler32_combine).
fn adler32_combine(a: u32, b: u32, b_len: usize) -> u32 {
    const BASE: u64 = 65521;
    let rem = b_len as u64 % BASE;
    let (a1, a2) = (u64::from(a & 0xffff), u64::from(a >> 16));
    let (b1, b2) = (u64::from(b & 0xffff), u64::from(b >> 16));
    let s1 = (a1 + b1 + BASE - 1) % BASE;
    let s2 = (a2 + b2 + rem * a1 + BASE - rem) % BASE;
    ((s2 << 16) | s1) as u32
}

/// The zlib stream of PNG image data (Paeth filter on every row) for
/// `data`, packed rows of `row_bytes`, with `bpp` bytes per pixel, using up
/// to `threads` threads.
pub fn zlib_paeth_parallel(
    data: &[u8],
    row_bytes: usize,
    bpp: usize,
    threads: usize,
) -> Result<Vec<u8>> {
    ensure!(
        row_bytes > 0 && data.len() % row_bytes == 0,
        "rows do not tile the data"
    );
    let rows = data.len() / row_bytes;
    let strips = threads.clamp(1, rows.max(1));
    let per_strip = rows.div_ceil(strips);
    let zeros = vec![0u8; row_bytes];
    let outputs: Vec<Result<(Vec<u8>, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..strips)
            .map(|s| {
                let first = (s * per_strip).min(rows);
                let last = ((s + 1) * per_strip).min(rows);
                let previous = if first == 0 {
                    &zeros[..]
                } else {
                    &data[(first - 1) * row_bytes..first * row_bytes]
                };
                let strip = &data[first * row_bytes..last * row_bytes];
                scope.spawn(move || -> Result<(Vec<u8>, usize)> {
                    let filtered = filter_rows(bpp, previous, strip, row_bytes);
                    let mut compressor =
                        fdeflate::Compressor::new(Vec::with_capacity(filtered.len() / 2))?;
                    compressor.write_data(&filtered)?;
                    Ok((compressor.finish()?, filtered.len()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("compression thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(
        outputs
            .iter()
            .map(|o| o.as_ref().map_or(0, |(z, _)| z.len()))
            .sum(),
    );
    let mut adler = 1u32;
    let count = outputs.len();
    for (i, output) in outputs.into_iter().enumerate() {
        let (zlib, len) = output?;
        ensure!(zlib.len() > 6, "fdeflate wrote a truncated stream");
        let strip_adler = u32::from_be_bytes(zlib[zlib.len() - 4..].try_into().expect("4 bytes"));
        adler = adler32_combine(adler, strip_adler, len);
        let body = &zlib[..zlib.len() - 4];
        let start = out.len();
        out.extend_from_slice(if i == 0 { body } else { &body[2..] });
        if i + 1 < count {
            // Byte 0 of the deflate data, bit 0: BFINAL.
            let header_at = if i == 0 { start + 2 } else { start };
            out[header_at] &= !1;
            // The block ends with fdeflate's end-of-block code, whose last
            // bit is 1, then zero padding: the highest set bit of the last
            // byte is where the code ends. An empty stored block (3 header
            // bits, pad to a byte, LEN 0, NLEN 0xffff) follows it; when fewer
            // than 3 padding bits are left, its header spills into one more
            // zero byte.
            let last = *out.last().expect("non-empty");
            ensure!(
                last != 0,
                "fdeflate's end-of-block code did not end where expected"
            );
            let used_bits = 8 - last.leading_zeros();
            if 8 - used_bits < 3 {
                out.push(0);
            }
            out.extend_from_slice(&[0, 0, 0xff, 0xff]);
        }
    }
    out.extend_from_slice(&adler.to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn adler_combines() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 256) as u8).collect();
        for split in [0, 1, 5000, 65521, 99_999, 100_000] {
            let (x, y) = data.split_at(split);
            assert_eq!(
                adler32_combine(adler32(x), adler32(y), y.len()),
                adler32(&data)
            );
        }
    }
}
