//! bufpng's own deflate coder (src/deflate.rs): any bytes, cut into pieces
//! coded separately and joined with sync flushes as the striped encoder joins
//! strips, must inflate (zlib-rs) back to exactly the input, with the
//! combined Adler-32, and never grow past stored blocks' overhead.
//! Run it with -max_len=16384 or so for multi-block inputs (fuzz.sh does).
#![no_main]

use bufpng_core::deflate::{adler32, adler32_combine, sync_flush, write_blocks, BitWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, u16, bool, Vec<u8>)| {
    let (first_cut, second_cut, expand, raw) = input;
    // Expanded, each (byte, count) pair is the byte repeated: inputs of a
    // few KiB become runs and blocks of hundreds of KiB, past the coder's
    // sampling and block sizes.
    let data: Vec<u8> = if expand {
        (raw.chunks(2))
            .flat_map(|pair| std::iter::repeat_n(pair[0], 1 + *pair.get(1).unwrap_or(&0) as usize * 4))
            .collect()
    } else {
        raw
    };
    let len = data.len();
    let mut cuts = [first_cut as usize % (len + 1), second_cut as usize % (len + 1)];
    cuts.sort_unstable();
    let pieces = [&data[..cuts[0]], &data[cuts[0]..cuts[1]], &data[cuts[1]..]];

    let mut out = BitWriter::new(0);
    out.push_bytes(&[0x78, 0x01]);
    let mut adler = 1;
    for (i, piece) in pieces.iter().enumerate() {
        let last = i == pieces.len() - 1;
        write_blocks(piece, last, &mut out);
        if !last {
            sync_flush(&mut out);
        }
        adler = adler32_combine(adler, adler32(1, piece), piece.len());
    }
    assert_eq!(adler, adler32(1, &data));
    out.align();
    out.push_bytes(&adler.to_be_bytes());
    let stream = out.into_bytes();
    // Stored blocks cost 5 bytes per 65535; add the flushes and headers.
    assert!(stream.len() <= len + 5 * (len / 65535 + 8) + 16, "{} bytes for {len}", stream.len());

    let mut back = vec![0u8; len + 1];
    let (inflated, status) = zlib_rs::decompress_slice(&mut back, &stream, Default::default());
    assert_eq!(status, zlib_rs::ReturnCode::Ok);
    assert_eq!(inflated, &data[..]);
});
