//! encode and write: from Python buffers to PNG bytes and files.

use crate::args::Signature;
use crate::buffer::BufferView;
use crate::convert::{self, bytes_from, optional_int, optional_str};
use crate::errors::{call_guarded, PyResult};
use crate::gil::without_gil;
use bufpng_core::{encode_png, write_png, ChannelOrder, Compression, Frame, PixelFormat};
use pyo3_ffi::*;
use std::sync::OnceLock;

/// The keyword options every encoding function shares.
#[derive(Clone, Copy)]
pub struct EncodeOptions {
    /// None: the image's own order (a bufpng.Frame's), else bgr.
    pub order: Option<ChannelOrder>,
    pub compression: Compression,
    /// The threads the call may use (one frame's strips, or a batch's workers).
    pub threads: usize,
}

impl EncodeOptions {
    pub fn parse(
        order: *mut PyObject,
        compression: *mut PyObject,
        threads: *mut PyObject,
    ) -> PyResult<EncodeOptions> {
        let order = match optional_str(order, "order")? {
            Some(name) => Some(ChannelOrder::parse(&name)?),
            None => None,
        };
        Ok(EncodeOptions {
            order,
            ..EncodeOptions::without_order(compression, threads)?
        })
    }

    /// For a Frame's own methods, which encode in the Frame's order.
    pub fn without_order(
        compression: *mut PyObject,
        threads: *mut PyObject,
    ) -> PyResult<EncodeOptions> {
        Ok(EncodeOptions {
            order: None,
            compression: Compression::from_level(optional_int(compression, "compression")?)?,
            threads: parse_threads(threads)?,
        })
    }
}

/// More threads than this is a mistake, not a configuration.
const MAX_THREADS: i64 = 1024;

/// The CPU cores this process may use, asked once: on Linux the standard
/// library reads cgroup files for it, ~50 us that a 32x32 encode would pay
/// on every call.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `threads`: None = one per core, 1 = the calling thread only, N = up to N.
pub fn parse_threads(threads: *mut PyObject) -> PyResult<usize> {
    match optional_int(threads, "threads")? {
        None => Ok(cores()),
        Some(n @ 1..=MAX_THREADS) => Ok(n as usize),
        Some(n) => Err(bufpng_core::error::value_error(format!(
            "threads must be 1-{MAX_THREADS} (1 = only the calling thread) or None for one per CPU core, got {n}"
        ))
        .into()),
    }
}

/// A frame's size as the caller gave it (None = take it from the buffer).
#[derive(Clone, Copy)]
pub struct Size {
    pub width: Option<i64>,
    pub height: Option<i64>,
}

impl Size {
    pub fn parse(width: *mut PyObject, height: *mut PyObject) -> PyResult<Size> {
        Ok(Size {
            width: optional_int(width, "width")?,
            height: optional_int(height, "height")?,
        })
    }
}

/// Validates `image` and copies it, in PNG's sample layout, into an owned
/// frame; the buffer is released before this returns, on every path.
pub fn take_frame(
    image: *mut PyObject,
    size: Size,
    order: Option<ChannelOrder>,
) -> PyResult<Frame> {
    copy_image(image, size, order, |_| PixelFormat::PNG)
}

/// Validates `image` and copies it into an owned frame stored in
/// `target(order)`. `order` is the image's channel order; None means a
/// bufpng.Frame's own order, or bgr for anything else. A Frame goes through
/// its own buffer export like any other exporter.
pub fn copy_image(
    image: *mut PyObject,
    size: Size,
    order: Option<ChannelOrder>,
    target: impl Fn(ChannelOrder) -> PixelFormat,
) -> PyResult<Frame> {
    let order = order
        .or_else(|| crate::frame::order_of(image))
        .unwrap_or_default();
    let view = BufferView::acquire(image)?;
    let plan = view.plan(size.width, size.height)?;
    Ok(view.copy_frame(&plan, order, target(order))?)
}

static ENCODE: Signature = Signature {
    function: "encode",
    params: &[
        "image",
        "width",
        "height",
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
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [image, width, height, order, compression, threads] =
            unsafe { ENCODE.parse(args, nargs, kwnames)? };
        let options = EncodeOptions::parse(order, compression, threads)?;
        let frame = take_frame(image, Size::parse(width, height)?, options.order)?;
        let png = without_gil(|| encode_png(&frame, options.compression, options.threads))?;
        bytes_from(&png)
    })
}

static WRITE: Signature = Signature {
    function: "write",
    params: &[
        "path",
        "image",
        "width",
        "height",
        "order",
        "compression",
        "threads",
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
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [path, image, width, height, order, compression, threads] =
            unsafe { WRITE.parse(args, nargs, kwnames)? };
        let path = convert::path(path, "path")?;
        let options = EncodeOptions::parse(order, compression, threads)?;
        let frame = take_frame(image, Size::parse(width, height)?, options.order)?;
        without_gil(|| write_png(&path, &frame, options.compression, options.threads))?;
        Ok(convert::none())
    })
}
