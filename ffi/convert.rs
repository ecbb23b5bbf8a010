//! Conversions from Python argument objects to Rust values.
//!
//! Optional arguments come in as `Option<Obj>`: None when the caller did not
//! pass them (a NULL slot from `Signature::parse`).
//!
//! An exception raised by the object's own code (`__index__`, `__float__`,
//! `__fspath__`) propagates unchanged, KeyboardInterrupt included; only a
//! `TypeError` (the object is of the wrong kind) is replaced by a message
//! naming the argument, with the original as its `__cause__`.

use crate::errors::take_raised;
use crate::object::{str_to_string, type_name, Failure, Gil, Obj, Owned, PyResult};
use bufpng_core::error::{overflow_error, type_error, value_error};
use pyo3_ffi::*;
use std::ffi::{c_char, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::ptr;

/// The argument unless it is absent or `None`.
pub fn given(object: Option<Obj<'_>>) -> Option<Obj<'_>> {
    object.filter(|object| !object.is_none())
}

/// An optional integer argument (`None` or absent gives None). Accepts any
/// object with `__index__` (Python and numpy integers), not floats.
pub fn optional_int(object: Option<Obj<'_>>, name: &str) -> PyResult<Option<i64>> {
    given(object).map(|object| int(object, name)).transpose()
}

/// An integer argument. bool is refused although it is an int subclass:
/// `threads=True` is a mistake, not one thread.
pub fn int(object: Obj<'_>, name: &str) -> PyResult<i64> {
    let gil = object.gil();
    // SAFETY: live object, GIL held; a type check.
    if unsafe { PyBool_Check(object.as_ptr()) } != 0 {
        return Err(type_error(format!("{name} must be an int, got bool")).into());
    }
    // SAFETY: live object, GIL held; PyNumber_Index returns a new reference
    // (owned by `Owned`) or NULL with an exception set.
    let index = unsafe { Owned::new(PyNumber_Index(object.as_ptr())) }.map_err(|_| {
        replace_type_error(gil, || {
            format!("{name} must be an int, got {}", type_name(object))
        })
    })?;
    // SAFETY: `index` is a live int; PyLong_AsLongLong only reads it.
    let value = unsafe { PyLong_AsLongLong(index.as_ptr()) };
    // `index` is an exact int, so the only failure is CPython's own
    // OverflowError, which no user code raised: say which argument.
    if value == -1 && raised(gil) {
        return Err(match take_raised(gil) {
            Some(cause) => {
                Failure::Replacing(overflow_error(format!("{name} is far too large")), cause)
            }
            None => Failure::Raised,
        });
    }
    Ok(value)
}

/// A number argument as a float: Python floats and ints, numpy scalars,
/// anything with `__float__` or `__index__`.
pub fn float(object: Obj<'_>, name: &str) -> PyResult<f64> {
    let gil = object.gil();
    // SAFETY: live object, GIL held. PyFloat_AsDouble returns -1.0 with an
    // exception set on failure.
    let value = unsafe { PyFloat_AsDouble(object.as_ptr()) };
    if value == -1.0 && raised(gil) {
        return Err(replace_type_error(gil, || {
            format!("{name} must be a number, got {}", type_name(object))
        }));
    }
    Ok(value)
}

/// True when an exception is set.
fn raised(_: Gil<'_>) -> bool {
    // SAFETY: GIL held (the token); reads the thread's exception state.
    !unsafe { PyErr_Occurred() }.is_null()
}

/// The failure after a conversion raised: a `TypeError` gives way to
/// bufpng's `message` (chained); anything else stays raised as it is.
pub fn replace_type_error(gil: Gil<'_>, message: impl FnOnce() -> String) -> Failure {
    // SAFETY: GIL held (the token); a type check of the raised exception.
    if unsafe { PyErr_ExceptionMatches(PyExc_TypeError) } == 0 {
        return Failure::Raised;
    }
    match take_raised(gil) {
        Some(cause) => Failure::Replacing(type_error(message()), cause),
        None => Failure::Raised,
    }
}

/// An optional True/False argument; only bool (or None) is accepted, so a
/// mistyped value is not silently truthy.
pub fn optional_bool(object: Option<Obj<'_>>, name: &str) -> PyResult<Option<bool>> {
    let Some(object) = given(object) else {
        return Ok(None);
    };
    // SAFETY: live object, GIL held; a type check and an identity comparison.
    unsafe {
        if PyBool_Check(object.as_ptr()) == 0 {
            return Err(type_error(format!(
                "{name} must be True or False, got {}",
                type_name(object)
            ))
            .into());
        }
        Ok(Some(object.as_ptr() == Py_True()))
    }
}

/// An optional str argument.
pub fn optional_str(object: Option<Obj<'_>>, name: &str) -> PyResult<Option<String>> {
    let Some(object) = given(object) else {
        return Ok(None);
    };
    match str_to_string(object) {
        Some(text) => Ok(Some(text)),
        None if raised(object.gil()) => Err(Failure::Raised),
        None => Err(type_error(format!("{name} must be a str, got {}", type_name(object))).into()),
    }
}

/// A filesystem path from str, bytes or os.PathLike, as `open()` takes it.
pub fn path(object: Obj<'_>, name: &str) -> PyResult<PathBuf> {
    let gil = object.gil();
    // SAFETY: live object, GIL held. PyOS_FSPath returns a new reference or
    // NULL with an exception set.
    let fspath = unsafe { Owned::new(PyOS_FSPath(object.as_ptr())) }.map_err(|_| {
        replace_type_error(gil, || {
            format!(
                "{name} must be a str, bytes or os.PathLike path, got {}",
                type_name(object)
            )
        })
    })?;
    // SAFETY: `fspath` is a live str or bytes; PyUnicode_EncodeFSDefault
    // returns a new reference or NULL with an exception set.
    let encoded = unsafe {
        if PyUnicode_Check(fspath.as_ptr()) != 0 {
            Owned::new(PyUnicode_EncodeFSDefault(fspath.as_ptr()))?
        } else {
            fspath
        }
    };
    let mut data: *mut c_char = ptr::null_mut();
    let mut size: Py_ssize_t = 0;
    // SAFETY: `encoded` is live bytes; on success `data` points to its `size`
    // bytes, valid while `encoded` lives, and copied into the PathBuf below.
    let bytes = unsafe {
        if PyBytes_AsStringAndSize(encoded.as_ptr(), &mut data, &mut size) < 0 {
            return Err(Failure::Raised);
        }
        std::slice::from_raw_parts(data.cast::<u8>(), size as usize)
    };
    if bytes.contains(&0) {
        Err(value_error(format!("{name} contains a null byte")).into())
    } else if bytes.is_empty() {
        Err(value_error(format!("{name} is empty")).into())
    } else {
        Ok(PathBuf::from(OsStr::from_bytes(bytes)))
    }
}
