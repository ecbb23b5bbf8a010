//! decode and read: PNG bytes and files to bufpng.Frame objects.

use crate::args::Signature;
use crate::buffer::BufferView;
use crate::convert::{self, optional_int, optional_str};
use crate::errors::{call_guarded, set_error, Failure, PyResult};
use crate::frame;
use crate::gil::without_gil;
use bufpng_core::error::value_error;
use bufpng_core::target::plan_target;
use bufpng_core::{decode_png, read_png, ChannelOrder, DecodeOptions, Frame, DEFAULT_MAX_BYTES};
use pyo3_ffi::*;

pub fn parse_options(order: *mut PyObject, max_bytes: *mut PyObject) -> PyResult<DecodeOptions> {
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
    params: &["data", "out", "order", "max_bytes"],
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
        let [data, out, order, max_bytes] = unsafe { DECODE.parse(args, nargs, kwnames)? };
        let options = parse_options(order, max_bytes)?;
        reject_path(data)?;
        // Copied under the GIL: a bytearray could change while we decode.
        let data = BufferView::acquire(data)?.copy_bytes()?;
        let target = Target::acquire(out)?;
        let image = without_gil(|| decode_png(&data, options))?;
        target.deliver(image, "the data")
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
    params: &["path", "out", "order", "max_bytes"],
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
        let [path, out, order, max_bytes] = unsafe { READ.parse(args, nargs, kwnames)? };
        let path = convert::path(path, "path")?;
        let options = parse_options(order, max_bytes)?;
        let target = Target::acquire(out)?;
        let image = without_gil(|| read_png(&path, options))?;
        target.deliver(image, &path.display().to_string())
    })
}

/// Where decode and read put the pixels: a new Frame, or the caller's `out`
/// buffer. `out` is requested before decoding, so a read-only buffer is
/// refused without decoding anything; the file decodes into scratch memory
/// first, so `out` is only written once the whole file has decoded.
enum Target {
    NewFrame,
    Out(*mut PyObject, BufferView),
}

impl Target {
    fn acquire(out: *mut PyObject) -> PyResult<Target> {
        if convert::is_absent(out) {
            return Ok(Target::NewFrame);
        }
        Ok(Target::Out(out, BufferView::acquire_writable(out)?))
    }

    /// The new Frame, or `out` (a new reference) with `image` written into
    /// it; `what` names the source in a shape mismatch.
    fn deliver(self, image: Frame, what: &str) -> PyResult<*mut PyObject> {
        match self {
            Target::NewFrame => frame::new_object(image),
            Target::Out(out, mut view) => {
                let plan = plan_target(&view.desc(), &image.layout, what)?;
                view.write_frame(&image, &plan, 0)?;
                // SAFETY: `out` is the caller's live argument; returned as a
                // new reference.
                unsafe { Py_INCREF(out) };
                Ok(out)
            }
        }
    }
}
