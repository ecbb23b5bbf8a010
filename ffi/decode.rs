//! decode and read: PNG bytes and files to bufpng.Frame objects.

use crate::args::{required, Signature};
use crate::buffer::BufferView;
use crate::convert::{self, optional_int, optional_str};
use crate::errors::call_guarded;
use crate::frame;
use crate::gil::without_gil;
use crate::module;
use crate::object::{Gil, Obj, PyResult};
use bufpng_core::error::{type_error, value_error};
use bufpng_core::{decode_png, read_png, ChannelOrder, DecodeOptions, DEFAULT_MAX_BYTES};
use pyo3_ffi::*;

pub fn parse_options(
    order: Option<Obj<'_>>,
    max_bytes: Option<Obj<'_>>,
) -> PyResult<DecodeOptions> {
    let order = match optional_str(order, "order")? {
        Some(name) => ChannelOrder::parse(&name)?,
        None => ChannelOrder::default(),
    };
    let max_bytes = match optional_int(max_bytes, "max_bytes")? {
        None => DEFAULT_MAX_BYTES,
        Some(n) => usize::try_from(n).map_err(|_| {
            value_error(format!("max_bytes must be a number of bytes >= 0, got {n}"))
        })?,
    };
    Ok(DecodeOptions { order, max_bytes })
}

static DECODE: Signature = Signature {
    function: "decode",
    params: &["data", "order", "max_bytes"],
    positional: 1,
    required: 1,
};

pub unsafe extern "C" fn decode(
    module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and module for this call.
        let ([data, order, max_bytes], frame_type) = unsafe {
            (
                DECODE.parse(gil, args, nargs, kwnames)?,
                module::frame_type(gil, module),
            )
        };
        let data = required(data);
        let options = parse_options(order, max_bytes)?;
        reject_path(data)?;
        // Copied under the GIL: a bytearray could change while we decode.
        let data = BufferView::acquire(data)?.copy_bytes()?;
        let image = without_gil(gil, || decode_png(&data, options))?;
        frame::new_object(frame_type, image)
    })
}

/// decode("photo.png") would try to decode the file name's characters.
fn reject_path(data: Obj<'_>) -> PyResult<()> {
    // SAFETY: live object, GIL held; a type check.
    if unsafe { PyUnicode_Check(data.as_ptr()) } != 0 {
        return Err(type_error(
            "decode takes the PNG file's contents (bytes or another buffer), got a str: to decode a file by name use bufpng.read(path)",
        )
        .into());
    }
    Ok(())
}

static READ: Signature = Signature {
    function: "read",
    params: &["path", "order", "max_bytes"],
    positional: 1,
    required: 1,
};

pub unsafe extern "C" fn read(
    module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and module for this call.
        let ([path, order, max_bytes], frame_type) = unsafe {
            (
                READ.parse(gil, args, nargs, kwnames)?,
                module::frame_type(gil, module),
            )
        };
        let path = convert::path(required(path), "path")?;
        let options = parse_options(order, max_bytes)?;
        let image = without_gil(gil, || read_png(&path, options))?;
        frame::new_object(frame_type, image)
    })
}
