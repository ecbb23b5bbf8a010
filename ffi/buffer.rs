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
use crate::errors::{restore, take_raised};
use crate::object::{
    attribute, has_attribute, str_to_string, type_name, Failure, Gil, Obj, PyResult,
};
use bufpng_core::error::buffer_error;
use bufpng_core::{
    plan_source, BufferDesc, ChannelOrder, Endian, Frame, Geometry, ImageLayout, PixelFormat,
    SourcePlan,
};
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
        Self::described(view)
    }

    /// Requests `object`'s buffer for writing (`out=`): PyBUF_WRITABLE |
    /// PyBUF_RECORDS, i.e. shape, strides and format, and no suboffsets (an
    /// exporter that needs them must refuse). A read-only exporter's refusal
    /// becomes a BufferError that says so, with the exporter's own exception
    /// as its __cause__.
    pub fn acquire_writable(object: Obj<'py>) -> PyResult<BufferView<'py>> {
        let view = HeldBuffer::request(object, PyBUF_WRITABLE | PyBUF_RECORDS)
            .map_err(|_| explain_not_writable(object))?;
        Self::described(view)
    }

    fn described(view: HeldBuffer<'py>) -> PyResult<BufferView<'py>> {
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

    /// Checks the buffer against the image rules and the caller's geometry.
    pub fn plan(&self, geometry: &Geometry) -> anyhow::Result<SourcePlan> {
        plan_source(&self.desc(), geometry)
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

    /// Copies the image out of the exporter's memory into an owned frame,
    /// on up to `threads` threads (a large frame's bands of rows at once).
    /// Runs with the GIL held (the view holds the token), and the calling
    /// thread keeps it until every band is copied, so no Python code runs
    /// mid-copy; code that released the GIL (numpy's np.copyto) still can:
    /// docs/design.md, "What the copy guarantees".
    pub fn copy_frame(
        &self,
        plan: &SourcePlan,
        order: ChannelOrder,
        target: PixelFormat,
        threads: usize,
    ) -> anyhow::Result<Frame> {
        let span = plan.span()?;
        // `plan` was derived from this view's fields, and `span` is exactly
        // the range they address around `buf`. The copy's threads read it
        // while this borrow of `self` (the held view) lasts: they are joined
        // before `Frame::fill` returns.
        let memory = self.memory(span.before, span.len);
        let mut data = Frame::room_for(&plan.layout)?;
        let len = plan.layout.byte_len();
        Frame::fill(
            plan,
            memory,
            span.before,
            order,
            target,
            &mut data.spare_capacity_mut()[..len],
            threads,
        )?;
        // SAFETY: `room_for` reserved `len` bytes of capacity, and `fill`
        // returned Ok, which it does only after writing every one of the
        // `len` slots it was given (each band's rows in full, checked by
        // pixels.rs's tests with slots that record being written): the
        // first `len` bytes are initialized. No zeroing pass first: glibc
        // hands a frame the size of the last one freed heap memory, which
        // calloc would memset on this thread.
        unsafe { data.set_len(len) };
        Ok(Frame {
            layout: plan.layout,
            format: target,
            data,
        })
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
        Ok(self.copy_frame(&SourcePlan::packed(layout, endian), order, target, 1)?)
    }

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
        // until Drop, after this borrow of `self` ends. `plan` and `offset`
        // come from the view's own shape and strides (see above), so the
        // `span.len` bytes starting `span.before` bytes below `buf + offset`
        // are memory the exporter handed out. No other Rust reference to it
        // exists: the sources bufpng decodes from were copied out first, and
        // Frames refuse writable requests. Python code cannot run meanwhile
        // (GIL held); code that released it (numpy's) still can, as for reads.
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

/// The hints that need attribute lookups (which may run Python code): a PIL
/// Image (found by its type's module, so bufpng never imports Pillow), or an
/// object with numpy's array interface. The pending TypeError is set aside
/// meanwhile and put back. A lookup's AttributeError only costs the hint;
/// anything else it raises (KeyboardInterrupt) replaces the TypeError.
fn attribute_hint(object: Obj<'_>, name: &str) -> PyResult<String> {
    let gil = object.gil();
    let pending = take_raised(gil);
    // SAFETY: a live type object, GIL held.
    let object_type = unsafe { Obj::borrowed(gil, object.type_ptr().cast()) };
    let module = match object_type {
        Some(object_type) => attribute(object_type, c"__module__")?,
        None => None,
    };
    let is_pil = module
        .and_then(|module| str_to_string(module.get()))
        .is_some_and(|module| module.starts_with("PIL."));
    let hint = if is_pil {
        ": a PIL Image is not a buffer; pass np.asarray(img) with order='rgb' (PIL's channel order; P and 1 mode images need img.convert('RGB') or img.convert('L') first)".to_string()
    } else if has_attribute(object, c"__array_interface__")? || has_attribute(object, c"__array__")?
    {
        format!(": a {name} offers numpy's array interface, not the buffer protocol; pass np.asarray(obj)")
    } else {
        String::new()
    };
    if let Some(pending) = pending {
        restore(pending);
    }
    Ok(hint)
}

fn c_contiguous_strides(shape: &[isize], itemsize: isize) -> Vec<isize> {
    let mut strides = vec![itemsize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1].saturating_mul(shape[i + 1]);
    }
    strides
}

/// A refused writable request: a BufferError saying what `out=` needs when
/// the object is read-only (a read-only request succeeds), with the
/// exporter's exception as __cause__; explain_not_a_buffer's words for an
/// object that exports no buffer; the exporter's own exception otherwise
/// (say, it needs suboffsets).
fn explain_not_writable(object: Obj<'_>) -> Failure {
    let gil = object.gil();
    // SAFETY: live object, GIL held; a type check.
    if unsafe { PyObject_CheckBuffer(object.as_ptr()) } == 0 {
        return explain_not_a_buffer(object);
    }
    let Some(cause) = take_raised(gil) else {
        return Failure::Raised;
    };
    if HeldBuffer::request(object, PyBUF_FULL_RO).is_err() {
        drop(take_raised(gil));
        restore(cause);
        return Failure::Raised;
    }
    Failure::Replacing(
        buffer_error(format!(
            "out must be a writable buffer, but this {} is read-only: pass a writable array (np.empty(shape, dtype), arr.copy()), a bytearray or a writable mmap",
            type_name(object)
        )),
        cause,
    )
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
            match attribute_hint(object, &name) {
                Ok(hint) => hint,
                Err(failure) => return failure,
            }
        };
        replace_type_error(gil, || {
            format!(
                "expected an image buffer (numpy array, bytes, bytearray, memoryview, array.array or any buffer exporter), got {name}{hint}"
            )
        })
    }
}
