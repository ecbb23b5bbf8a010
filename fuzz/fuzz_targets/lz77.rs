//! bufpng's own LZ77 coder (src/lz77.rs): any bytes, cut into bands coded
//! by one strip coder (matches reach back across bands, into the window it
//! keeps), must inflate (zlib-rs) back to exactly the input and never grow
//! past stored blocks' overhead.
//! Run it with -max_len=16384 or so for multi-block inputs.
#![no_main]

use bufpng_core::deflate::BitWriter;
use bufpng_core::lz77::LzStrip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, u16, bool, Vec<u8>)| {
    let (first_cut, second_cut, expand, raw) = input;
    // Expanded, each (byte, count) pair is the byte repeated, and every
    // fourth pair also repeats the last 40 bytes: long runs, far repeats
    // and bands past the 32 KiB window from small inputs.
    let data: Vec<u8> = if expand {
        let mut data = Vec::new();
        for (i, pair) in raw.chunks(2).enumerate() {
            let count = 1 + *pair.get(1).unwrap_or(&0) as usize * 4;
            data.extend(std::iter::repeat_n(pair[0], count));
            if i % 4 == 3 && data.len() > 40 {
                let from = data.len() - 40;
                data.extend_from_within(from..);
            }
        }
        data
    } else {
        raw
    };
    let len = data.len();
    let mut cuts = [
        first_cut as usize % (len + 1),
        second_cut as usize % (len + 1),
    ];
    cuts.sort_unstable();
    let bands = [&data[..cuts[0]], &data[cuts[0]..cuts[1]], &data[cuts[1]..]];

    let mut out = BitWriter::new(0);
    let mut strip = LzStrip::new();
    for (i, band) in bands.iter().enumerate() {
        strip.code(band, i == bands.len() - 1, &mut out);
    }
    out.align();
    let stream = out.into_bytes();
    assert!(
        stream.len() <= len + 5 * (len / 65535 + 8) + 16,
        "{} bytes for {len}",
        stream.len()
    );

    let mut back = vec![0u8; len + 1];
    let config = zlib_rs::InflateConfig { window_bits: -15 };
    let (inflated, status) = zlib_rs::decompress_slice(&mut back, &stream, config);
    assert_eq!(status, zlib_rs::ReturnCode::Ok);
    assert_eq!(inflated, &data[..]);
});
