//! Turning Rust outcomes into Python exceptions.
//!
//! Every native function returns `PyResult`; `call_guarded` is the one place
//! where an `Err` becomes a raised exception and a panic becomes a
//! `SystemError` instead of unwinding into CPython.

use crate::object::{path_to_py, Failure, Owned, PyResult};
use bufpng_core::{ErrorKind, FileError, InputError};
use pyo3_ffi::*;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// Adds "frames[3]"-style context to a failure: to the message of
/// bufpng's own errors, and as a note (PEP 678) to an exception that is
/// already raised, which stays the same object with the same message.
pub fn with_context(failure: Failure, context: impl Fn() -> String) -> Failure {
    match failure {
        Failure::Error(err) => Failure::Error(err.context(context())),
        Failure::Replacing(err, cause) => Failure::Replacing(err.context(context()), cause),
        Failure::Raised => {
            add_note(&format!("bufpng: raised for {}", context()));
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
            raise(&err, None);
            ptr::null_mut()
        }
        Ok(Err(Failure::Replacing(err, cause))) => {
            raise(&err, Some(cause));
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

/// Raises the Python exception that matches a core error, with `cause`
/// (the exception it replaces) as its `__cause__`.
fn raise(err: &anyhow::Error, cause: Option<Owned>) {
    raise_error(err);
    let Some(cause) = cause else {
        return;
    };
    if let Some(raised) = take_raised() {
        // SAFETY: GIL held; both are live exception instances.
        // PyException_SetCause steals the reference to the cause (and sets
        // __suppress_context__, as `raise ... from cause` does).
        unsafe { PyException_SetCause(raised.0, cause.into_raw()) };
        restore(raised);
    }
}

fn raise_error(err: &anyhow::Error) {
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
    let filename = path_to_py(&file_error.path);
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

/// The raised exception, taken out of the thread state (None if none is
/// set), normalised and with its traceback attached, so that `restore`
/// puts back the very same object.
pub fn take_raised() -> Option<Owned> {
    // SAFETY: GIL held by callers; PyErr_Fetch hands over owned references
    // (possibly NULL). After normalisation `value` is an instance of `kind`;
    // the traceback is stored on it and our references to kind and traceback
    // are dropped.
    unsafe {
        let (mut kind, mut value, mut traceback) =
            (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        PyErr_Fetch(&mut kind, &mut value, &mut traceback);
        if kind.is_null() {
            return None;
        }
        PyErr_NormalizeException(&mut kind, &mut value, &mut traceback);
        if !traceback.is_null() && !value.is_null() {
            PyException_SetTraceback(value, traceback);
        }
        Py_XDECREF(traceback);
        Py_DECREF(kind);
        if value.is_null() {
            // Normalisation itself failed and left its own exception set.
            return take_raised();
        }
        Some(Owned(value))
    }
}

/// Raises `exception` (from `take_raised`) again, as the same object.
pub fn restore(exception: Owned) {
    // SAFETY: GIL held; PyErr_Restore steals the three references it is given.
    unsafe {
        let value = exception.into_raw();
        let kind = Py_TYPE(value).cast::<PyObject>();
        Py_INCREF(kind);
        PyErr_Restore(kind, value, PyException_GetTraceback(value));
    }
}

/// Adds `note` to the raised exception (PEP 678, as `exc.add_note(note)`),
/// for exceptions of the `Exception` family only: KeyboardInterrupt and
/// SystemExit are not about a frame. If adding fails (MemoryError), the
/// original exception propagates without the note.
fn add_note(note: &str) {
    let Some(exception) = take_raised() else {
        return;
    };
    // SAFETY: GIL held; `exception` is a live exception instance; every new
    // reference is owned by `Owned` or checked for NULL.
    unsafe {
        if PyErr_GivenExceptionMatches(exception.0, PyExc_Exception) != 0 {
            let text = CString::new(note.replace('\0', "\\0")).unwrap_or_default();
            let added = PyObject_CallMethod(
                exception.0,
                c"add_note".as_ptr(),
                c"s".as_ptr(),
                text.as_ptr(),
            );
            if added.is_null() {
                PyErr_Clear();
            } else {
                Py_DECREF(added);
            }
        }
    }
    restore(exception);
}
