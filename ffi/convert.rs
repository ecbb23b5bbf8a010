//! Conversions between Python objects and Rust values.
//!
//! All functions here must be called with the GIL held. Borrowed references
//! come in; new references go out (documented per function).
//!
//! An exception raised by the object's own code (`__index__`, `__float__`,
//! `__fspath__`) propagates unchanged, KeyboardInterrupt included; only a
//! `TypeError` (the object is of the wrong kind) is replaced by a message
//! naming the argument, with the original as its `__cause__`.

use crate::errors::{set_error, take_raised};
use crate::object::{str_to_string, type_name, Failure, PyResult};
use bufpng_core::error::{overflow_error, type_error};
use pyo3_ffi::*;
use std::ffi::{c_char, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::ptr;

/// True for NULL (argument not given) and for `None`.
pub fn is_absent(object: *mut PyObject) -> bool {
    // SAFETY: a non-NULL `object` is a live borrowed reference.
    object.is_null() || unsafe { Py_IsNone(object) } != 0
}

/// An optional integer argument (`None` or absent gives None). Accepts any
/// object with `__index__` (Python and numpy integers), not floats.
pub fn optional_int(object: *mut PyObject, name: &str) -> PyResult<Option<i64>> {
    if is_absent(object) {
        return Ok(None);
    }
    int(object, name).map(Some)
}

/// A required integer argument.
pub fn int(object: *mut PyObject, name: &str) -> PyResult<i64> {
    // SAFETY: `object` is a live borrowed reference; PyNumber_Index returns a
    // new reference that we release.
    unsafe {
        let index = PyNumber_Index(object);
        if index.is_null() {
            return Err(replace_type_error(|| {
                format!("{name} must be an int, got {}", type_name(object))
            }));
        }
        let value = PyLong_AsLongLong(index);
        Py_DECREF(index);
        // `index` is an exact int, so the only failure is CPython's own
        // OverflowError, which no user code raised: say which argument.
        if value == -1 && !PyErr_Occurred().is_null() {
            return Err(match take_raised() {
                Some(cause) => {
                    Failure::Replacing(overflow_error(format!("{name} is far too large")), cause)
                }
                None => Failure::Raised,
            });
        }
        Ok(value)
    }
}

/// A number argument as a float: Python floats and ints, numpy scalars,
/// anything with `__float__` or `__index__`.
pub fn float(object: *mut PyObject, name: &str) -> PyResult<f64> {
    // SAFETY: `object` is a live borrowed reference. PyFloat_AsDouble returns
    // -1.0 with an exception set on failure, which we replace.
    unsafe {
        let value = PyFloat_AsDouble(object);
        if value == -1.0 && !PyErr_Occurred().is_null() {
            return Err(replace_type_error(|| {
                format!("{name} must be a number, got {}", type_name(object))
            }));
        }
        Ok(value)
    }
}

/// The failure after a conversion raised: a `TypeError` gives way to
/// bufpng's `message` (chained); anything else stays raised as it is.
pub fn replace_type_error(message: impl FnOnce() -> String) -> Failure {
    // SAFETY: GIL held by callers; a type check of the raised exception.
    if unsafe { PyErr_ExceptionMatches(PyExc_TypeError) } == 0 {
        return Failure::Raised;
    }
    match take_raised() {
        Some(cause) => Failure::Replacing(type_error(message()), cause),
        None => Failure::Raised,
    }
}

/// An optional str argument.
pub fn optional_str(object: *mut PyObject, name: &str) -> PyResult<Option<String>> {
    if is_absent(object) {
        return Ok(None);
    }
    match str_to_string(object) {
        Some(text) => Ok(Some(text)),
        None => {
            // SAFETY: GIL held.
            unsafe {
                if PyErr_Occurred().is_null() {
                    set_error(
                        PyExc_TypeError,
                        &format!("{name} must be a str, got {}", type_name(object)),
                    );
                }
            }
            Err(Failure::Raised)
        }
    }
}

/// A filesystem path from str, bytes or os.PathLike, as `open()` takes it.
pub fn path(object: *mut PyObject, name: &str) -> PyResult<PathBuf> {
    // SAFETY: `object` is live. PyOS_FSPath and PyUnicode_EncodeFSDefault
    // return new references that we release; the bytes' buffer is valid while
    // `encoded` lives and is copied before that.
    unsafe {
        let fspath = PyOS_FSPath(object);
        if fspath.is_null() {
            return Err(replace_type_error(|| {
                format!(
                    "{name} must be a str, bytes or os.PathLike path, got {}",
                    type_name(object)
                )
            }));
        }
        let encoded = if PyUnicode_Check(fspath) != 0 {
            let encoded = PyUnicode_EncodeFSDefault(fspath);
            Py_DECREF(fspath);
            encoded
        } else {
            fspath
        };
        if encoded.is_null() {
            return Err(Failure::Raised);
        }
        let mut data: *mut c_char = ptr::null_mut();
        let mut size: Py_ssize_t = 0;
        let status = PyBytes_AsStringAndSize(encoded, &mut data, &mut size);
        let result = if status < 0 {
            Err(Failure::Raised)
        } else {
            let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
            if bytes.contains(&0) {
                set_error(PyExc_ValueError, &format!("{name} contains a null byte"));
                Err(Failure::Raised)
            } else if bytes.is_empty() {
                set_error(PyExc_ValueError, &format!("{name} is empty"));
                Err(Failure::Raised)
            } else {
                Ok(PathBuf::from(OsStr::from_bytes(bytes)))
            }
        };
        Py_DECREF(encoded);
        result
    }
}

/// New `bytes` holding a copy of `data`.
pub fn bytes_from(data: &[u8]) -> PyResult<*mut PyObject> {
    // SAFETY: the pointer and length describe `data`; CPython copies it.
    let object =
        unsafe { PyBytes_FromStringAndSize(data.as_ptr().cast(), data.len() as Py_ssize_t) };
    if object.is_null() {
        Err(Failure::Raised)
    } else {
        Ok(object)
    }
}
