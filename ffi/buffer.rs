//! The `Py_buffer` owner: the heart of the original question's fix.
//!
//! `HeldBuffer::request` is bufpng's one call of `PyObject_GetBuffer` and its
//! `Drop` the one call of `PyBuffer_Release`, so the exporter's buffer is
//! released on every path: success, early return, error and panic.
//! `BufferView` (an image source) and `describe` both hold one. Neither is
//! `Send` (they hold raw pointers and a GIL token), so the compiler keeps them
//! out of code that runs without the GIL, and slices of the exporter's memory
//! borrow the view, so none outlives the release.

use crate::convert::replace_type_error;
use crate::object::{type_name, Failure, Gil, Obj, PyResult};
use bufpng_core::error::buffer_error;
use bufpng_core::{plan_source, BufferDesc, ChannelOrder, Frame, PixelFormat, SourcePlan};
use pyo3_ffi::*;
use std::ffi::{c_int, CStr};
use std::ops::Deref;

/// A `Py_buffer` filled by a successful `PyObject_GetBuffer`, released on drop.
pub struct HeldBuffer<'py> {
    // Boxed so the struct the exporter filled in never moves while held: an
    // exporter may point `shape`/`strides` into the struct itself
    // (PyBuffer_FillInfo does, for bytes and bytearray).
    view: Box<Py_buffer>,
    gil: Gil<'py>,
}

impl<'py> HeldBuffer<'py> {
    /// `PyObject_GetBuffer(object, view, flags)`. On failure the exporter's
    /// exception is set and nothing is held.
    pub fn request(object: Obj<'py>, flags: c_int) -> PyResult<HeldBuffer<'py>> {
        let mut view: Box<Py_buffer> = Box::new(Py_buffer::new());
        // SAFETY: `object` is live, the GIL held (the Obj's guarantees), and
        // `view` points to writable storage for one Py_buffer. On failure
        // nothing is held.
        if unsafe { PyObject_GetBuffer(object.as_ptr(), &mut *view, flags) } != 0 {
            return Err(Failure::Raised);
        }
        Ok(HeldBuffer {
            view,
            gil: object.gil(),
        })
    }
}

impl Deref for HeldBuffer<'_> {
    type Target = Py_buffer;
    fn deref(&self) -> &Py_buffer {
        &self.view
    }
}

impl Drop for HeldBuffer<'_> {
    fn drop(&mut self) {
        let _gil_held: Gil<'_> = self.gil;
        // SAFETY: the view was filled by a successful PyObject_GetBuffer and is
        // released exactly once, here, with the GIL held (the token above).
        unsafe { PyBuffer_Release(&mut *self.view) };
    }
}

pub struct BufferView<'py> {
    view: HeldBuffer<'py>,
    shape: Vec<isize>,
    strides: Vec<isize>,
    format: String,
}

impl<'py> BufferView<'py> {
    /// Requests `object`'s buffer with full information (shape, strides,
    /// format, suboffsets) and read-only access.
    pub fn acquire(object: Obj<'py>) -> PyResult<BufferView<'py>> {
        let view =
            HeldBuffer::request(object, PyBUF_FULL_RO).map_err(|_| explain_not_a_buffer(object))?;
        // From here on `owner` releases the buffer whatever happens below.
        let mut owner = BufferView {
            view,
            shape: Vec::new(),
            strides: Vec::new(),
            format: String::new(),
        };
        owner.read_description()?;
        Ok(owner)
    }

    /// Copies shape, strides and format out of the Py_buffer into owned
    /// vectors, filling in what the exporter may leave NULL.
    fn read_description(&mut self) -> PyResult<()> {
        let v = &*self.view;
        let ndim = usize::try_from(v.ndim).unwrap_or(0);
        let itemsize = v.itemsize.max(1);
        // SAFETY: per the buffer protocol, non-NULL shape/strides/suboffsets
        // point to `ndim` Py_ssize_t values and format to a NUL-terminated
        // string, all valid until PyBuffer_Release.
        unsafe {
            self.format = if v.format.is_null() {
                "B".into()
            } else {
                CStr::from_ptr(v.format).to_string_lossy().into_owned()
            };
            self.shape = if v.shape.is_null() {
                // NULL shape: a scalar (ndim 0) or, from an exporter that
                // ignored our request for shape, one flat run of items.
                if ndim == 0 {
                    Vec::new()
                } else {
                    vec![v.len / itemsize]
                }
            } else {
                std::slice::from_raw_parts(v.shape, ndim).to_vec()
            };
            self.strides = if v.strides.is_null() {
                c_contiguous_strides(&self.shape, itemsize)
            } else {
                std::slice::from_raw_parts(v.strides, ndim).to_vec()
            };
            if !v.suboffsets.is_null()
                && std::slice::from_raw_parts(v.suboffsets, ndim)
                    .iter()
                    .any(|&s| s >= 0)
            {
                return Err(buffer_error(
                    "the buffer uses suboffsets (a PIL-style array of pointers), which bufpng does not follow: copy it into one block first, e.g. np.ascontiguousarray(x) or bytes(memoryview(x))",
                )
                .into());
            }
        }
        let elements = self.shape.iter().try_fold(1isize, |n, &d| n.checked_mul(d));
        if elements.and_then(|n| n.checked_mul(itemsize)) != Some(v.len) {
            return Err(buffer_error(format!(
                "the buffer's exporter is inconsistent: len {} is not shape {:?} times itemsize {itemsize}",
                v.len, self.shape
            ))
            .into());
        }
        Ok(())
    }

    pub fn desc(&self) -> BufferDesc<'_> {
        BufferDesc {
            itemsize: self.view.itemsize.max(0) as usize,
            format: &self.format,
            shape: &self.shape,
            strides: &self.strides,
        }
    }

    /// Checks the buffer against the image rules and the caller's width/height.
    pub fn plan(&self, width: Option<i64>, height: Option<i64>) -> anyhow::Result<SourcePlan> {
        plan_source(&self.desc(), width, height)
    }

    /// A copy of the buffer's bytes, for data that is a byte stream rather
    /// than pixels (a PNG file held in memory). Copied under the GIL, so the
    /// caller may work on it with the GIL released.
    pub fn copy_bytes(&self) -> PyResult<Vec<u8>> {
        // SAFETY: the view is held; PyBuffer_IsContiguous only reads its fields.
        if unsafe { PyBuffer_IsContiguous(&*self.view, b'C' as std::ffi::c_char) } == 0 {
            return Err(buffer_error(
                "the buffer is not contiguous: pass bytes(data) or np.ascontiguousarray(data)",
            )
            .into());
        }
        // A C-contiguous buffer's `len` bytes start at `buf`.
        Ok(self.memory(0, self.view.len.max(0) as usize).to_vec())
    }

    /// The `len` bytes of exporter memory starting `before` bytes ahead of
    /// `buf`, borrowed from the view: they cannot outlive the release.
    fn memory(&self, before: usize, len: usize) -> &[u8] {
        if len == 0 {
            return &[];
        }
        // SAFETY: callers pass a range the exporter handed out (the whole of
        // a contiguous buffer, or the span its shape and strides address
        // around `buf`); the exporter keeps it valid until PyBuffer_Release,
        // which only Drop calls, after this borrow of `self` ends.
        unsafe {
            let start = self.view.buf.cast::<u8>().cast_const().wrapping_sub(before);
            std::slice::from_raw_parts(start, len)
        }
    }

    /// Copies the image out of the exporter's memory into an owned frame.
    /// Runs with the GIL held (the view holds the token), so no Python code
    /// runs mid-copy; code that released the GIL (numpy's np.copyto) still
    /// can: docs/design.md, "What the copy guarantees".
    pub fn copy_frame(
        &self,
        plan: &SourcePlan,
        order: ChannelOrder,
        target: PixelFormat,
    ) -> anyhow::Result<Frame> {
        let span = plan.span()?;
        // `plan` was derived from this view's fields, and `span` is exactly
        // the range they address around `buf`.
        let memory = self.memory(span.before, span.len);
        Frame::copy_from(plan, memory, span.before, order, target)
    }
}

fn c_contiguous_strides(shape: &[isize], itemsize: isize) -> Vec<isize> {
    let mut strides = vec![itemsize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1].saturating_mul(shape[i + 1]);
    }
    strides
}

/// Replaces CPython's generic "a bytes-like object is required" with a
/// message that says what was passed and what to pass instead (chained to
/// the original). Errors the exporter itself raised (BufferError, or
/// anything its `__buffer__` raised) propagate as they are.
fn explain_not_a_buffer(object: Obj<'_>) -> Failure {
    let gil = object.gil();
    let object_ptr = object.as_ptr();
    // SAFETY: live object, GIL held; type checks only.
    unsafe {
        if PyObject_CheckBuffer(object_ptr) != 0 {
            return Failure::Raised;
        }
        let name = type_name(object);
        let hint = if PyUnicode_Check(object_ptr) != 0 {
            ": text is not pixels. str(frame) gives the array's printed text; pass the array itself"
                .to_string()
        } else if object.is_none() {
            ": did cv2.imread() fail? It returns None when it cannot read the file".to_string()
        } else if PyList_Check(object_ptr) != 0 || PyTuple_Check(object_ptr) != 0 {
            format!(": a {name} of numbers is not a pixel buffer; convert it with np.asarray(x, dtype=np.uint8) or bytes(x)")
        } else {
            String::new()
        };
        replace_type_error(gil, || {
            format!(
                "expected an image buffer (numpy array, bytes, bytearray, memoryview, array.array or any buffer exporter), got {name}{hint}"
            )
        })
    }
}
