//! describe(): what a buffer exporter hands over for one request.
//!
//! The teaching tool: it makes the `Py_buffer` that `PyObject_GetBuffer`
//! fills in visible as a dict, so one can see that a PyBUF_SIMPLE request
//! gets bytes without shape or format, or that an exporter refuses it.

use crate::args::Signature;
use crate::buffer::HeldBuffer;
use crate::convert::{c, int, is_absent, none, str_to_string, type_name};
use crate::errors::{call_guarded, set_error, Failure, PyResult};
use pyo3_ffi::*;
use std::ffi::{c_char, c_int, CStr};
use std::ptr;

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
fn request_flags(request: *mut PyObject) -> PyResult<c_int> {
    if is_absent(request) {
        return Ok(PyBUF_RECORDS_RO);
    }
    if let Some(name) = str_to_string(request) {
        return match REQUESTS.iter().find(|(n, _)| *n == name) {
            Some(&(_, flags)) => Ok(flags),
            None => {
                let names: Vec<&str> = REQUESTS.iter().map(|(n, _)| *n).collect();
                fail(
                    // SAFETY: exception type objects are static.
                    unsafe { PyExc_ValueError },
                    &format!(
                        "unknown request {name:?}: use one of {} (CPython's PyBUF_* names) or an int of PyBUF_* flags",
                        names.join(", ")
                    ),
                )
            }
        };
    }
    // SAFETY: GIL held; a type check only.
    if unsafe { PyLong_Check(request) } == 0 {
        // SAFETY: exception type objects are static.
        return fail(
            unsafe { PyExc_TypeError },
            &format!(
                "request must be a str such as \"simple\" or an int of PyBUF_* flags, got {}",
                type_name(request)
            ),
        );
    }
    let flags = int(request, "request")?;
    c_int::try_from(flags).ok().filter(|f| *f >= 0).map_or_else(
        // SAFETY: exception type objects are static.
        || {
            fail(
                unsafe { PyExc_ValueError },
                &format!("request flags {flags} are out of range"),
            )
        },
        Ok,
    )
}

fn fail<T>(exception: *mut PyObject, message: &str) -> PyResult<T> {
    // SAFETY: GIL held by every caller.
    unsafe { set_error(exception, message) };
    Err(Failure::Raised)
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
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [object, request] = unsafe { DESCRIBE.parse(args, nargs, kwnames)? };
        let flags = request_flags(request)?;
        // On failure the exporter's own exception is left as it is: that is the lesson.
        let view = HeldBuffer::request(object, flags)?;
        // SAFETY: the view is held until `view` drops, after the dict has
        // copied what it needs; GIL held.
        unsafe { view_dict(&view) }
    })
}

/// The view's fields as a new dict.
///
/// # Safety
/// `view` must be a view filled by PyObject_GetBuffer and not yet released;
/// GIL held.
unsafe fn view_dict(view: &Py_buffer) -> PyResult<*mut PyObject> {
    let ndim = usize::try_from(view.ndim).unwrap_or(0);
    let format = || {
        if view.format.is_null() {
            none()
        } else {
            PyUnicode_FromString(view.format)
        }
    };
    let contiguous =
        |order: u8| PyBool_FromLong((PyBuffer_IsContiguous(view, order as c_char) != 0).into());
    let dict = PyDict_New();
    // `&&` stops at the first failure, so no call runs with an exception set.
    let ok = !dict.is_null()
        && set(dict, c"len", PyLong_FromSsize_t(view.len))
        && set(dict, c"itemsize", PyLong_FromSsize_t(view.itemsize))
        && set(dict, c"format", format())
        && set(dict, c"ndim", PyLong_FromLong(view.ndim.into()))
        && set(dict, c"shape", ssize_tuple(view.shape, ndim))
        && set(dict, c"strides", ssize_tuple(view.strides, ndim))
        && set(dict, c"suboffsets", ssize_tuple(view.suboffsets, ndim))
        && set(dict, c"readonly", PyBool_FromLong(view.readonly.into()))
        && set(dict, c"c_contiguous", contiguous(b'C'))
        && set(dict, c"f_contiguous", contiguous(b'F'));
    if ok {
        Ok(dict)
    } else {
        Py_XDECREF(dict);
        Err(Failure::Raised)
    }
}

/// dict[key] = value, consuming the new reference `value` (NULL: failed).
///
/// # Safety
/// GIL held; `dict` is a live dict.
unsafe fn set(dict: *mut PyObject, key: &'static CStr, value: *mut PyObject) -> bool {
    if value.is_null() {
        return false;
    }
    let status = PyDict_SetItemString(dict, c(key), value);
    Py_DECREF(value);
    status == 0
}

/// A tuple of `n` Py_ssize_t values, or None for a NULL array. New reference.
///
/// # Safety
/// A non-NULL `values` points to `n` readable values; GIL held.
unsafe fn ssize_tuple(values: *const Py_ssize_t, n: usize) -> *mut PyObject {
    if values.is_null() {
        return none();
    }
    let tuple = PyTuple_New(n as Py_ssize_t);
    if tuple.is_null() {
        return tuple;
    }
    for i in 0..n {
        let item = PyLong_FromSsize_t(*values.add(i));
        if item.is_null() {
            Py_DECREF(tuple);
            return ptr::null_mut();
        }
        PyTuple_SetItem(tuple, i as Py_ssize_t, item);
    }
    tuple
}
