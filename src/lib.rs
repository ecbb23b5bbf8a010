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
pub mod target;

pub use apng::{decode_animation, read_animation, Animation};
pub use decode::{
    decode_png, decode_with_metadata, read_png, read_with_metadata, DecodeOptions,
    DEFAULT_MAX_BYTES,
};
pub use encode::{encode_png, encode_png_with, write_png, write_png_with, Compression};
pub use error::{ErrorKind, FileError, InputError};
pub use layout::{plan_source, BufferDesc, Depth, Endian, Geometry, ImageLayout, SourcePlan};
pub use metadata::Metadata;
pub use pixels::{ChannelOrder, Frame, PixelFormat};
