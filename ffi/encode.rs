//! encode, write and write_frames: from Python buffers to PNG bytes and files.

use crate::args::Signature;
use crate::buffer::BufferView;
use crate::convert::{self, bytes_from, is_absent, optional_int, optional_str};
use crate::errors::{call_guarded, set_error, with_context, Failure, PyResult};
use crate::gil::without_gil;
use bufpng_core::pattern::FilePattern;
use bufpng_core::{encode_png, write_png, ChannelOrder, Compression, Frame, PixelFormat};
use pyo3_ffi::*;
use std::path::PathBuf;

/// The keyword options every encoding function shares.
#[derive(Clone, Copy)]
pub struct EncodeOptions {
    /// None: the image's own order (a bufpng.Frame's), else bgr.
    pub order: Option<ChannelOrder>,
    pub compression: Compression,
}

impl EncodeOptions {
    pub fn parse(order: *mut PyObject, compression: *mut PyObject) -> PyResult<EncodeOptions> {
        let order = match optional_str(order, "order")? {
            Some(name) => Some(ChannelOrder::parse(&name)?),
            None => None,
        };
        let compression = Compression::from_level(optional_int(compression, "compression")?)?;
        Ok(EncodeOptions { order, compression })
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

/// Only validates `image` (used to check a whole list before writing).
fn check_frame(image: *mut PyObject, size: Size) -> PyResult<()> {
    let view = BufferView::acquire(image)?;
    view.plan(size.width, size.height)?;
    Ok(())
}

static ENCODE: Signature = Signature {
    function: "encode",
    params: &["image", "width", "height", "order", "compression"],
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
        let [image, width, height, order, compression] =
            unsafe { ENCODE.parse(args, nargs, kwnames)? };
        let options = EncodeOptions::parse(order, compression)?;
        let frame = take_frame(image, Size::parse(width, height)?, options.order)?;
        let png = without_gil(|| encode_png(&frame, options.compression))?;
        bytes_from(&png)
    })
}

static WRITE: Signature = Signature {
    function: "write",
    params: &["path", "image", "width", "height", "order", "compression"],
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
        let [path, image, width, height, order, compression] =
            unsafe { WRITE.parse(args, nargs, kwnames)? };
        let path = convert::path(path, "path")?;
        let options = EncodeOptions::parse(order, compression)?;
        let frame = take_frame(image, Size::parse(width, height)?, options.order)?;
        without_gil(|| write_png(&path, &frame, options.compression))?;
        Ok(convert::none())
    })
}

static WRITE_FRAMES: Signature = Signature {
    function: "write_frames",
    params: &[
        "frames",
        "width",
        "height",
        "directory",
        "pattern",
        "start",
        "order",
        "compression",
    ],
    positional: 3,
    required: 1,
};

pub unsafe extern "C" fn write_frames(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [frames, width, height, directory, pattern, start, order, compression] =
            unsafe { WRITE_FRAMES.parse(args, nargs, kwnames)? };
        let size = Size::parse(width, height)?;
        let directory = if is_absent(directory) {
            PathBuf::from(".")
        } else {
            convert::path(directory, "directory")?
        };
        let pattern = FilePattern::parse(
            &optional_str(pattern, "pattern")?.unwrap_or_else(|| "frame_%05d.png".into()),
        )?;
        let start = optional_int(start, "start")?.unwrap_or(0);
        let options = EncodeOptions::parse(order, compression)?;
        let frames = FrameList::new(frames)?;
        for i in 0..frames.len() {
            check_frame(frames.get(i), size)
                .map_err(|f| with_context(f, || format!("frames[{i}]")))?;
        }
        let paths: Vec<PathBuf> = (0..frames.len())
            .map(|i| directory.join(pattern.format(start + i as i64)))
            .collect();
        if !paths.is_empty() {
            without_gil(|| {
                std::fs::create_dir_all(&directory).map_err(|source| bufpng_core::FileError {
                    path: directory.clone(),
                    source,
                })
            })
            .map_err(anyhow::Error::from)?;
        }
        for (i, path) in paths.iter().enumerate() {
            let context = || format!("frames[{i}]");
            let frame = take_frame(frames.get(i), size, options.order)
                .map_err(|f| with_context(f, context))?;
            without_gil(|| write_png(path, &frame, options.compression))
                .map_err(|e| Failure::from(e.context(context())))?;
        }
        path_list(&paths)
    })
}

/// A snapshot of the frames argument as a tuple, so other threads changing
/// the caller's list while the GIL is released cannot affect the batch.
struct FrameList {
    tuple: *mut PyObject,
}

impl FrameList {
    fn new(frames: *mut PyObject) -> PyResult<FrameList> {
        reject_single_frame(frames)?;
        // SAFETY: GIL held, `frames` live; PySequence_Tuple returns a new
        // reference (owned by FrameList and released in Drop) or NULL.
        let tuple = unsafe { PySequence_Tuple(frames) };
        if tuple.is_null() {
            return Err(Failure::Raised);
        }
        Ok(FrameList { tuple })
    }

    fn len(&self) -> usize {
        // SAFETY: `tuple` is a live tuple.
        unsafe { PyTuple_Size(self.tuple) as usize }
    }

    /// Borrowed reference to item `i` (< len), valid while `self` lives.
    fn get(&self, i: usize) -> *mut PyObject {
        // SAFETY: `tuple` is a live tuple and `i` is in range.
        unsafe { PyTuple_GetItem(self.tuple, i as Py_ssize_t) }
    }
}

impl Drop for FrameList {
    fn drop(&mut self) {
        // SAFETY: we own one reference to the tuple; GIL held (not Send).
        unsafe { Py_DECREF(self.tuple) };
    }
}

/// `write_frames(frame)` with one image would iterate over its rows and write
/// each row as a picture; say so instead. A 4-D array (a batch) is fine.
fn reject_single_frame(frames: *mut PyObject) -> PyResult<()> {
    // SAFETY: GIL held; PyObject_CheckBuffer only inspects the type.
    let exports_buffer = unsafe { PyObject_CheckBuffer(frames) } != 0;
    if !exports_buffer {
        return Ok(());
    }
    let view = BufferView::acquire(frames)?;
    if view.desc().shape.len() >= 4 {
        return Ok(());
    }
    // SAFETY: GIL held.
    unsafe {
        set_error(
            PyExc_TypeError,
            &format!(
                "write_frames takes a sequence of frames, but got one {}-dimensional {}: use write() for a single image, or wrap it in a list: [frame]",
                view.desc().shape.len(),
                convert::type_name(frames)
            ),
        )
    };
    Err(Failure::Raised)
}

/// A new Python list of str paths.
fn path_list(paths: &[PathBuf]) -> PyResult<*mut PyObject> {
    // SAFETY: GIL held; PyList_New returns a new reference; PyList_SetItem
    // steals each item's reference; on failure the list is released.
    unsafe {
        let list = PyList_New(paths.len() as Py_ssize_t);
        if list.is_null() {
            return Err(Failure::Raised);
        }
        for (i, path) in paths.iter().enumerate() {
            let item = convert::path_to_py(path);
            if item.is_null() {
                Py_DECREF(list);
                return Err(Failure::Raised);
            }
            PyList_SetItem(list, i as Py_ssize_t, item);
        }
        Ok(list)
    }
}
