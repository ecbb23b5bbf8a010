//! Conversions between Python objects and Rust values.
//!
//! All functions here must be called with the GIL held. Borrowed references
//! come in; new references go out (documented per function).

use crate::errors::{set_error, Failure, PyResult};
use pyo3_ffi::*;
use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr;

/// True for NULL (argument not given) and for `None`.
pub fn is_absent(object: *mut PyObject) -> bool {
    // SAFETY: a non-NULL `object` is a live borrowed reference.
    object.is_null() || unsafe { Py_IsNone(object) } != 0
}

/// The type name of `object`, e.g. "str", "ndarray".
pub fn type_name(object: *mut PyObject) -> String {
    // SAFETY: `object` is a live borrowed reference; PyType_GetName returns a
    // new reference (or NULL with an exception, which we clear: this is only
    // used to build a message).
    unsafe {
        let name = PyType_GetName(Py_TYPE(object));
        let text = str_to_string(name);
        Py_XDECREF(name);
        if text.is_none() {
            PyErr_Clear();
        }
        text.unwrap_or_else(|| "object".into())
    }
}

/// A Python `str` as a Rust String; None for NULL or a non-str (no exception set
/// by this function for NULL; for other failures the exception is left set).
pub fn str_to_string(object: *mut PyObject) -> Option<String> {
    if object.is_null() {
        return None;
    }
    // SAFETY: `object` is live; the returned UTF-8 buffer is owned by the str
    // object and valid while it lives, and we copy it before returning.
    unsafe {
        if PyUnicode_Check(object) == 0 {
            return None;
        }
        let mut size: Py_ssize_t = 0;
        let data = PyUnicode_AsUTF8AndSize(object, &mut size);
        if data.is_null() {
            return None;
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// An optional integer argument (`None` or absent gives None). Accepts any
/// object with `__index__` (Python and numpy integers), not floats.
pub fn optional_int(object: *mut PyObject, name: &str) -> PyResult<Option<i64>> {
    if is_absent(object) {
        return Ok(None);
    }
    int(object, name).map(Some)
}

/// A required integer argument. bool is refused although it is an int
/// subclass: `threads=True` is a mistake, not one thread.
pub fn int(object: *mut PyObject, name: &str) -> PyResult<i64> {
    // SAFETY: `object` is a live borrowed reference; PyNumber_Index returns a
    // new reference that we release.
    unsafe {
        if PyBool_Check(object) != 0 {
            set_error(PyExc_TypeError, &format!("{name} must be an int, got bool"));
            return Err(Failure::Raised);
        }
        let index = PyNumber_Index(object);
        if index.is_null() {
            PyErr_Clear();
            set_error(
                PyExc_TypeError,
                &format!("{name} must be an int, got {}", type_name(object)),
            );
            return Err(Failure::Raised);
        }
        let value = PyLong_AsLongLong(index);
        Py_DECREF(index);
        if value == -1 && !PyErr_Occurred().is_null() {
            PyErr_Clear();
            set_error(PyExc_OverflowError, &format!("{name} is far too large"));
            return Err(Failure::Raised);
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
            PyErr_Clear();
            set_error(
                PyExc_TypeError,
                &format!("{name} must be a number, got {}", type_name(object)),
            );
            return Err(Failure::Raised);
        }
        Ok(value)
    }
}

/// An optional True/False argument; only bool (or None) is accepted, so a
/// mistyped value is not silently truthy.
pub fn optional_bool(object: *mut PyObject, name: &str) -> PyResult<Option<bool>> {
    if is_absent(object) {
        return Ok(None);
    }
    // SAFETY: `object` is live; a type check and identity comparison only.
    unsafe {
        if PyBool_Check(object) == 0 {
            set_error(
                PyExc_TypeError,
                &format!("{name} must be True or False, got {}", type_name(object)),
            );
            return Err(Failure::Raised);
        }
        Ok(Some(object == Py_True()))
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
            PyErr_Clear();
            set_error(
                PyExc_TypeError,
                &format!(
                    "{name} must be a str, bytes or os.PathLike path, got {}",
                    type_name(object)
                ),
            );
            return Err(Failure::Raised);
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

/// A path as a new Python str (undecodable bytes kept as surrogates, as
/// os.fsdecode does). New reference, or NULL with an exception set.
pub fn path_to_py(path: &Path) -> *mut PyObject {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: the pointer and length describe `bytes`, which outlives the call.
    unsafe { PyUnicode_DecodeFSDefaultAndSize(bytes.as_ptr().cast(), bytes.len() as Py_ssize_t) }
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

/// `None`, as a new reference.
pub fn none() -> *mut PyObject {
    // SAFETY: Py_None is immortal-ish and always valid; we return a new reference.
    unsafe {
        let none = Py_None();
        Py_INCREF(none);
        none
    }
}

/// An owned (strong) reference, released on drop; not Send, so it stays
/// with the GIL.
pub struct Owned(pub *mut PyObject);

impl Owned {
    /// Takes ownership of a new reference; NULL means an exception is set.
    pub fn new(object: *mut PyObject) -> PyResult<Owned> {
        if object.is_null() {
            Err(Failure::Raised)
        } else {
            Ok(Owned(object))
        }
    }

    /// Hands the reference over (to a function that steals it).
    pub fn into_raw(self) -> *mut PyObject {
        let object = self.0;
        std::mem::forget(self);
        object
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: we own one reference; GIL held (Owned is not Send).
        unsafe { Py_DECREF(self.0) };
    }
}

/// A C string literal for CPython tables.
pub const fn c(text: &'static CStr) -> *const c_char {
    text.as_ptr()
}
