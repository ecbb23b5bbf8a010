//! Error types that carry enough to pick the right Python exception.
//!
//! The core works with `anyhow::Error`; these types sit inside the chain so
//! the boundary can find them with `downcast_ref` whatever context was added.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Which Python exception an input problem becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller passed the wrong kind of object or sample type.
    Type,
    /// The value has the right type but is unusable (shape, length, range).
    Value,
    /// A number is too large to represent.
    Overflow,
    /// The buffer itself cannot be read as an image (e.g. suboffsets).
    Buffer,
    /// The image is too large for the memory available to copy it.
    Memory,
}

/// A problem with what the caller passed, with a message that names the fix.
#[derive(Debug)]
pub struct InputError {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

fn input(kind: ErrorKind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError {
        kind,
        message: message.into(),
    })
}

/// The kind of the `InputError` anywhere in `err`'s chain (context added on
/// top does not hide it); None for any other error.
pub fn input_kind(err: &anyhow::Error) -> Option<ErrorKind> {
    err.chain()
        .find_map(|e| e.downcast_ref::<InputError>())
        .map(|e| e.kind)
}

pub fn type_error(message: impl Into<String>) -> anyhow::Error {
    input(ErrorKind::Type, message)
}

pub fn value_error(message: impl Into<String>) -> anyhow::Error {
    input(ErrorKind::Value, message)
}

pub fn overflow_error(message: impl Into<String>) -> anyhow::Error {
    input(ErrorKind::Overflow, message)
}

pub fn buffer_error(message: impl Into<String>) -> anyhow::Error {
    input(ErrorKind::Buffer, message)
}

pub fn memory_error(message: impl Into<String>) -> anyhow::Error {
    input(ErrorKind::Memory, message)
}

/// An I/O failure on a named file; becomes `OSError` with `.filename` set.
#[derive(Debug)]
pub struct FileError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

// `source` is left at None: Display already includes the I/O error, and a
// chain that repeated it would print it twice.
impl std::error::Error for FileError {}
