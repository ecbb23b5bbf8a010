//! Binary file objects as destinations and sources: anything with
//! `.write(bytes)` (io.BytesIO, an open file, a socket's makefile("wb")) or
//! `.read()`.
//!
//! The PNG is encoded with the GIL released, then handed to the file's own
//! Python methods with the GIL held (they are Python code). Nothing is
//! atomic here: that is a property of paths, which are written to a
//! temporary file and renamed. An exception raised by the file's methods
//! propagates as the same object, with nothing added.

use crate::buffer::BufferView;
use crate::convert;
use crate::object::{bytes_from, has_attribute, type_name, Failure, Obj, Owned, PyResult};
use bufpng_core::error::{type_error, value_error};
use pyo3_ffi::*;
use std::ffi::CStr;
use std::path::PathBuf;
use std::ptr;

/// Where a write goes.
pub enum Destination<'py> {
    Path(PathBuf),
    /// An object with a `write` method.
    File(Obj<'py>),
}

/// str, bytes or os.PathLike; an exception from a `__getattr__` other than
/// AttributeError propagates (as from hasattr()).
fn is_path(object: Obj<'_>) -> PyResult<bool> {
    // SAFETY: live object, GIL held; type checks only.
    let str_or_bytes =
        unsafe { PyUnicode_Check(object.as_ptr()) != 0 || PyBytes_Check(object.as_ptr()) != 0 };
    Ok(str_or_bytes || has_attribute(object, c"__fspath__")?)
}

impl<'py> Destination<'py> {
    /// A path (str, bytes, os.PathLike) or a binary file object.
    pub fn parse(object: Obj<'py>, name: &str) -> PyResult<Destination<'py>> {
        if !is_path(object)? && has_attribute(object, c"write")? {
            return Ok(Destination::File(object));
        }
        // A path, or neither: os.fspath's TypeError is the cause of ours.
        convert::path(object, name)
            .map(Destination::Path)
            .map_err(|failure| match failure {
                Failure::Replacing(_, cause) => Failure::Replacing(
                    type_error(format!(
                        "{name} must be a str, bytes or os.PathLike path, or a binary file object with a write() method (io.BytesIO, open(p, 'wb')), got {}",
                        type_name(object)
                    )),
                    cause,
                ),
                other => other,
            })
    }
}

/// True for an object to read a PNG from with `read()`: not a path, not a
/// buffer (bytes are data), but with a `read` method.
pub fn is_readable(object: Obj<'_>) -> PyResult<bool> {
    // SAFETY: live object, GIL held; a type check.
    let is_buffer = unsafe { PyObject_CheckBuffer(object.as_ptr()) } != 0;
    Ok(!is_buffer && !is_path(object)? && has_attribute(object, c"read")?)
}

/// True for an object whose buffer is data (bytes, bytearray, memoryview,
/// an array), not a str.
pub fn is_bytes_like(object: Obj<'_>) -> bool {
    // SAFETY: live object, GIL held; type checks only.
    unsafe { PyObject_CheckBuffer(object.as_ptr()) != 0 && PyUnicode_Check(object.as_ptr()) == 0 }
}

/// A bound method of `object`; the attribute error passes on.
fn method(object: Obj<'_>, name: &CStr) -> PyResult<Owned> {
    // SAFETY: live object, GIL held; a new reference or NULL with an
    // exception set.
    unsafe { Owned::new(PyObject_GetAttrString(object.as_ptr(), name.as_ptr())) }
}

/// Calls `file.write` until all of `data` is written (raw files may take
/// part of it); `write` returning None (a non-blocking file that would
/// block) is an error.
pub fn write_all(file: Obj<'_>, data: &[u8]) -> PyResult<()> {
    let gil = file.gil();
    let write = method(file, c"write")?;
    let bytes = bytes_from(gil, data)?;
    let mut written = 0usize;
    while written < data.len() {
        let piece = if written == 0 {
            bytes.get().to_owned()
        } else {
            // SAFETY: GIL held; live bytes; each call returns a new reference
            // (owned) or NULL with an exception set. The piece is a
            // memoryview slice of what is left.
            unsafe {
                let view = Owned::new(PyMemoryView_FromObject(bytes.as_ptr()))?;
                let start = Owned::new(PyLong_FromSize_t(written))?;
                let slice = Owned::new(PySlice_New(
                    start.as_ptr(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                ))?;
                Owned::new(PyObject_GetItem(view.as_ptr(), slice.as_ptr()))?
            }
        };
        // SAFETY: GIL held; live callable and argument; a new reference, or
        // NULL with the file's own exception set, passed on untouched.
        let result = unsafe {
            Owned::new(PyObject_CallFunctionObjArgs(
                write.as_ptr(),
                piece.as_ptr(),
                ptr::null_mut::<PyObject>(),
            ))
        }?;
        if result.get().is_none() {
            return Err(value_error(format!(
                "the file's write() returned None after {written} of {} bytes (a non-blocking file that is not ready?): bufpng needs a blocking binary file",
                data.len()
            ))
            .into());
        }
        let count = convert::int(result.get(), "the value write() returned")?;
        match usize::try_from(count) {
            Ok(n) if n > 0 && n <= data.len() - written => written += n,
            _ => {
                return Err(value_error(format!(
                    "the file's write() returned {count} for {} bytes: a binary file returns how many bytes it took",
                    data.len() - written
                ))
                .into())
            }
        }
    }
    Ok(())
}

/// `file.read()` (all of it) as bytes; the file's exceptions pass unchanged.
pub fn read_all(file: Obj<'_>) -> PyResult<Vec<u8>> {
    let read = method(file, c"read")?;
    // SAFETY: GIL held; a live callable; a new reference or NULL with the
    // file's exception set.
    let contents = unsafe { Owned::new(PyObject_CallNoArgs(read.as_ptr())) }?;
    let data = contents.get();
    if !is_bytes_like(data) {
        return Err(type_error(format!(
            "the file's read() returned {}, not bytes: open the file in binary mode ('rb')",
            type_name(data)
        ))
        .into());
    }
    let bytes = BufferView::acquire(data)?.copy_bytes()?;
    Ok(bytes)
}
