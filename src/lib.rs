//! bufpng's safe core: everything that happens to a frame once its bytes are
//! reachable as a Rust slice. Validation of what a buffer exporter described,
//! the copy out of its memory (with channel reordering fused in), PNG
//! encoding and decoding, atomic file writes, and the worker pool that
//! writes batches.
//!
//! No raw-pointer code (the crate forbids it) and no Python types live here; `ffi/` turns CPython objects into
//! the plain descriptions this crate accepts and maps its errors back.
#![forbid(unsafe_code)]

pub mod adaptive;
pub mod apng;
pub mod atomic;
pub mod batch;
pub mod decode;
pub mod deflate;
pub mod encode;
pub mod error;
pub mod filter;
pub mod layout;
pub mod lz77;
pub mod metadata;
pub mod pairs16;
pub mod pattern;
pub mod pixels;
mod repeats;
pub mod restart;
#[cfg(test)]
mod scratch;
pub mod striped;
mod swap_rb;
pub mod target;

pub use apng::{decode_animation, read_animation, Animation};
pub use decode::{
    decode_png, decode_with_metadata, read_png, read_with_metadata, DecodeOptions,
    DEFAULT_MAX_BYTES,
};
pub use encode::{
    encode_png, encode_png_parts, encode_png_with, write_png, write_png_with, Compression,
};
pub use error::{ErrorKind, FileError, InputError};
pub use layout::{plan_source, BufferDesc, Depth, Endian, Geometry, ImageLayout, SourcePlan};
pub use metadata::Metadata;
pub use pixels::{ChannelOrder, Frame, PixelFormat};
pub use striped::PngParts;

/// Test data without a random-number dependency: the next value of a
/// xorshift32 generator (`state` must not start at 0).
#[cfg(test)]
pub(crate) fn xorshift(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

/// A raw deflate stream inflated by zlib-rs (not by bufpng's own code), for
/// the coders' round-trip tests.
#[cfg(test)]
pub(crate) fn inflate(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(stream), &mut out)
        .expect("a valid deflate stream");
    out
}
