//! encode and write: from Python buffers to PNG bytes and files.

use crate::args::{required, Signature};
use crate::convert;
use crate::errors::call_guarded;
use crate::frame::order_of;
use crate::gil::without_gil;
use crate::image::{copy_image, parse_durable, parse_geometry, EncodeOptions};
use crate::object::{bytes_from, none, Gil, Obj, PyResult};
use bufpng_core::encode::check_png_name;
use bufpng_core::{encode_png, write_png, ChannelOrder, Frame, Geometry, PixelFormat};
use pyo3_ffi::*;

/// Validates `image` and copies it, in PNG's sample layout, into an owned
/// frame; the buffer is released before this returns, on every path.
/// `order` None means a bufpng.Frame's own order, or bgr for anything else.
pub fn take_frame(image: Obj<'_>, size: &Geometry, order: Option<ChannelOrder>) -> PyResult<Frame> {
    let order = order.or_else(|| order_of(image)).unwrap_or_default();
    copy_image(image, size, order, |_| PixelFormat::PNG)
}

static ENCODE: Signature = Signature {
    function: "encode",
    params: &[
        "image",
        "width",
        "height",
        "channels",
        "stride",
        "order",
        "compression",
        "threads",
    ],
    positional: 3,
    required: 1,
};

pub unsafe extern "C" fn encode(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments for this call.
        let [image, width, height, channels, stride, order, compression, threads] =
            unsafe { ENCODE.parse(gil, args, nargs, kwnames)? };
        let options = EncodeOptions::parse(order, compression, threads)?;
        let geometry = parse_geometry(width, height, channels, stride)?;
        let frame = take_frame(required(image), &geometry, options.order)?;
        let png = without_gil(gil, || {
            encode_png(&frame, options.compression, options.threads)
        })?;
        bytes_from(gil, &png)
    })
}

static WRITE: Signature = Signature {
    function: "write",
    params: &[
        "path",
        "image",
        "width",
        "height",
        "channels",
        "stride",
        "order",
        "compression",
        "threads",
        "durable",
    ],
    positional: 4,
    required: 2,
};

pub unsafe extern "C" fn write(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments for this call.
        let [path, image, width, height, channels, stride, order, compression, threads, durable] =
            unsafe { WRITE.parse(gil, args, nargs, kwnames)? };
        let path = convert::path(required(path), "path")?;
        check_png_name(&path)?;
        let options = EncodeOptions::parse(order, compression, threads)?;
        let durable = parse_durable(durable)?;
        let geometry = parse_geometry(width, height, channels, stride)?;
        let frame = take_frame(required(image), &geometry, options.order)?;
        without_gil(gil, || {
            write_png(&path, &frame, options.compression, options.threads, durable)
        })?;
        Ok(none(gil))
    })
}
