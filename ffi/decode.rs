//! decode and read: PNG bytes and files to bufpng.Frame objects.

use crate::args::{required, Signature};
use crate::buffer::BufferView;
use crate::convert::{self, given, optional_int, optional_str};
use crate::errors::call_guarded;
use crate::file;
use crate::frame::{self, FrameType};
use crate::gil::without_gil;
use crate::image::parse_threads;
use crate::module;
use crate::object::{has_attribute, Gil, Obj, Owned, PyResult};
use bufpng_core::error::{type_error, value_error};
use bufpng_core::target::plan_target;
use bufpng_core::{
    decode_with_metadata, read_with_metadata, ChannelOrder, DecodeOptions, Frame, Metadata,
    DEFAULT_MAX_BYTES,
};
use pyo3_ffi::*;

pub fn parse_options(
    order: Option<Obj<'_>>,
    max_bytes: Option<Obj<'_>>,
    strict: Option<Obj<'_>>,
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
        strict: convert::optional_bool(strict, "strict")?.unwrap_or(false),
        ..DecodeOptions::default()
    })
}

static DECODE: Signature = Signature {
    function: "decode",
    params: &["data", "out", "order", "max_bytes", "strict", "threads"],
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
        let ([data, out, order, max_bytes, strict, threads], frame_type) = unsafe {
            (
                DECODE.parse(gil, args, nargs, kwnames)?,
                module::frame_type(gil, module),
            )
        };
        let data = required(data);
        let options = DecodeOptions {
            threads: parse_threads(threads)?,
            ..parse_options(order, max_bytes, strict)?
        };
        reject_path(data)?;
        let copy;
        let data = match immutable_bytes(data) {
            Some(bytes) => bytes,
            None if file::is_readable(data)? => {
                copy = file::read_all(data)?;
                &copy[..]
            }
            None => {
                // Copied under the GIL: a bytearray could change while we decode.
                copy = BufferView::acquire(data)?.copy_bytes()?;
                &copy[..]
            }
        };
        let target = Target::acquire(out, frame_type)?;
        let (image, metadata) = without_gil(gil, || decode_with_metadata(data, options))?;
        target.deliver(image, metadata, "the data")
    })
}

/// The contents of an exact `bytes` object, borrowed: bytes cannot change,
/// and the caller's reference keeps them alive for the whole call, so
/// decode reads them in place with the GIL released instead of copying
/// them first (a 6 MB copy, and as many fresh pages, for a 1080p stored
/// file). Subclasses and other buffers are copied (`copy_bytes`).
fn immutable_bytes(data: Obj<'_>) -> Option<&[u8]> {
    let object = data.as_ptr();
    // SAFETY: live object, GIL held; an exact type check, then the bytes'
    // own storage, which lives and stays unchanged while `data` is
    // referenced (for the call: the lifetime of the borrow).
    unsafe {
        if PyBytes_CheckExact(object) == 0 {
            return None;
        }
        Some(std::slice::from_raw_parts(
            PyBytes_AsString(object).cast::<u8>().cast_const(),
            PyBytes_Size(object) as usize,
        ))
    }
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

/// read(png_bytes) would take the file's contents for a file name ("path
/// contains a null byte"); bytes are a path only when they look like one.
fn reject_contents(path: Obj<'_>) -> PyResult<()> {
    if has_attribute(path, c"__fspath__")? {
        return Ok(());
    }
    let object = path.as_ptr();
    // SAFETY: live object, GIL held; type checks, and the bytes' own buffer
    // read while the object lives.
    let looks_like_contents = unsafe {
        if PyUnicode_Check(object) != 0 || PyObject_CheckBuffer(object) == 0 {
            return Ok(());
        }
        PyBytes_Check(object) == 0 || {
            let data = std::slice::from_raw_parts(
                PyBytes_AsString(object).cast::<u8>(),
                PyBytes_Size(object) as usize,
            );
            data.starts_with(b"\x89PNG") || data.contains(&0)
        }
    };
    if looks_like_contents {
        return Err(type_error(format!(
            "read takes a file path, got {} that hold file contents: to decode PNG data in memory use bufpng.decode(data)",
            crate::object::type_name(path)
        ))
        .into());
    }
    Ok(())
}

static READ: Signature = Signature {
    function: "read",
    params: &["path", "out", "order", "max_bytes", "strict", "threads"],
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
        let ([source, out, order, max_bytes, strict, threads], frame_type) = unsafe {
            (
                READ.parse(gil, args, nargs, kwnames)?,
                module::frame_type(gil, module),
            )
        };
        let source = required(source);
        let options = DecodeOptions {
            threads: parse_threads(threads)?,
            ..parse_options(order, max_bytes, strict)?
        };
        let target = Target::acquire(out, frame_type)?;
        let (what, (image, metadata)) = if file::is_readable(source)? {
            let data = file::read_all(source)?;
            let decoded = without_gil(gil, || decode_with_metadata(&data, options))?;
            ("the file".to_string(), decoded)
        } else {
            reject_contents(source)?;
            let path = convert::path(source, "path")?;
            let decoded = without_gil(gil, || read_with_metadata(&path, options))?;
            (path.display().to_string(), decoded)
        };
        target.deliver(image, metadata, &what)
    })
}

/// Where decode and read put the pixels: a new Frame, or the caller's `out`
/// buffer. `out` is requested before decoding, so a read-only buffer is
/// refused without decoding anything; the file decodes into scratch memory
/// first, so `out` is only written once the whole file has decoded.
enum Target<'py> {
    NewFrame(FrameType<'py>),
    Out(Obj<'py>, BufferView<'py>),
}

impl<'py> Target<'py> {
    fn acquire(out: Option<Obj<'py>>, frame_type: FrameType<'py>) -> PyResult<Target<'py>> {
        Ok(match given(out) {
            None => Target::NewFrame(frame_type),
            Some(out) => Target::Out(out, BufferView::acquire_writable(out)?),
        })
    }

    /// The new Frame (with the file's `metadata` as its info), or `out`
    /// with `image` written into it (a buffer has no info); `what` names the
    /// source in a shape mismatch.
    fn deliver(self, image: Frame, metadata: Metadata, what: &str) -> PyResult<Owned> {
        match self {
            Target::NewFrame(frame_type) => frame::new_object_with(frame_type, image, metadata),
            Target::Out(out, mut view) => {
                let plan = plan_target(&view.desc(), &image.layout, what)?;
                view.write_frame(&image, &plan, 0)?;
                Ok(out.to_owned())
            }
        }
    }
}
