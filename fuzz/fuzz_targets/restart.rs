//! The PNG Restart Marker reader (src/restart.rs) against hostile files:
//! a small frame written in 2-12 segments by the striped writer, then its
//! `mARK` chunk rewritten (type, count, offsets from the input), its
//! stream re-cut into IDAT chunks at arbitrary places, and bytes of it
//! flipped (CRCs fixed, so the damage reaches the inflater).
//!
//! Decoding on several threads must give exactly what the ordinary
//! sequential decoder gives: the same pixels or an error from both. The
//! parallel path falls back to the sequential one on any inconsistency,
//! so any difference is a segment decoded in a way the file does not mean.
#![no_main]

use arbitrary::Arbitrary;
use bufpng_core::striped::{chunk, encode_in_strips, Coder};
use bufpng_core::{decode_png, DecodeOptions, Depth, ImageLayout};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    width: u8,
    height: u8,
    /// Gray, RGB or RGBA; 8 or 16 bits; the coder.
    kind: u8,
    strips: u8,
    seed: u32,
    /// Replaces the mARK chunk's data when present.
    mark: Option<(u8, u8, u32, Vec<u32>)>,
    /// Where the zlib stream is cut into IDAT chunks (none: as written).
    cuts: Vec<u16>,
    /// (position in the stream, xor mask).
    flips: Vec<(u16, u8)>,
    threads: u8,
}

/// (type, data) of each chunk of a PNG the writer made.
fn chunks(png: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut found = Vec::new();
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        found.push((
            png[at + 4..at + 8].try_into().unwrap(),
            &png[at + 8..at + 8 + len],
        ));
        at += len + 12;
    }
    found
}

fuzz_target!(|input: Input| {
    let (channels, depth) = [
        (1, Depth::Eight),
        (3, Depth::Eight),
        (4, Depth::Eight),
        (3, Depth::Sixteen),
    ][input.kind as usize % 4];
    let coder = [
        Coder::RUNS,
        Coder::Stored,
        Coder::Zlib {
            level: 1,
            filter: bufpng_core::filter::RowFilter::Up,
        },
    ][input.kind as usize / 4 % 3];
    let layout = ImageLayout {
        width: 1 + u32::from(input.width % 48),
        height: 3 + u32::from(input.height % 60),
        channels,
        depth,
    };
    let strips = 2 + input.strips as usize % 11;
    let strips = strips.min(layout.height as usize - 1);
    let mut state = input.seed | 1;
    let data: Vec<u8> = (0..layout.byte_len())
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            // Smooth with some noise, so every coder has runs and literals.
            (i as u32 / 7).wrapping_add(state >> 29) as u8
        })
        .collect();
    let png =
        encode_in_strips(&layout, &data, coder, strips, 1, &[]).expect("a valid frame encodes");
    let found = chunks(&png);
    let mut stream: Vec<u8> = found
        .iter()
        .filter(|(kind, _)| kind == b"IDAT")
        .flat_map(|(_, data)| data.iter().copied())
        .collect();
    let mut idats: Vec<Vec<u8>> = found
        .iter()
        .filter(|(kind, _)| kind == b"IDAT")
        .map(|(_, data)| data.to_vec())
        .collect();
    if !input.flips.is_empty() || !input.cuts.is_empty() {
        for &(at, mask) in &input.flips {
            let at = at as usize % stream.len();
            stream[at] ^= mask;
        }
        let mut cuts: Vec<usize> = input
            .cuts
            .iter()
            .map(|&c| c as usize % (stream.len() + 1))
            .collect();
        if cuts.is_empty() {
            // Keep the writer's chunk boundaries.
            let mut at = 0;
            for idat in &idats[..idats.len() - 1] {
                at += idat.len();
                cuts.push(at);
            }
        }
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        cuts.dedup();
        idats = cuts
            .windows(2)
            .map(|w| stream[w[0]..w[1]].to_vec())
            .collect();
    }
    let mut file = png[..8].to_vec();
    for (kind, data) in &found {
        match kind {
            b"mARK" => match &input.mark {
                Some((method, kind, count, offsets)) => {
                    let mut mark = vec![*method, *kind];
                    mark.extend_from_slice(&count.to_be_bytes());
                    for offset in offsets {
                        mark.extend_from_slice(&offset.to_be_bytes());
                    }
                    file.extend_from_slice(&chunk(b"mARK", &mark));
                }
                None => file.extend_from_slice(&chunk(b"mARK", data)),
            },
            b"IDAT" => {}
            b"IEND" => {
                for idat in &idats {
                    file.extend_from_slice(&chunk(b"IDAT", idat));
                }
                file.extend_from_slice(&chunk(b"IEND", data));
            }
            _ => file.extend_from_slice(&chunk(kind, data)),
        }
    }
    let sequential = decode_png(&file, DecodeOptions::default());
    let threads = 2 + input.threads as usize % 4;
    let parallel = decode_png(
        &file,
        DecodeOptions {
            threads,
            ..DecodeOptions::default()
        },
    );
    match (&sequential, &parallel) {
        (Ok(a), Ok(b)) => assert!(a == b, "segments decoded to other pixels"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!(
            "sequential {:?} parallel {:?}",
            sequential.is_ok(),
            parallel.is_ok()
        ),
    }
    if input.mark.is_none() && input.flips.is_empty() {
        let frame = sequential.expect("the writer's own file decodes");
        assert!(frame.data.len() == data.len());
    }
});
