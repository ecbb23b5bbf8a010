//! Turning Rust outcomes into Python exceptions.
//!
//! Every native function returns `PyResult`; `call_guarded` is the one place
//! where an `Err` becomes a raised exception and a panic becomes a
//! `SystemError` instead of unwinding into CPython.

use bufpng_core::{ErrorKind, FileError, InputError};
use pyo3_ffi::*;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// Why a native call failed.
pub enum Failure {
    /// A Python exception is already set (CPython reported it to us).
    Raised,
    /// A Rust error that still has to become a Python exception.
    Error(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Error(err)
    }
}

pub type PyResult<T> = Result<T, Failure>;

/// Adds "frames[3]"-style context to a failure, whichever kind it is.
pub fn with_context(failure: Failure, context: impl Fn() -> String) -> Failure {
    match failure {
        Failure::Error(err) => Failure::Error(err.context(context())),
        Failure::Raised => {
            prefix_raised_message(&context());
            Failure::Raised
        }
    }
}

/// Runs a native function body, converting errors and panics into exceptions.
/// Returns NULL with an exception set on failure, as CPython expects.
pub fn call_guarded(body: impl FnOnce() -> PyResult<*mut PyObject>) -> *mut PyObject {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(object)) => object,
        Ok(Err(Failure::Raised)) => ptr::null_mut(),
        Ok(Err(Failure::Error(err))) => {
            raise(&err);
            ptr::null_mut()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            // SAFETY: the GIL is held here (native functions run with it, and
            // `without_gil` re-acquires it before propagating a panic).
            unsafe { set_error(PyExc_SystemError, &format!("bufpng internal error: {what}")) };
            ptr::null_mut()
        }
    }
}

/// Raises the Python exception that matches a core error.
pub fn raise(err: &anyhow::Error) {
    let message = format!("{err:#}");
    if let Some(file_error) = err.chain().find_map(|e| e.downcast_ref::<FileError>()) {
        raise_os_error(err, file_error);
        return;
    }
    let kind = err
        .chain()
        .find_map(|e| e.downcast_ref::<InputError>())
        .map(|e| e.kind);
    // SAFETY: exception type objects are static for the interpreter's life;
    // the GIL is held by every caller of `raise`.
    unsafe {
        let exception = match kind {
            Some(ErrorKind::Type) => PyExc_TypeError,
            Some(ErrorKind::Overflow) => PyExc_OverflowError,
            Some(ErrorKind::Buffer) => PyExc_BufferError,
            Some(ErrorKind::Memory) => PyExc_MemoryError,
            // Anything else is about the data: a PNG that does not decode,
            // an encoder that rejected a layout.
            Some(ErrorKind::Value) | None => PyExc_ValueError,
        };
        set_error(exception, &message);
    }
}

/// Sets `exception` with `message` as its text.
///
/// # Safety
/// The GIL must be held and `exception` must be an exception type.
pub unsafe fn set_error(exception: *mut PyObject, message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    PyErr_SetString(exception, text.as_ptr());
}

/// Raises OSError(errno, strerror, filename); CPython picks the subclass
/// (FileNotFoundError, PermissionError, ...) from errno.
fn raise_os_error(err: &anyhow::Error, file_error: &FileError) {
    let errno = file_error
        .source
        .raw_os_error()
        .unwrap_or(match file_error.source.kind() {
            std::io::ErrorKind::InvalidInput => libc::EINVAL,
            _ => libc::EIO,
        });
    // The context outside the FileError ("frames[3]") plus the OS's words.
    let mut strerror: Vec<String> = err
        .chain()
        .take_while(|e| e.downcast_ref::<FileError>().is_none())
        .map(|e| e.to_string())
        .collect();
    strerror.push(os_message(&file_error.source));
    let strerror = strerror.join(": ");
    let filename = crate::convert::path_to_py(&file_error.path);
    // SAFETY: GIL held; each object created here is checked for NULL and its
    // reference is either stolen by PyTuple_SetItem or released below.
    unsafe {
        if filename.is_null() {
            return;
        }
        let args = PyTuple_New(3);
        let text = CString::new(strerror).unwrap_or_default();
        let items = [
            PyLong_FromLong(errno.into()),
            PyUnicode_FromString(text.as_ptr()),
            filename,
        ];
        if args.is_null() || items.iter().any(|item| item.is_null()) {
            Py_XDECREF(args);
            items.iter().for_each(|&item| Py_XDECREF(item));
            return;
        }
        for (i, item) in items.into_iter().enumerate() {
            PyTuple_SetItem(args, i as Py_ssize_t, item);
        }
        let exception = PyObject_CallObject(PyExc_OSError, args);
        Py_DECREF(args);
        if !exception.is_null() {
            PyErr_SetObject(Py_TYPE(exception).cast(), exception);
            Py_DECREF(exception);
        }
    }
}

/// The OS's description without Rust's " (os error N)" tail.
fn os_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Prefixes the message of the currently raised exception with `context`,
/// keeping its type (used for errors CPython raised, e.g. from an exporter).
fn prefix_raised_message(context: &str) {
    // SAFETY: GIL held by callers; PyErr_Fetch hands us owned references
    // (possibly NULL) that PyErr_Restore takes back.
    unsafe {
        let (mut kind, mut value, mut traceback) =
            (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        PyErr_Fetch(&mut kind, &mut value, &mut traceback);
        if kind.is_null() {
            return;
        }
        PyErr_NormalizeException(&mut kind, &mut value, &mut traceback);
        let text = if value.is_null() {
            ptr::null_mut()
        } else {
            PyObject_Str(value)
        };
        let original = crate::convert::str_to_string(text);
        Py_XDECREF(text);
        match original {
            Some(original) if PyErr_GivenExceptionMatches(kind, PyExc_OSError) == 0 => {
                Py_XDECREF(value);
                Py_XDECREF(traceback);
                let message = format!("{context}: {original}");
                set_error(kind, &message);
                Py_DECREF(kind);
            }
            _ => {
                // OSError carries errno/filename attributes a new message would drop.
                PyErr_Restore(kind, value, traceback);
            }
        }
    }
}
