//! The `Py_buffer` owner: the heart of the original question's fix.
//!
//! `BufferView::acquire` calls `PyObject_GetBuffer`; `Drop` calls
//! `PyBuffer_Release`, so the exporter's buffer is released on every path:
//! success, early return, error and panic. The view is not `Send` (it holds
//! raw pointers), so the compiler keeps it out of code that runs without the GIL.

use crate::convert::type_name;
use crate::errors::{set_error, Failure, PyResult};
use bufpng_core::error::buffer_error;
use bufpng_core::{
    plan_source, BufferDesc, ChannelOrder, Endian, Frame, ImageLayout, PixelFormat, SourcePlan,
};
use pyo3_ffi::*;
use std::ffi::CStr;

pub struct BufferView {
    // Boxed so the struct the exporter filled in never moves while held.
    view: Box<Py_buffer>,
    shape: Vec<isize>,
    strides: Vec<isize>,
    format: String,
}

impl BufferView {
    /// Requests `object`'s buffer with full information (shape, strides,
    /// format, suboffsets) and read-only access.
    pub fn acquire(object: *mut PyObject) -> PyResult<BufferView> {
        Self::request(object, PyBUF_FULL_RO, explain_not_a_buffer)
    }

    /// Requests `object`'s buffer for writing (`out=`): PyBUF_WRITABLE |
    /// PyBUF_RECORDS, i.e. shape, strides and format, and no suboffsets (an
    /// exporter that needs them must refuse). A read-only exporter's refusal
    /// becomes a BufferError that says so, with the exporter's own
    /// exception as its __cause__.
    pub fn acquire_writable(object: *mut PyObject) -> PyResult<BufferView> {
        Self::request(object, PyBUF_WRITABLE | PyBUF_RECORDS, explain_not_writable)
    }

    /// `explain` rewords the exporter's refusal.
    fn request(
        object: *mut PyObject,
        flags: std::ffi::c_int,
        explain: fn(*mut PyObject),
    ) -> PyResult<BufferView> {
        let mut view: Box<Py_buffer> = Box::new(Py_buffer::new());
        // SAFETY: `object` is a live reference (GIL held) and `view` points to
        // writable storage for one Py_buffer. On failure nothing is held.
        let status = unsafe { PyObject_GetBuffer(object, &mut *view, flags) };
        if status != 0 {
            explain(object);
            return Err(Failure::Raised);
        }
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

    fn is_c_contiguous(&self) -> bool {
        // SAFETY: the view is held; PyBuffer_IsContiguous only reads its fields.
        unsafe { PyBuffer_IsContiguous(&*self.view, b'C' as std::ffi::c_char) != 0 }
    }

    /// A copy of the buffer's bytes, for data that is a byte stream rather
    /// than pixels (a PNG file held in memory). Copied under the GIL, so the
    /// caller may work on it with the GIL released.
    pub fn copy_bytes(&self) -> PyResult<Vec<u8>> {
        if !self.is_c_contiguous() {
            return Err(buffer_error(
                "the buffer is not contiguous: pass bytes(data) or np.ascontiguousarray(data)",
            )
            .into());
        }
        if self.view.len <= 0 {
            return Ok(Vec::new());
        }
        // SAFETY: a C-contiguous buffer's `len` bytes start at `buf` (non-NULL
        // for len > 0) and stay valid until PyBuffer_Release, which only Drop calls.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                self.view.buf.cast::<u8>().cast_const(),
                self.view.len as usize,
            )
        };
        Ok(bytes.to_vec())
    }

    /// Copies a packed image of `layout` (samples in `endian`, channels in
    /// `order`) out of a C-contiguous buffer of exactly its size, whatever
    /// format the exporter reports: an unpickled Frame's pixels.
    pub fn copy_packed(
        &self,
        layout: ImageLayout,
        endian: Endian,
        order: ChannelOrder,
        target: PixelFormat,
    ) -> PyResult<Frame> {
        if !self.is_c_contiguous() || self.view.len as usize != layout.byte_len() {
            return Err(buffer_error(format!(
                "expected one C-contiguous block of {} bytes of pixels, got {} bytes",
                layout.byte_len(),
                self.view.len
            ))
            .into());
        }
        // A packed plan over exactly the view's `len` bytes from `buf`: the
        // memory copy_frame hands over is what the exporter described.
        Ok(self.copy_frame(&SourcePlan::packed(layout, endian), order, target)?)
    }

    /// Copies the image out of the exporter's memory into an owned frame.
    /// Must run with the GIL held: another thread could otherwise change or
    /// free the memory mid-copy.
    pub fn copy_frame(
        &self,
        plan: &SourcePlan,
        order: ChannelOrder,
        target: PixelFormat,
    ) -> anyhow::Result<Frame> {
        let span = plan.span()?;
        // SAFETY: the exporter guarantees that every byte addressed by `buf`,
        // `shape` and `strides` stays valid until PyBuffer_Release (which only
        // Drop calls, after this borrow ends). `span` is exactly the range those
        // fields address around `buf`, and `plan` was derived from them, so the
        // slice covers only memory the exporter handed out.
        let memory = unsafe {
            let start = self
                .view
                .buf
                .cast::<u8>()
                .cast_const()
                .wrapping_sub(span.before);
            std::slice::from_raw_parts(start, span.len)
        };
        Frame::copy_from(plan, memory, span.before, order, target)
    }
}

impl BufferView {
    /// Writes `frame` into this (writable) buffer as `plan` says, its first
    /// sample `offset` bytes from the view's `buf` (an item of a batch).
    /// Runs with the GIL held, like `copy_frame`. `plan` must come from this
    /// view's own shape and strides (or a batch item of them, `offset` then
    /// being that item's start), so every byte it addresses was handed out
    /// by the exporter; `copy_into` checks the span again before writing.
    pub fn write_frame(&mut self, frame: &Frame, plan: &SourcePlan, offset: isize) -> PyResult<()> {
        if self.view.readonly != 0 {
            return Err(
                buffer_error("bufpng internal error: writing into a read-only view").into(),
            );
        }
        let span = plan.span()?;
        // SAFETY: the view was requested with PyBUF_WRITABLE and is held
        // until Drop, after this borrow ends. `plan` and `offset` come from
        // the view's own shape and strides (see above), so the `span.len`
        // bytes starting `span.before` bytes below `buf + offset` are memory
        // the exporter handed out. No other Rust reference to it exists: the
        // sources bufpng decodes from were copied out first, and Frames refuse
        // writable requests. Other Python threads cannot run: GIL held.
        let memory = unsafe {
            let start = self
                .view
                .buf
                .cast::<u8>()
                .wrapping_offset(offset)
                .wrapping_sub(span.before);
            std::slice::from_raw_parts_mut(start, span.len)
        };
        Ok(frame.copy_into(plan, memory, span.before)?)
    }
}

impl Drop for BufferView {
    fn drop(&mut self) {
        // SAFETY: the view was filled by a successful PyObject_GetBuffer and is
        // released exactly once, here. The GIL is held: BufferView is not Send,
        // and is only created and dropped inside native functions.
        unsafe { PyBuffer_Release(&mut *self.view) };
    }
}

fn c_contiguous_strides(shape: &[isize], itemsize: isize) -> Vec<isize> {
    let mut strides = vec![itemsize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1].saturating_mul(shape[i + 1]);
    }
    strides
}

/// Turns a refused writable request into a BufferError that says what
/// `out=` needs, keeping the exporter's exception as __cause__. A TypeError
/// for an object that exports no buffer at all gets explain_not_a_buffer's words.
fn explain_not_writable(object: *mut PyObject) {
    // SAFETY: GIL held, `object` live, an exception set by the failed
    // request. PyErr_GetRaisedException (3.12+) is not in the 3.11 stable
    // ABI, so Fetch/Normalize/Restore are used; each reference taken is
    // handed on (Restore, SetCause steal) or released.
    unsafe {
        if PyObject_CheckBuffer(object) == 0 {
            explain_not_a_buffer(object);
            return;
        }
        let (mut kind, mut value, mut traceback) = (
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        PyErr_Fetch(&mut kind, &mut value, &mut traceback);
        // Read-only, or refused for another reason (say, it needs
        // suboffsets)? In the second case the exporter's own words are best.
        let mut probe = Py_buffer::new();
        if PyObject_GetBuffer(object, &mut probe, PyBUF_FULL_RO) != 0 {
            PyErr_Clear();
            PyErr_Restore(kind, value, traceback);
            return;
        }
        PyBuffer_Release(&mut probe);
        PyErr_NormalizeException(&mut kind, &mut value, &mut traceback);
        if !traceback.is_null() && !value.is_null() {
            PyException_SetTraceback(value, traceback);
        }
        Py_XDECREF(kind);
        Py_XDECREF(traceback);
        set_error(
            PyExc_BufferError,
            &format!(
                "out must be a writable buffer, but this {} is read-only: pass a writable array (np.empty(shape, dtype), arr.copy()), a bytearray or a writable mmap",
                type_name(object)
            ),
        );
        let (mut new_kind, mut new_value, mut new_traceback) = (
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        PyErr_Fetch(&mut new_kind, &mut new_value, &mut new_traceback);
        PyErr_NormalizeException(&mut new_kind, &mut new_value, &mut new_traceback);
        if !new_value.is_null() && !value.is_null() {
            PyException_SetCause(new_value, value);
        } else {
            Py_XDECREF(value);
        }
        PyErr_Restore(new_kind, new_value, new_traceback);
    }
}

/// Replaces CPython's generic "a bytes-like object is required" with a
/// message that says what was passed and what to pass instead. Errors the
/// exporter itself raised (BufferError and friends) are left as they are.
fn explain_not_a_buffer(object: *mut PyObject) {
    // SAFETY: GIL held, `object` live; PyObject_CheckBuffer only inspects the type.
    unsafe {
        if PyObject_CheckBuffer(object) != 0 || PyErr_ExceptionMatches(PyExc_TypeError) == 0 {
            return;
        }
        PyErr_Clear();
        let name = type_name(object);
        let hint = if PyUnicode_Check(object) != 0 {
            ": text is not pixels. str(frame) gives the array's printed text; pass the array itself"
                .to_string()
        } else if Py_IsNone(object) != 0 {
            ": did cv2.imread() fail? It returns None when it cannot read the file".to_string()
        } else if PyList_Check(object) != 0 || PyTuple_Check(object) != 0 {
            format!(": a {name} of numbers is not a pixel buffer; convert it with np.asarray(x, dtype=np.uint8) or bytes(x)")
        } else {
            String::new()
        };
        set_error(
            PyExc_TypeError,
            &format!(
                "expected an image buffer (numpy array, bytes, bytearray, memoryview, array.array or any buffer exporter), got {name}{hint}"
            ),
        );
    }
}
