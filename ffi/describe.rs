//! describe(): what a buffer exporter hands over for one request.
//!
//! The teaching tool: it makes the `Py_buffer` that `PyObject_GetBuffer`
//! fills in visible as a dict, so one can see that a PyBUF_SIMPLE request
//! gets bytes without shape or format, or that an exporter refuses it.

use crate::args::{required, Signature};
use crate::buffer::HeldBuffer;
use crate::convert::{given, int};
use crate::errors::call_guarded;
use crate::object::{c, none, str_to_string, type_name, Failure, Gil, Obj, Owned, PyResult};
use bufpng_core::error::{type_error, value_error};
use pyo3_ffi::*;
use std::ffi::{c_char, c_int, CStr};

/// The request names: CPython's PyBUF_* flags, lower case without the prefix.
const REQUESTS: [(&str, c_int); 17] = [
    ("simple", PyBUF_SIMPLE),
    ("writable", PyBUF_WRITABLE),
    ("format", PyBUF_FORMAT),
    ("nd", PyBUF_ND),
    ("strides", PyBUF_STRIDES),
    ("c_contiguous", PyBUF_C_CONTIGUOUS),
    ("f_contiguous", PyBUF_F_CONTIGUOUS),
    ("any_contiguous", PyBUF_ANY_CONTIGUOUS),
    ("indirect", PyBUF_INDIRECT),
    ("contig", PyBUF_CONTIG),
    ("contig_ro", PyBUF_CONTIG_RO),
    ("strided", PyBUF_STRIDED),
    ("strided_ro", PyBUF_STRIDED_RO),
    ("records", PyBUF_RECORDS),
    ("records_ro", PyBUF_RECORDS_RO),
    ("full", PyBUF_FULL),
    ("full_ro", PyBUF_FULL_RO),
];

/// The flags for `request`: a name from REQUESTS or an int of OR-ed flags.
fn request_flags(request: Option<Obj<'_>>) -> PyResult<c_int> {
    let Some(request) = given(request) else {
        return Ok(PyBUF_RECORDS_RO);
    };
    if let Some(name) = str_to_string(request) {
        return match REQUESTS.iter().find(|(n, _)| *n == name) {
            Some(&(_, flags)) => Ok(flags),
            None => {
                let names: Vec<&str> = REQUESTS.iter().map(|(n, _)| *n).collect();
                Err(value_error(format!(
                    "unknown request {name:?}: use one of {} (CPython's PyBUF_* names) or an int of PyBUF_* flags",
                    names.join(", ")
                ))
                .into())
            }
        };
    }
    // SAFETY: live object, GIL held; a type check only.
    if unsafe { PyLong_Check(request.as_ptr()) } == 0 {
        return Err(type_error(format!(
            "request must be a str such as \"simple\" or an int of PyBUF_* flags, got {}",
            type_name(request)
        ))
        .into());
    }
    let flags = int(request, "request")?;
    c_int::try_from(flags)
        .ok()
        .filter(|f| *f >= 0)
        .ok_or_else(|| value_error(format!("request flags {flags} are out of range")).into())
}

static DESCRIBE: Signature = Signature {
    function: "describe",
    params: &["obj", "request"],
    positional: 2,
    required: 1,
};

pub unsafe extern "C" fn describe(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments for this call.
        let [object, request] = unsafe { DESCRIBE.parse(gil, args, nargs, kwnames)? };
        let object = required(object);
        let flags = request_flags(request)?;
        // On failure the exporter's own exception is left as it is: that is the lesson.
        let view = HeldBuffer::request(object, flags)?;
        // SAFETY: the view is held until `view` drops, after the dict has
        // copied what it needs.
        unsafe { view_dict(gil, &view) }
    })
}

/// The view's fields as a new dict.
///
/// # Safety
/// `view` must be a view filled by PyObject_GetBuffer and not yet released.
unsafe fn view_dict(gil: Gil<'_>, view: &Py_buffer) -> PyResult<Owned> {
    let ndim = usize::try_from(view.ndim).unwrap_or(0);
    // SAFETY: GIL held (the token); each call returns a new reference or NULL.
    let format = || unsafe {
        if view.format.is_null() {
            Ok(none(gil))
        } else {
            Owned::new(PyUnicode_FromString(view.format))
        }
    };
    // SAFETY: as above; PyBuffer_IsContiguous only reads the view's fields.
    let contiguous = |order: u8| unsafe {
        Owned::new(PyBool_FromLong(
            (PyBuffer_IsContiguous(view, order as c_char) != 0).into(),
        ))
    };
    // SAFETY: as above.
    let ssize = |value: Py_ssize_t| unsafe { Owned::new(PyLong_FromSsize_t(value)) };
    // SAFETY: the caller's guarantee: non-NULL shape, strides and suboffsets
    // hold `ndim` values each while the view is held.
    let arrays = unsafe {
        [
            ssize_tuple(gil, view.shape, ndim)?,
            ssize_tuple(gil, view.strides, ndim)?,
            ssize_tuple(gil, view.suboffsets, ndim)?,
        ]
    };
    // SAFETY: GIL held; PyDict_New returns a new reference or NULL.
    let dict = unsafe { Owned::new(PyDict_New())? };
    let [shape, strides, suboffsets] = arrays;
    set(&dict, c"len", ssize(view.len)?)?;
    set(&dict, c"itemsize", ssize(view.itemsize)?)?;
    set(&dict, c"format", format()?)?;
    set(&dict, c"ndim", ssize(view.ndim as Py_ssize_t)?)?;
    set(&dict, c"shape", shape)?;
    set(&dict, c"strides", strides)?;
    set(&dict, c"suboffsets", suboffsets)?;
    // SAFETY: as for `format`.
    set(&dict, c"readonly", unsafe {
        Owned::new(PyBool_FromLong(view.readonly.into()))?
    })?;
    set(&dict, c"c_contiguous", contiguous(b'C')?)?;
    set(&dict, c"f_contiguous", contiguous(b'F')?)?;
    Ok(dict)
}

/// dict[key] = value.
fn set(dict: &Owned, key: &'static CStr, value: Owned) -> PyResult<()> {
    // SAFETY: GIL held (Owned); `dict` is the dict view_dict made; the dict
    // takes its own reference to `value`, ours is dropped after.
    if unsafe { PyDict_SetItemString(dict.as_ptr(), c(key), value.as_ptr()) } < 0 {
        return Err(Failure::Raised);
    }
    Ok(())
}

/// A tuple of `n` Py_ssize_t values, or None for a NULL array.
///
/// # Safety
/// A non-NULL `values` points to `n` readable values.
unsafe fn ssize_tuple(gil: Gil<'_>, values: *const Py_ssize_t, n: usize) -> PyResult<Owned> {
    if values.is_null() {
        return Ok(none(gil));
    }
    // SAFETY: GIL held (the token); new references are owned by `Owned` or
    // stolen by PyTuple_SetItem; `values` as the caller guarantees.
    unsafe {
        let tuple = Owned::new(PyTuple_New(n as Py_ssize_t))?;
        for i in 0..n {
            let item = Owned::new(PyLong_FromSsize_t(*values.add(i)))?;
            PyTuple_SetItem(tuple.as_ptr(), i as Py_ssize_t, item.into_raw());
        }
        Ok(tuple)
    }
}
