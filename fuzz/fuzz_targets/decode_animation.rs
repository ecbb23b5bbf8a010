//! `decode_animation` on arbitrary bytes (seeded with the test PNGs of `pytests/data`
//! and the APNGs `reliability/fuzz.sh` writes with bufpng; the dictionary
//! holds the animation chunk names).
//!
//! It must never panic; a failure must be an `InputError` (ValueError or
//! MemoryError at the boundary). A success must be consistent: at least one
//! frame, one duration per frame, every frame of the same size, channels
//! and depth with exactly the bytes that layout needs, all within the limit.
//! And a still decode must be at least as lenient: where every frame
//! decodes, the default image does too (it ignores the animation chunks).
#![no_main]

use bufpng_core::error::input_kind;
use bufpng_core::{decode_animation, decode_png, DecodeOptions, ErrorKind};
use libfuzzer_sys::fuzz_target;

/// Well inside libFuzzer's memory limit (frames of all sizes count together).
const MAX_BYTES: usize = 1 << 24;

fuzz_target!(|data: &[u8]| {
    let options = DecodeOptions {
        max_bytes: MAX_BYTES,
        ..DecodeOptions::default()
    };
    let animation = match decode_animation(data, options) {
        Ok(animation) => animation,
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
    assert!(!animation.frames.is_empty());
    assert_eq!(animation.frames.len(), animation.durations.len());
    let first = animation.frames[0].layout;
    assert!(first.width > 0 && first.height > 0);
    let mut total = 0;
    for (frame, seconds) in animation.frames.iter().zip(&animation.durations) {
        assert_eq!(frame.layout, first);
        assert_eq!(frame.data.len(), first.byte_len());
        assert!(seconds.is_finite() && *seconds >= 0.0, "{seconds}");
        total += frame.data.len();
    }
    assert!(total <= MAX_BYTES);
    let still = decode_png(data, options);
    assert!(
        still.is_ok(),
        "every frame decodes but the default image does not: {still:?}"
    );
    assert_eq!(still.unwrap().layout, first);
});
