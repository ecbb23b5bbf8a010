//! Python object references and the few conversions every other file in
//! ffi/ needs, errors.rs included (so that errors.rs and convert.rs both
//! depend on this file and not on each other).
//!
//! All functions here must be called with the GIL held.

use pyo3_ffi::*;
use std::ffi::{c_char, CStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Why a native call failed.
pub enum Failure {
    /// A Python exception is set: raised by Python code (an exporter's
    /// `__buffer__`, `__index__`, an iterator, a callback), by CPython, or by
    /// bufpng with its own message. It propagates as the very same object.
    Raised,
    /// A bufpng error that still has to become a Python exception.
    Error(anyhow::Error),
    /// bufpng's clearer error replacing the exception a conversion raised (a
    /// `TypeError`: the object is of the wrong kind; or CPython's own
    /// OverflowError for an int); the original becomes its `__cause__`.
    Replacing(anyhow::Error, Owned),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Error(err)
    }
}

pub type PyResult<T> = Result<T, Failure>;

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

/// A path as a new Python str (undecodable bytes kept as surrogates, as
/// os.fsdecode does). New reference, or NULL with an exception set.
pub fn path_to_py(path: &Path) -> *mut PyObject {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: the pointer and length describe `bytes`, which outlives the call.
    unsafe { PyUnicode_DecodeFSDefaultAndSize(bytes.as_ptr().cast(), bytes.len() as Py_ssize_t) }
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

/// A C string literal for CPython tables.
pub const fn c(text: &'static CStr) -> *const c_char {
    text.as_ptr()
}
