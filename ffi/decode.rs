//! decode and read: PNG bytes and files to bufpng.Frame objects.

use crate::args::Signature;
use crate::buffer::BufferView;
use crate::convert::{self, is_absent, optional_int, optional_str};
use crate::errors::{call_guarded, set_error, Failure, PyResult};
use crate::file;
use crate::frame;
use crate::gil::without_gil;
use bufpng_core::error::{type_error, value_error};
use bufpng_core::{
    decode_with_metadata, read_with_metadata, ChannelOrder, DecodeOptions, DEFAULT_MAX_BYTES,
};
use pyo3_ffi::*;

pub fn parse_options(
    order: *mut PyObject,
    max_bytes: *mut PyObject,
    strict: *mut PyObject,
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
    Ok(DecodeOptions {
        order,
        max_bytes,
        strict: flag(strict, "strict")?,
    })
}

/// An optional bool argument (absent = False); only True or False, so a
/// misplaced positional argument is not taken as a flag.
fn flag(object: *mut PyObject, name: &str) -> PyResult<bool> {
    if is_absent(object) {
        return Ok(false);
    }
    // SAFETY: GIL held, `object` live; identity checks only.
    match unsafe { (Py_IsTrue(object) != 0, Py_IsFalse(object) != 0) } {
        (true, _) => Ok(true),
        (_, true) => Ok(false),
        _ => Err(type_error(format!(
            "{name} must be True or False, got {}",
            convert::type_name(object)
        ))
        .into()),
    }
}

static DECODE: Signature = Signature {
    function: "decode",
    params: &["data", "order", "max_bytes", "strict"],
    positional: 1,
    required: 1,
};

pub unsafe extern "C" fn decode(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [data, order, max_bytes, strict] = unsafe { DECODE.parse(args, nargs, kwnames)? };
        let options = parse_options(order, max_bytes, strict)?;
        reject_path(data)?;
        let data = if file::is_readable(data) {
            file::read_all(data)?
        } else {
            // Copied under the GIL: a bytearray could change while we decode.
            BufferView::acquire(data)?.copy_bytes()?
        };
        let (image, metadata) = without_gil(|| decode_with_metadata(&data, options))?;
        frame::new_object_with(image, metadata)
    })
}

/// decode("photo.png") would try to decode the file name's characters.
fn reject_path(data: *mut PyObject) -> PyResult<()> {
    // SAFETY: GIL held, `data` live; type checks only.
    unsafe {
        if PyUnicode_Check(data) != 0 {
            set_error(
                PyExc_TypeError,
                "decode takes the PNG file's contents (bytes or another buffer), got a str: to decode a file by name use bufpng.read(path)",
            );
            return Err(Failure::Raised);
        }
    }
    Ok(())
}

static READ: Signature = Signature {
    function: "read",
    params: &["path", "order", "max_bytes", "strict"],
    positional: 1,
    required: 1,
};

pub unsafe extern "C" fn read(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [source, order, max_bytes, strict] = unsafe { READ.parse(args, nargs, kwnames)? };
        let options = parse_options(order, max_bytes, strict)?;
        let (image, metadata) = if file::is_readable(source) {
            let data = file::read_all(source)?;
            without_gil(|| decode_with_metadata(&data, options))?
        } else {
            let path = convert::path(source, "path")?;
            without_gil(|| read_with_metadata(&path, options))?
        };
        frame::new_object_with(image, metadata)
    })
}
