//! References to Python objects that safe code can hold, and the few
//! conversions every other file in ffi/ needs (errors.rs included, so that
//! errors.rs and convert.rs both depend on this file, not on each other).
//!
//! A safe function in ffi/ that touches Python takes one of these types, and
//! only `unsafe` code can make them, so the compiler checks what comments
//! used to promise (orjson's typed references in its `src/ffi` are the model):
//!
//! - `Gil<'py>`: proof that this thread holds the GIL for `'py`;
//! - `Obj<'py>`: a borrowed reference to an object that stays alive for `'py`;
//! - `Owned`: a strong reference, released on drop.
//!
//! None of them is `Send` or `Sync`, so none can reach another thread or the
//! closure of `without_gil`, which runs with the GIL released.

use pyo3_ffi::*;
use std::ffi::{c_char, CStr};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;

/// Proof that the calling thread holds the GIL for `'py`. Zero-sized; neither
/// `Send` nor `Sync` (the raw pointer marker).
#[derive(Clone, Copy)]
pub struct Gil<'py>(PhantomData<(&'py (), *mut ())>);

impl<'py> Gil<'py> {
    /// # Safety
    /// The calling thread holds the GIL (of the interpreter whose objects it
    /// will touch) for all of `'py`, except inside `without_gil`, whose
    /// closure cannot use the token.
    pub unsafe fn assume() -> Gil<'py> {
        Gil(PhantomData)
    }
}

/// A borrowed reference to a live Python object, valid for `'py`: someone
/// (the caller of a native function, a tuple bufpng owns...) holds a strong
/// reference for at least that long, and the GIL is held.
#[derive(Clone, Copy)]
pub struct Obj<'py> {
    object: NonNull<PyObject>,
    gil: Gil<'py>,
}

impl<'py> Obj<'py> {
    /// A typed reference to `object`; None for NULL.
    ///
    /// # Safety
    /// A non-NULL `object` is a live object that stays referenced (by someone
    /// else) for all of `'py`.
    pub unsafe fn borrowed(gil: Gil<'py>, object: *mut PyObject) -> Option<Obj<'py>> {
        NonNull::new(object).map(|object| Obj { object, gil })
    }

    pub fn as_ptr(self) -> *mut PyObject {
        self.object.as_ptr()
    }

    pub fn gil(self) -> Gil<'py> {
        self.gil
    }

    /// A new strong reference to the object.
    pub fn to_owned(self) -> Owned {
        // SAFETY: the object is live (the type's guarantee) and the GIL is held.
        unsafe { Py_INCREF(self.as_ptr()) };
        Owned(self.object)
    }

    pub fn is_none(self) -> bool {
        // SAFETY: live object, GIL held; an identity check.
        unsafe { Py_IsNone(self.as_ptr()) != 0 }
    }

    /// The object's type.
    pub fn type_ptr(self) -> *mut PyTypeObject {
        // SAFETY: live object, GIL held; reads its type pointer.
        unsafe { Py_TYPE(self.as_ptr()) }
    }
}

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

/// An owned (strong) reference, released on drop. Made only under the GIL
/// (by unsafe code or `Obj::to_owned`) and neither `Send` nor `Sync`, so any
/// code that can reach one runs on a thread holding the GIL.
pub struct Owned(NonNull<PyObject>);

impl Owned {
    /// Takes over a new reference; NULL means the call that returned it
    /// raised (`Failure::Raised`).
    ///
    /// # Safety
    /// A non-NULL `object` is a strong reference the caller hands over (what
    /// CPython's "new reference" functions return); the GIL is held.
    pub unsafe fn new(object: *mut PyObject) -> PyResult<Owned> {
        NonNull::new(object).map(Owned).ok_or(Failure::Raised)
    }

    /// A borrowed reference for as long as this one lives.
    pub fn get(&self) -> Obj<'_> {
        Obj {
            object: self.0,
            // SAFETY: see the type's comment: the GIL is held wherever an
            // Owned can be touched.
            gil: unsafe { Gil::assume() },
        }
    }

    pub fn as_ptr(&self) -> *mut PyObject {
        self.0.as_ptr()
    }

    /// Hands the reference over (to CPython, or a function that steals it).
    pub fn into_raw(self) -> *mut PyObject {
        let object = self.0.as_ptr();
        std::mem::forget(self);
        object
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: we own one reference; the GIL is held (see the type).
        unsafe { Py_DECREF(self.0.as_ptr()) };
    }
}

/// The type name of `object`, e.g. "str", "ndarray".
pub fn type_name(object: Obj<'_>) -> String {
    // SAFETY: live object, GIL held; PyType_GetName returns a new reference
    // or NULL with an exception (only MemoryError), which is left set: the
    // caller is building an exception of its own, which replaces it.
    let name = unsafe { Owned::new(PyType_GetName(object.type_ptr())) };
    name.ok()
        .and_then(|name| str_to_string(name.get()))
        .unwrap_or_else(|| "object".into())
}

/// A Python `str` as a Rust String; None for a non-str (no exception set)
/// or when UTF-8 encoding fails (exception set: a lone surrogate).
pub fn str_to_string(object: Obj<'_>) -> Option<String> {
    // SAFETY: live object, GIL held; the UTF-8 buffer belongs to the str and
    // stays valid while it lives, and is copied before returning.
    unsafe {
        if PyUnicode_Check(object.as_ptr()) == 0 {
            return None;
        }
        let mut size: Py_ssize_t = 0;
        let data = PyUnicode_AsUTF8AndSize(object.as_ptr(), &mut size);
        if data.is_null() {
            return None;
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// `getattr(object, attribute)`, or None where the lookup raised
/// AttributeError (cleared). Any other exception the lookup raised (a
/// KeyboardInterrupt inside `__getattr__`) propagates, as with `hasattr()`.
pub fn attribute(object: Obj<'_>, attribute: &CStr) -> PyResult<Option<Owned>> {
    // SAFETY: live object, GIL held; a new reference or NULL with an
    // exception set.
    let found = unsafe { PyObject_GetAttrString(object.as_ptr(), attribute.as_ptr()) };
    if !found.is_null() {
        // SAFETY: the new reference the lookup returned, now owned.
        return unsafe { Owned::new(found) }.map(Some);
    }
    // SAFETY: GIL held; the failed lookup left an exception set.
    unsafe {
        if PyErr_ExceptionMatches(PyExc_AttributeError) != 0 {
            PyErr_Clear();
            return Ok(None);
        }
    }
    Err(Failure::Raised)
}

/// `hasattr(object, attribute)`: only AttributeError means no.
pub fn has_attribute(object: Obj<'_>, name: &CStr) -> PyResult<bool> {
    Ok(attribute(object, name)?.is_some())
}

/// A path as a new Python str (undecodable bytes kept as surrogates, as
/// os.fsdecode does).
pub fn path_to_py(_: Gil<'_>, path: &Path) -> PyResult<Owned> {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: GIL held (the token); the pointer and length describe `bytes`,
    // which outlives the call; a new reference or NULL comes back.
    unsafe {
        Owned::new(PyUnicode_DecodeFSDefaultAndSize(
            bytes.as_ptr().cast(),
            bytes.len() as Py_ssize_t,
        ))
    }
}

/// `None`, as a new reference.
pub fn none(gil: Gil<'_>) -> Owned {
    // SAFETY: GIL held (the token); Py_None is always a live object.
    unsafe { Obj::borrowed(gil, Py_None()) }
        .expect("Py_None is never NULL")
        .to_owned()
}

/// New `bytes` holding a copy of `data`.
pub fn bytes_from(_: Gil<'_>, data: &[u8]) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); the pointer and length describe `data`,
    // which CPython copies; a new reference or NULL comes back.
    unsafe {
        Owned::new(PyBytes_FromStringAndSize(
            data.as_ptr().cast(),
            data.len() as Py_ssize_t,
        ))
    }
}

/// New `bytes` holding the file `png`, copied straight from its parts into
/// the object's buffer (`bytes_from` would need them gathered first: a
/// second copy of the whole file), on up to `threads` threads (native ones
/// that only copy bytes; the calling thread keeps the GIL and waits).
pub fn bytes_from_parts(
    _: Gil<'_>,
    png: &bufpng_core::PngParts,
    threads: usize,
) -> PyResult<Owned> {
    // SAFETY: GIL held (the token). With a NULL pointer CPython allocates
    // an uninitialized bytes object of that size (documented C-API usage,
    // part of the limited API) and returns a new reference or NULL.
    let bytes = unsafe {
        Owned::new(PyBytes_FromStringAndSize(
            std::ptr::null(),
            png.len() as Py_ssize_t,
        ))?
    };
    // SAFETY: `bytes` is a bytes object, so PyBytes_AsString returns its
    // buffer of `png.len()` bytes (plus CPython's trailing NUL), never NULL;
    // it is uninitialized, hence a slice of MaybeUninit, every byte written.
    // The object is new and referenced only here: no other code can see or
    // hash it before it is filled, which is when the C API allows writing
    // into a bytes object. The slice ends before `bytes` is returned (the
    // copy's threads are joined inside copy_to), and the threads touch only
    // these bytes, never the object.
    unsafe {
        let start = PyBytes_AsString(bytes.as_ptr());
        if start.is_null() {
            return Err(Failure::Raised);
        }
        png.copy_to(
            std::slice::from_raw_parts_mut(start.cast::<std::mem::MaybeUninit<u8>>(), png.len()),
            threads,
        );
    }
    Ok(bytes)
}

/// A C string literal for CPython tables.
pub const fn c(text: &'static CStr) -> *const c_char {
    text.as_ptr()
}
