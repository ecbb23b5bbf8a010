//! encode and write: from Python buffers to PNG bytes and files.

use crate::args::{required, Signature};
use crate::errors::call_guarded;
use crate::file::Destination;
use crate::frame::order_of;
use crate::image::{copy_image, parse_durable, parse_geometry, EncodeOptions};
use crate::metadata::with_metadata;
use crate::object::{none, Gil, Obj, PyResult};
use bufpng_core::encode::check_png_name;
use bufpng_core::{ChannelOrder, Frame, Geometry, PixelFormat};
use pyo3_ffi::*;

/// Validates `image` and copies it, in PNG's sample layout, into an owned
/// frame on up to `threads` threads; the buffer is released before this
/// returns, on every path. `order` None means a bufpng.Frame's own order,
/// or bgr for anything else.
pub fn take_frame(
    image: Obj<'_>,
    size: &Geometry,
    order: Option<ChannelOrder>,
    threads: usize,
) -> PyResult<Frame> {
    let order = order.or_else(|| order_of(image)).unwrap_or_default();
    copy_image(image, size, order, |_| PixelFormat::PNG, threads)
}

static ENCODE: Signature = Signature {
    function: "encode",
    params: with_metadata![
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
        let [image, width, height, channels, stride, order, compression, threads, metadata @ ..] =
            unsafe { ENCODE.parse::<17>(gil, args, nargs, kwnames)? };
        let options = EncodeOptions::parse(order, compression, threads, &metadata)?;
        let geometry = parse_geometry(width, height, channels, stride)?;
        let frame = take_frame(required(image), &geometry, options.order, options.threads)?;
        options.encode(gil, &frame)
    })
}

static WRITE: Signature = Signature {
    function: "write",
    params: with_metadata![
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
        let [path, image, width, height, channels, stride, order, compression, threads, durable, metadata @ ..] =
            unsafe { WRITE.parse::<19>(gil, args, nargs, kwnames)? };
        let destination = Destination::parse(required(path), "path")?;
        if let Destination::Path(path) = &destination {
            check_png_name(path)?;
        }
        let options = EncodeOptions::parse(order, compression, threads, &metadata)?;
        let durable = parse_durable(durable)?;
        let geometry = parse_geometry(width, height, channels, stride)?;
        let frame = take_frame(required(image), &geometry, options.order, options.threads)?;
        options.write(gil, destination, &frame, durable)?;
        Ok(none(gil))
    })
}
