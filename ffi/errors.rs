//! Turning Rust outcomes into Python exceptions.
//!
//! Every native function returns `PyResult`; `call_guarded` is the one place
//! where an `Err` becomes a raised exception and a panic becomes a
//! `SystemError` instead of unwinding into CPython.

use crate::object::{path_to_py, Failure, Gil, Obj, Owned, PyResult};
use bufpng_core::{ErrorKind, FileError, InputError};
use pyo3_ffi::*;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// Adds "frames[3]"-style context to a failure: to the message of
/// bufpng's own errors, and as a note (PEP 678) to an exception that is
/// already raised, which stays the same object with the same message.
pub fn with_context(gil: Gil<'_>, failure: Failure, context: impl Fn() -> String) -> Failure {
    match failure {
        Failure::Error(err) => Failure::Error(err.context(context())),
        Failure::Replacing(err, cause) => Failure::Replacing(err.context(context()), cause),
        Failure::Raised => {
            add_note(gil, &format!("bufpng: raised for {}", context()));
            Failure::Raised
        }
    }
}

/// Runs a native function body, converting errors and panics into
/// exceptions; the body gets the GIL token. Returns the body's object as a
/// new reference, or NULL with an exception set, as CPython expects.
pub fn call_guarded<'py>(
    gil: Gil<'py>,
    body: impl FnOnce(Gil<'py>) -> PyResult<Owned>,
) -> *mut PyObject {
    match catch_unwind(AssertUnwindSafe(|| body(gil))) {
        Ok(Ok(object)) => object.into_raw(),
        Ok(Err(failure)) => {
            raise_failure(gil, failure);
            ptr::null_mut()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            // SAFETY: GIL held (the token; `without_gil` takes the GIL back
            // before propagating a panic); the exception type is a live static.
            unsafe { set_error(PyExc_SystemError, &format!("bufpng internal error: {what}")) };
            ptr::null_mut()
        }
    }
}

/// Leaves `failure` raised as a Python exception.
pub fn raise_failure(gil: Gil<'_>, failure: Failure) {
    match failure {
        Failure::Raised => {}
        Failure::Error(err) => raise_error(gil, &err),
        Failure::Replacing(err, cause) => {
            raise_error(gil, &err);
            if let Some(raised) = take_raised(gil) {
                // SAFETY: GIL held; both are live exception instances.
                // PyException_SetCause steals the reference to the cause (and
                // sets __suppress_context__, as `raise ... from cause` does).
                unsafe { PyException_SetCause(raised.as_ptr(), cause.into_raw()) };
                restore(raised);
            }
        }
    }
}

/// Raises the Python exception that matches a core error.
fn raise_error(gil: Gil<'_>, err: &anyhow::Error) {
    let message = format!("{err:#}");
    if let Some(file_error) = err.chain().find_map(|e| e.downcast_ref::<FileError>()) {
        raise_os_error(gil, err, file_error);
        return;
    }
    let kind = err
        .chain()
        .find_map(|e| e.downcast_ref::<InputError>())
        .map(|e| e.kind);
    // SAFETY: GIL held (the token); exception types are live statics.
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
    // SAFETY: the caller's guarantee; `text` is a NUL-terminated string that
    // CPython copies.
    unsafe { PyErr_SetString(exception, text.as_ptr()) };
}

/// Raises OSError(errno, strerror, filename); CPython picks the subclass
/// (FileNotFoundError, PermissionError, ...) from errno.
fn raise_os_error(gil: Gil<'_>, err: &anyhow::Error, file_error: &FileError) {
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
    let text = CString::new(strerror.join(": ")).unwrap_or_default();
    let Ok(filename) = path_to_py(gil, &file_error.path) else {
        return;
    };
    // SAFETY: GIL held (the token); every new reference is owned by `Owned`
    // or stolen by PyTuple_SetItem; NULL results leave their exception set.
    unsafe {
        let made = (|| {
            let args = Owned::new(PyTuple_New(3))?;
            let errno = Owned::new(PyLong_FromLong(errno.into()))?;
            let text = Owned::new(PyUnicode_FromString(text.as_ptr()))?;
            for (i, item) in [errno, text, filename].into_iter().enumerate() {
                PyTuple_SetItem(args.as_ptr(), i as Py_ssize_t, item.into_raw());
            }
            Owned::new(PyObject_CallObject(PyExc_OSError, args.as_ptr()))
        })();
        if let Ok(exception) = made {
            PyErr_SetObject(exception.get().type_ptr().cast(), exception.as_ptr());
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
pub fn take_raised(_: Gil<'_>) -> Option<Owned> {
    loop {
        let (mut kind, mut value, mut traceback) =
            (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        // SAFETY: GIL held (the token); PyErr_Fetch hands over owned
        // references (possibly NULL). After normalisation `value` is an
        // instance of `kind`; the traceback is stored on it and our
        // references to kind and traceback are dropped.
        unsafe {
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
            // NULL: normalisation itself failed and set its own exception,
            // which the next round takes.
            if let Ok(exception) = Owned::new(value) {
                return Some(exception);
            }
        }
    }
}

/// Raises `exception` (from `take_raised`) again, as the same object.
pub fn restore(exception: Owned) {
    let kind = exception.get().type_ptr().cast::<PyObject>();
    // SAFETY: GIL held (an Owned exists); PyErr_Restore steals the three
    // references: a new one to the type, ours to the value, and the new one
    // PyException_GetTraceback returns (or NULL).
    unsafe {
        Py_INCREF(kind);
        let value = exception.into_raw();
        PyErr_Restore(kind, value, PyException_GetTraceback(value));
    }
}

/// Adds `note` to the raised exception (PEP 678, as `exc.add_note(note)`),
/// for exceptions of the `Exception` family only: KeyboardInterrupt and
/// SystemExit are not about a frame. If adding fails (MemoryError), the
/// original exception propagates without the note.
fn add_note(gil: Gil<'_>, note: &str) {
    let Some(exception) = take_raised(gil) else {
        return;
    };
    add_note_to(exception.get(), note);
    restore(exception);
}

fn add_note_to(exception: Obj<'_>, note: &str) {
    let text = CString::new(note.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: GIL held; `exception` is a live exception instance; the result
    // is a new reference owned by `Owned`, or NULL with an exception set,
    // which is cleared so the original one propagates.
    unsafe {
        if PyErr_GivenExceptionMatches(exception.as_ptr(), PyExc_Exception) == 0 {
            return;
        }
        let added = PyObject_CallMethod(
            exception.as_ptr(),
            c"add_note".as_ptr(),
            c"s".as_ptr(),
            text.as_ptr(),
        );
        if Owned::new(added).is_err() {
            PyErr_Clear();
        }
    }
}
