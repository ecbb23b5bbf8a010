//! Arbitrary file name patterns and frame numbers: `FilePattern::parse` and
//! `format` must never panic, and a formatted name must contain the number
//! and everything around the placeholder.
#![no_main]

use bufpng_core::pattern::FilePattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, i64)| {
    let (pattern, n) = input;
    let Ok(parsed) = FilePattern::parse(&pattern) else {
        return;
    };
    let name = parsed.format(n);
    let digits = n.unsigned_abs().to_string();
    assert!(name.contains(&digits), "{pattern:?} % {n} gave {name:?}");
    // Text before the first '%' is copied as it is.
    let head = pattern.split('%').next().unwrap_or("");
    assert!(name.starts_with(head), "{pattern:?} % {n} gave {name:?}");
});
