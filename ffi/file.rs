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
use crate::convert::{self, type_name, Owned};
use crate::errors::PyResult;
use bufpng_core::error::{type_error, value_error};
use pyo3_ffi::*;
use std::ffi::CStr;
use std::path::PathBuf;
use std::ptr;

/// Where a write goes.
pub enum Destination {
    Path(PathBuf),
    /// A borrowed object with a `write` method.
    File(*mut PyObject),
}

fn has_method(object: *mut PyObject, name: &CStr) -> bool {
    // SAFETY: GIL held, `object` live; PyObject_HasAttrString never raises.
    unsafe { PyObject_HasAttrString(object, name.as_ptr()) != 0 }
}

fn is_path(object: *mut PyObject) -> bool {
    // SAFETY: GIL held, `object` live; type checks only.
    unsafe {
        PyUnicode_Check(object) != 0
            || PyBytes_Check(object) != 0
            || has_method(object, c"__fspath__")
    }
}

impl Destination {
    /// A path (str, bytes, os.PathLike) or a binary file object.
    pub fn parse(object: *mut PyObject, name: &str) -> PyResult<Destination> {
        if !is_path(object) && has_method(object, c"write") {
            return Ok(Destination::File(object));
        }
        if !is_path(object) {
            return Err(type_error(format!(
                "{name} must be a path (str, bytes or os.PathLike) or a binary file object with a write() method (io.BytesIO, open(p, 'wb')), got {}",
                type_name(object)
            ))
            .into());
        }
        Ok(Destination::Path(convert::path(object, name)?))
    }
}

/// True for an object to read a PNG from with `read()`: not a path, not a
/// buffer (bytes are data), but with a `read` method.
pub fn is_readable(object: *mut PyObject) -> bool {
    // SAFETY: GIL held, `object` live; a type check.
    !is_path(object) && unsafe { PyObject_CheckBuffer(object) } == 0 && has_method(object, c"read")
}

/// A bound method of `object` (new reference); the attribute error passes on.
fn method(object: *mut PyObject, name: &CStr) -> PyResult<Owned> {
    // SAFETY: GIL held, `object` live; new reference or NULL with an exception set.
    Owned::new(unsafe { PyObject_GetAttrString(object, name.as_ptr()) })
}

/// Calls `file.write` until all of `data` is written (raw files may take
/// part of it); `write` returning None (a non-blocking file that would
/// block) is an error.
pub fn write_all(file: *mut PyObject, data: &[u8]) -> PyResult<()> {
    let write = method(file, c"write")?;
    let bytes = Owned::new(convert::bytes_from(data)?)?;
    let mut written = 0usize;
    while written < data.len() {
        // SAFETY: GIL held; `write` and `bytes` live. Each call returns a new
        // reference (owned here) or NULL with an exception set: the file's
        // own, passed on untouched. Later pieces are slices of a memoryview.
        let result = unsafe {
            let piece = if written == 0 {
                Py_INCREF(bytes.0);
                Owned(bytes.0)
            } else {
                let view = Owned::new(PyMemoryView_FromObject(bytes.0))?;
                let start = Owned::new(PyLong_FromSize_t(written))?;
                let slice = Owned::new(PySlice_New(start.0, ptr::null_mut(), ptr::null_mut()))?;
                Owned::new(PyObject_GetItem(view.0, slice.0))?
            };
            Owned::new(PyObject_CallFunctionObjArgs(
                write.0,
                piece.0,
                ptr::null_mut::<PyObject>(),
            ))?
        };
        if convert::is_absent(result.0) {
            return Err(value_error(format!(
                "the file's write() returned None after {written} of {} bytes (a non-blocking file that is not ready?): bufpng needs a blocking binary file",
                data.len()
            ))
            .into());
        }
        let count = convert::int(result.0, "the value write() returned")?;
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
pub fn read_all(file: *mut PyObject) -> PyResult<Vec<u8>> {
    let read = method(file, c"read")?;
    // SAFETY: GIL held, `read` live; new reference or NULL with the file's
    // exception set.
    let data = Owned::new(unsafe { PyObject_CallNoArgs(read.0) })?;
    // SAFETY: type checks on a live object.
    if unsafe { PyObject_CheckBuffer(data.0) } == 0 || unsafe { PyUnicode_Check(data.0) } != 0 {
        return Err(type_error(format!(
            "the file's read() returned {}, not bytes: open the file in binary mode ('rb')",
            type_name(data.0)
        ))
        .into());
    }
    BufferView::acquire(data.0)?.copy_bytes()
}
