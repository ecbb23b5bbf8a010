//! Releasing the GIL around work that touches no Python object.

use crate::object::Gil;
use pyo3_ffi::{PyEval_RestoreThread, PyEval_SaveThread};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Runs `work` with the GIL released, so other Python threads run meanwhile.
///
/// The `Gil` token proves the caller holds the GIL to release. `Send` keeps
/// the token, Python references (`Obj`, `Owned`) and buffer views out of the
/// closure: only owned Rust data, or data a live reference keeps alive and
/// unchanged (a Frame's pixels), crosses. A panic inside is carried out after
/// the GIL is re-acquired, where `call_guarded` turns it into an exception.
pub fn without_gil<T: Send>(_: Gil<'_>, work: impl FnOnce() -> T + Send) -> T {
    // SAFETY: the token says this thread holds the GIL; the saved thread
    // state is restored below on every path, panics included.
    let state = unsafe { PyEval_SaveThread() };
    let result = catch_unwind(AssertUnwindSafe(work));
    // SAFETY: `state` came from the PyEval_SaveThread above on this thread.
    unsafe { PyEval_RestoreThread(state) };
    result.unwrap_or_else(|panic| resume_unwind(panic))
}
