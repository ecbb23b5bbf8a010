//! `decode_with_metadata` on arbitrary bytes (seeded with the test PNGs of
//! `pytests/data` by `reliability/fuzz.sh`), strict or not.
//!
//! It must never panic; a failure must be an `InputError` (ValueError or
//! MemoryError at the boundary), never another error type. A success must be
//! a consistent frame: positive size, 1/3/4 channels, exactly
//! width*height*channels*sample-bytes of data, within the limit. Small frames
//! are re-encoded with their metadata and decoded again: the same pixels
//! and the same metadata must come back.
#![no_main]

use bufpng_core::error::input_kind;
use bufpng_core::{
    decode_with_metadata, encode_png_with, ChannelOrder, Compression, DecodeOptions, ErrorKind,
    Metadata,
};
use libfuzzer_sys::fuzz_target;

/// Well inside libFuzzer's memory limit; the size check runs before any
/// allocation of that order, so a forged header is an error, not an OOM.
const MAX_BYTES: usize = 1 << 24;
const MAX_REENCODE: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    // The input stays a plain PNG file (so seeds work as they are); the
    // channel order comes from its length.
    let order = if data.len() % 2 == 0 {
        ChannelOrder::Bgr
    } else {
        ChannelOrder::Rgb
    };
    // Two threads: a file with a mARK chunk takes the parallel path.
    let options = DecodeOptions {
        order,
        max_bytes: MAX_BYTES,
        threads: 2,
        // Both ways of treating corrupt metadata chunks.
        strict: data.len() % 3 == 0,
    };
    let (frame, metadata) = match decode_with_metadata(data, options) {
        Ok(decoded) => decoded,
        Err(error) => {
            // ValueError or MemoryError at the boundary, nothing else.
            let kind = input_kind(&error);
            assert!(
                matches!(kind, Some(ErrorKind::Value | ErrorKind::Memory)),
                "{kind:?}: {error:#}"
            );
            return;
        }
    };
    let l = frame.layout;
    assert!(l.width > 0 && l.height > 0);
    assert!(matches!(l.channels, 1 | 3 | 4), "{} channels", l.channels);
    assert_eq!(frame.data.len(), l.byte_len());
    assert!(frame.data.len() <= MAX_BYTES);
    assert_eq!(frame.format.order, order);
    if frame.data.len() > MAX_REENCODE {
        return;
    }
    // What was read is written back, unless the file held a combination
    // bufpng refuses to write (sRGB with iCCP, or with another gamma).
    let metadata = match metadata.validate() {
        Ok(()) => metadata,
        Err(_) => Metadata::default(),
    };
    let png = encode_png_with(&frame, Compression::Level(1), 1, &metadata)
        .expect("a decoded frame and its metadata must encode");
    let (again, read) = decode_with_metadata(&png, options).expect("bufpng's own PNG must decode");
    assert_eq!(again, frame, "re-encoded frame decodes to other pixels");
    assert_eq!(read, metadata, "re-encoded metadata reads back otherwise");
});
