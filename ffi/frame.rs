//! `bufpng.Frame`: an owned image that exports the buffer protocol itself.
//!
//! The object holds a core `Frame` stored in its channel order with
//! native-endian samples, plus the shape and strides arrays its buffer export
//! points to (they must live as long as any view, so they live in the object;
//! each view holds a reference to it). The pixels never change after `tp_new`
//! (there is no `__init__` to call again and no setter), so views are
//! read-only and need no export count.

use crate::args::{required, Signature};
use crate::buffer::BufferView;
use crate::convert::{self, given};
use crate::errors::{call_guarded, set_error};
use crate::file::Destination;
use crate::image::{copy_image, parse_durable, parse_geometry, EncodeOptions};
use crate::metadata::with_metadata;
use crate::object::{bytes_from, c, none, Failure, Gil, Obj, Owned, PyResult};
use crate::ForCpython;
use bufpng_core::target::dtype_name;
use bufpng_core::{
    ChannelOrder, Depth, Endian, ImageLayout, Metadata, PixelFormat, DEFAULT_MAX_BYTES,
};
use pyo3_ffi::*;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{self, addr_of_mut};

#[repr(C)]
struct FrameObject {
    ob_base: PyObject,
    frame: bufpng_core::Frame,
    /// What the file had besides the pixels (empty for a Frame made from a
    /// buffer); `info` shows it.
    metadata: Metadata,
    shape: [Py_ssize_t; 3],
    strides: [Py_ssize_t; 3],
}

/// True when `object` is a bufpng.Frame, of any interpreter's Frame type.
/// Identified by its buffer slot: only Frame types have `frame_getbuffer`,
/// and that is what makes reading the object as a FrameObject sound.
pub fn is_frame(object: Obj<'_>) -> bool {
    // SAFETY: live object, GIL held; PyType_GetSlot reads the type's slot
    // table (heap and static types alike on 3.10+).
    let getbuffer = unsafe { PyType_GetSlot(object.type_ptr(), Py_bf_getbuffer) };
    getbuffer == frame_getbuffer as *mut c_void
}

/// The frame inside a bufpng.Frame object, borrowed for as long as the
/// object is; None for any other object.
pub fn frame_of<'py>(object: Obj<'py>) -> Option<&'py bufpng_core::Frame> {
    // SAFETY: a Frame's memory is a FrameObject whose `frame` was written in
    // new_object and never changes; the Obj keeps the object alive for 'py.
    is_frame(object).then(|| unsafe { &(*object.as_ptr().cast::<FrameObject>()).frame })
}

/// The frame of `self` in a Frame method or getter.
///
/// # Safety
/// `object` is the `self` CPython passes to a method of the Frame type (a
/// live Frame, held by the caller for the call, `'py` no longer than that).
unsafe fn this<'py>(gil: Gil<'py>, object: *mut PyObject) -> &'py bufpng_core::Frame {
    // SAFETY: the caller's guarantee.
    unsafe { Obj::borrowed(gil, object) }
        .and_then(frame_of)
        .expect("CPython passes Frame methods a Frame")
}

/// The metadata of `self` in a Frame getter.
///
/// # Safety
/// As for `this`.
unsafe fn metadata_of<'py>(gil: Gil<'py>, object: *mut PyObject) -> &'py Metadata {
    // SAFETY: the caller's guarantee; `this` checks it is a Frame, whose
    // `metadata` was written in new_object and never changes.
    unsafe {
        this(gil, object);
        &(*object.cast::<FrameObject>()).metadata
    }
}

/// A bufpng.Frame's channel order; None for any other object.
pub fn order_of(object: Obj<'_>) -> Option<ChannelOrder> {
    frame_of(object).map(|frame| frame.format.order)
}

/// A Frame type object: the one in some interpreter's bufpng module state.
#[derive(Clone, Copy)]
pub struct FrameType<'py>(Obj<'py>);

impl<'py> FrameType<'py> {
    /// # Safety
    /// `frame_type` is a Frame type from `create_type`, alive for `'py`.
    pub unsafe fn new(gil: Gil<'py>, frame_type: *mut PyTypeObject) -> Option<FrameType<'py>> {
        // SAFETY: the caller's guarantee.
        unsafe { Obj::borrowed(gil, frame_type.cast()) }.map(FrameType)
    }
}

/// How frames are stored: the caller's channel order, native-endian samples
/// (what numpy's "H" means), so the buffer export needs no conversion.
fn storage(order: ChannelOrder) -> PixelFormat {
    PixelFormat {
        order,
        endian: Endian::NATIVE,
    }
}

/// A new bufpng.Frame of type `frame_type` (the calling module's, from
/// `module::frame_type`, or a Frame's own) owning `frame` (converted to
/// storage format if needed).
pub fn new_object(frame_type: FrameType<'_>, frame: bufpng_core::Frame) -> PyResult<Owned> {
    new_object_with(frame_type, frame, Metadata::default())
}

/// `new_object` for a decoded file, with its `metadata`.
pub fn new_object_with(
    frame_type: FrameType<'_>,
    frame: bufpng_core::Frame,
    metadata: Metadata,
) -> PyResult<Owned> {
    let order = frame.format.order;
    let frame = frame.into_format(storage(order));
    let l = frame.layout;
    let item = l.depth.bytes() as Py_ssize_t;
    let channels = Py_ssize_t::from(l.channels);
    let shape = [l.height as Py_ssize_t, l.width as Py_ssize_t, channels];
    let strides = [l.row_bytes() as Py_ssize_t, channels * item, item];
    // SAFETY: GIL held; the type is a ready Frame type. PyType_GenericAlloc
    // returns a zeroed, GC-tracked object (with a reference to its heap
    // type) or NULL; the fields are written before anything else can see the
    // object (tp_traverse only visits the type, never these fields).
    unsafe {
        let object = Owned::new(PyType_GenericAlloc(frame_type.0.as_ptr().cast(), 0))?;
        let this = object.as_ptr().cast::<FrameObject>();
        ptr::write(addr_of_mut!((*this).frame), frame);
        ptr::write(addr_of_mut!((*this).metadata), metadata);
        ptr::write(addr_of_mut!((*this).shape), shape);
        ptr::write(addr_of_mut!((*this).strides), strides);
        Ok(object)
    }
}

static NEW: Signature = Signature {
    function: "Frame",
    params: &["image", "width", "height", "channels", "stride", "order"],
    positional: 3,
    required: 1,
};

unsafe extern "C" fn frame_new(
    subtype: *mut PyTypeObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls tp_new with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's tp_new arguments for this call; Frame is
        // final, so `subtype` is this interpreter's Frame type.
        let ([image, width, height, channels, stride, order], frame_type) = unsafe {
            (
                NEW.parse_tuple(gil, args, kwargs)?,
                FrameType::new(gil, subtype).expect("tp_new gets its type"),
            )
        };
        let image = required(image);
        let order = convert::optional_str(order, "order")?
            .map(|name| ChannelOrder::parse(&name))
            .transpose()?
            .or_else(|| order_of(image))
            .unwrap_or_default();
        let geometry = parse_geometry(width, height, channels, stride)?;
        let frame = copy_image(image, &geometry, order, storage, 1)?;
        new_object(frame_type, frame)
    })
}

unsafe extern "C" fn frame_dealloc(object: *mut PyObject) {
    // SAFETY: called once by CPython when the last reference goes (no view
    // can exist: each holds a reference). Untracked first, so the collector
    // never sees a half-destroyed object. The Rust fields were written in
    // new_object; tp_free releases the memory; instances of heap types own a
    // reference to their type, dropped last.
    unsafe {
        PyObject_GC_UnTrack(object.cast());
        let tp = Py_TYPE(object);
        ptr::drop_in_place(addr_of_mut!((*object.cast::<FrameObject>()).frame));
        ptr::drop_in_place(addr_of_mut!((*object.cast::<FrameObject>()).metadata));
        let free: freefunc = std::mem::transmute(PyType_GetSlot(tp, Py_tp_free));
        free(object.cast());
        Py_DECREF(tp.cast());
    }
}

/// `tp_traverse`: a Frame refers to no Python object but its type, which
/// instances of heap types must visit (3.9+) so that the collector can see
/// the type -> module -> type cycle of each interpreter's module.
unsafe extern "C" fn frame_traverse(
    object: *mut PyObject,
    visit: visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython passes a live Frame; its type is a live heap type.
    unsafe { visit(Py_TYPE(object).cast(), arg) }
}

/// The buffer export: C-contiguous, read-only, shape (h, w) or (h, w, c),
/// format "B" or "H". Answers every request as CPython's own exporters do
/// (memory_getbuf in Objects/memoryobject.c, ndarray_getbuf in
/// Modules/_testbuffer.c), refusals included: fields not asked for are NULL
/// (no format without PyBUF_FORMAT, no shape without PyBUF_ND, giving a 1-D
/// byte view, no strides without PyBUF_STRIDES), and a request for a format
/// without a shape is refused, since the items could not be counted.
unsafe extern "C" fn frame_getbuffer(
    exporter: *mut PyObject,
    view: *mut Py_buffer,
    flags: c_int,
) -> c_int {
    let wants = |flag: c_int| flags & flag == flag;
    // SAFETY: CPython passes a live Frame and a writable Py_buffer (or NULL,
    // refused first), GIL held. `shape`/`strides`/`frame.data` live in the
    // object, which the view keeps alive through `view.obj`.
    unsafe {
        if view.is_null() {
            set_error(PyExc_BufferError, "bufpng.Frame: NULL view in getbuffer");
            return -1;
        }
        (*view).obj = ptr::null_mut();
        let this = &*exporter.cast::<FrameObject>();
        let frame = &this.frame;
        let ndim: usize = if frame.layout.channels == 1 { 2 } else { 3 };
        let itemsize = frame.layout.depth.bytes() as Py_ssize_t;
        if wants(PyBUF_WRITABLE) {
            set_error(
                PyExc_BufferError,
                "bufpng.Frame is read-only: copy it for writable pixels, e.g. np.array(frame)",
            );
            return -1;
        }
        if wants(PyBUF_F_CONTIGUOUS)
            && !is_f_contiguous(&this.shape[..ndim], &this.strides[..ndim], itemsize)
        {
            set_error(
                PyExc_BufferError,
                "bufpng.Frame is C-contiguous, not Fortran contiguous: request C or any contiguity, or copy with np.asfortranarray(frame)",
            );
            return -1;
        }
        if !wants(PyBUF_ND) && wants(PyBUF_FORMAT) {
            set_error(
                PyExc_BufferError,
                "bufpng.Frame: a request for the format must also ask for the shape (PyBUF_ND), as for memoryview",
            );
            return -1;
        }
        (*view).buf = frame.data.as_ptr().cast_mut().cast();
        (*view).len = frame.data.len() as Py_ssize_t;
        (*view).itemsize = itemsize;
        (*view).readonly = 1;
        (*view).format = if wants(PyBUF_FORMAT) {
            match frame.layout.depth {
                Depth::Eight => c(c"B").cast_mut(),
                Depth::Sixteen => c(c"H").cast_mut(),
            }
        } else {
            ptr::null_mut()
        };
        if wants(PyBUF_ND) {
            (*view).ndim = ndim as c_int;
            (*view).shape = this.shape.as_ptr().cast_mut();
        } else {
            (*view).ndim = 1;
            (*view).shape = ptr::null_mut();
        }
        (*view).strides = if wants(PyBUF_STRIDES) {
            this.strides.as_ptr().cast_mut()
        } else {
            ptr::null_mut()
        };
        (*view).suboffsets = ptr::null_mut();
        (*view).internal = ptr::null_mut();
        Py_INCREF(exporter);
        (*view).obj = exporter;
        0
    }
}

/// CPython's rule (abstract.c, _IsFortranContiguous): the first axis varies
/// fastest; axes of length 1 do not count.
fn is_f_contiguous(shape: &[Py_ssize_t], strides: &[Py_ssize_t], itemsize: Py_ssize_t) -> bool {
    let mut expected = itemsize;
    for (&n, &stride) in shape.iter().zip(strides) {
        if n > 1 && stride != expected {
            return false;
        }
        expected *= n;
    }
    true
}

/// The channel layout as repr and `order` name it.
fn order_name(frame: &bufpng_core::Frame) -> &'static str {
    if frame.layout.channels < 3 {
        "gray"
    } else {
        frame.format.order.name()
    }
}

unsafe extern "C" fn frame_repr(object: *mut PyObject) -> *mut PyObject {
    // SAFETY: CPython calls tp_repr with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython passes a live Frame.
        let frame = unsafe { this(gil, object) };
        let l = frame.layout;
        let channels = match (l.channels, order_name(frame)) {
            (2, _) => "graya".to_string(),
            (4, order) => format!("{order}a"),
            (_, order) => order.to_string(),
        };
        let text = format!(
            "<bufpng.Frame {}x{} {channels} {}-bit>",
            l.width,
            l.height,
            l.depth.bits()
        );
        str_object(gil, &text)
    })
}

/// Equality is about the picture: same size, channels, depth and sample
/// values. Two frames of one image stored in bgr and rgb order are equal.
unsafe extern "C" fn frame_richcompare(
    a: *mut PyObject,
    b: *mut PyObject,
    op: c_int,
) -> *mut PyObject {
    // SAFETY: CPython calls tp_richcompare with the GIL held and two live
    // operands for the call; the result is a new reference.
    unsafe {
        let gil = Gil::assume();
        let frames = (
            Obj::borrowed(gil, a).and_then(frame_of),
            Obj::borrowed(gil, b).and_then(frame_of),
        );
        match frames {
            (Some(a), Some(b)) if op == Py_EQ || op == Py_NE => {
                PyBool_FromLong((a.same_pixels(b) == (op == Py_EQ)).into())
            }
            _ => {
                let result = Py_NotImplemented();
                Py_INCREF(result);
                result
            }
        }
    }
}

/// A new str holding `text`.
fn str_object(_: Gil<'_>, text: &str) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); pointer and length describe `text`,
    // which CPython copies; a new reference or NULL comes back.
    unsafe {
        Owned::new(PyUnicode_FromStringAndSize(
            text.as_ptr().cast(),
            text.len() as Py_ssize_t,
        ))
    }
}

/// Runs a getter body on the frame.
///
/// # Safety
/// As for `this`: `object` is the Frame CPython calls a getter on, GIL held.
unsafe fn get(
    object: *mut PyObject,
    body: impl for<'py> FnOnce(Gil<'py>, &bufpng_core::Frame) -> PyResult<Owned>,
) -> *mut PyObject {
    // SAFETY: the caller's guarantee.
    let (gil, frame) = unsafe {
        let gil = Gil::assume();
        (gil, this(gil, object))
    };
    call_guarded(gil, |gil| body(gil, frame))
}

fn int_object(_: Gil<'_>, value: u64) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); a new reference or NULL comes back.
    unsafe { Owned::new(PyLong_FromUnsignedLongLong(value)) }
}

unsafe extern "C" fn get_width(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe { get(object, |gil, f| int_object(gil, f.layout.width.into())) }
}

unsafe extern "C" fn get_height(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe { get(object, |gil, f| int_object(gil, f.layout.height.into())) }
}

unsafe extern "C" fn get_channels(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe { get(object, |gil, f| int_object(gil, f.layout.channels.into())) }
}

unsafe extern "C" fn get_depth(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe {
        get(object, |gil, f| {
            int_object(gil, f.layout.depth.bits().into())
        })
    }
}

unsafe extern "C" fn get_nbytes(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe { get(object, |gil, f| int_object(gil, f.data.len() as u64)) }
}

unsafe extern "C" fn get_order(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe { get(object, |gil, f| str_object(gil, order_name(f))) }
}

unsafe extern "C" fn get_info(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    let (gil, metadata) = unsafe {
        let gil = Gil::assume();
        (gil, metadata_of(gil, object))
    };
    call_guarded(gil, |gil| crate::metadata::info(gil, metadata))
}

fn ndim(frame: &bufpng_core::Frame) -> usize {
    if frame.layout.channels == 1 {
        2
    } else {
        3
    }
}

/// The shape array of the Frame `object` (what its buffer export points to).
///
/// # Safety
/// As for `this`: `object` is a live Frame, held for `'py`.
unsafe fn shape_of<'py>(object: *mut PyObject) -> &'py [Py_ssize_t; 3] {
    // SAFETY: the caller's guarantee; `shape` was written in new_object.
    unsafe { &(*object.cast::<FrameObject>()).shape }
}

/// A new tuple of ints.
fn shape_tuple(_: Gil<'_>, shape: &[Py_ssize_t]) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); PyTuple_New and PyLong_FromSsize_t return
    // new references or NULL; PyTuple_SetItem steals each item.
    unsafe {
        let tuple = Owned::new(PyTuple_New(shape.len() as Py_ssize_t))?;
        for (i, &n) in shape.iter().enumerate() {
            let item = Owned::new(PyLong_FromSsize_t(n))?;
            PyTuple_SetItem(tuple.as_ptr(), i as Py_ssize_t, item.into_raw());
        }
        Ok(tuple)
    }
}

unsafe extern "C" fn get_shape(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe {
        let shape = shape_of(object);
        get(object, |gil, f| shape_tuple(gil, &shape[..ndim(f)]))
    }
}

unsafe extern "C" fn get_ndim(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe { get(object, |gil, f| int_object(gil, ndim(f) as u64)) }
}

unsafe extern "C" fn get_dtype(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe { get(object, |gil, f| str_object(gil, dtype_name(&f.layout))) }
}

unsafe extern "C" fn get_itemsize(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe {
        get(object, |gil, f| {
            int_object(gil, f.layout.depth.bytes() as u64)
        })
    }
}

/// The struct-module format of the buffer export (and of memoryview(frame)).
fn format_code(frame: &bufpng_core::Frame) -> &'static str {
    match frame.layout.depth {
        Depth::Eight => "B",
        Depth::Sixteen => "H",
    }
}

unsafe extern "C" fn get_format(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe { get(object, |gil, f| str_object(gil, format_code(f))) }
}

/// numpy's array interface (version 3), for consumers that read it rather
/// than the buffer protocol (Pillow's Image.fromarray). `data` is the
/// address of the Frame's own pixels, flagged read-only; like the buffer
/// export it is only valid while the Frame lives, so consumers keep a
/// reference to the Frame (numpy and Pillow do).
unsafe extern "C" fn get_array_interface(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters on a live Frame with the GIL held.
    unsafe {
        let shape = shape_of(object);
        get(object, |gil, f| {
            let shape = shape_tuple(gil, &shape[..ndim(f)])?;
            let typestr = match (f.layout.depth, Endian::NATIVE) {
                (Depth::Eight, _) => c"|u1",
                (Depth::Sixteen, Endian::Little) => c"<u2",
                (Depth::Sixteen, Endian::Big) => c">u2",
            };
            // SAFETY: GIL held. "N" steals the shape tuple; "O" takes new
            // references to True and None; the integers are passed as the C
            // types their codes name.
            Owned::new(Py_BuildValue(
                c"{s:N,s:s,s:(KO),s:O,s:i}".as_ptr(),
                c"shape".as_ptr(),
                shape.into_raw(),
                c"typestr".as_ptr(),
                typestr.as_ptr(),
                c"data".as_ptr(),
                f.data.as_ptr() as std::ffi::c_ulonglong,
                Py_True(),
                c"strides".as_ptr(),
                Py_None(),
                c"version".as_ptr(),
                3 as c_int,
            ))
        })
    }
}

static ENCODE: Signature = Signature {
    function: "encode",
    params: with_metadata!["compression", "threads"],
    positional: 0,
    required: 0,
};

unsafe extern "C" fn frame_encode(
    object: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls methods with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and `self` for this call.
        let ([compression, threads, metadata @ ..], frame) = unsafe {
            (
                ENCODE.parse::<11>(gil, args, nargs, kwnames)?,
                this(gil, object),
            )
        };
        let options = EncodeOptions::without_order(compression, threads, &metadata)?;
        // A Frame's pixels never change and the caller holds the Frame
        // for the call, so reading them without the GIL is sound.
        options.encode(gil, frame)
    })
}

static WRITE: Signature = Signature {
    function: "write",
    params: with_metadata!["path", "compression", "threads", "durable"],
    positional: 1,
    required: 1,
};

unsafe extern "C" fn frame_write(
    object: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls methods with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and `self` for this call.
        let ([path, compression, threads, durable, metadata @ ..], frame) = unsafe {
            (
                WRITE.parse::<13>(gil, args, nargs, kwnames)?,
                this(gil, object),
            )
        };
        let destination = Destination::parse(required(path), "path")?;
        if let Destination::Path(path) = &destination {
            bufpng_core::encode::check_png_name(path)?;
        }
        let options = EncodeOptions::without_order(compression, threads, &metadata)?;
        let durable = parse_durable(durable)?;
        // As in frame_encode.
        options.write(gil, destination, frame, durable)?;
        Ok(none(gil))
    })
}

static TOBYTES: Signature = Signature {
    function: "tobytes",
    params: &[],
    positional: 0,
    required: 0,
};

unsafe extern "C" fn frame_tobytes(
    object: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls methods with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and `self` for this call.
        let ([], frame) = unsafe { (TOBYTES.parse(gil, args, nargs, kwnames)?, this(gil, object)) };
        bytes_from(gil, &frame.data)
    })
}

static REDUCE_EX: Signature = Signature {
    function: "__reduce_ex__",
    params: &["protocol"],
    positional: 1,
    required: 1,
};

/// Pickling: `(bufpng._bufpng._frame_from_pickle, (pixels, width, height,
/// channels, depth, order, byteorder[, metadata]))`. With protocol 5 the
/// pixels are a pickle.PickleBuffer over the Frame's own (read-only,
/// C-contiguous) export, which a pickler with a buffer_callback sends out of
/// band without copying them; older protocols get a bytes copy. A Frame
/// with `info` adds its metadata as PNG chunk bytes (lossless, and checked
/// on the way back as a file's are); one without keeps the 7-item form.
unsafe extern "C" fn frame_reduce_ex(
    object: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls methods with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and `self` for this call.
        let ([protocol], frame) = unsafe {
            (
                REDUCE_EX.parse(gil, args, nargs, kwnames)?,
                this(gil, object),
            )
        };
        let protocol = convert::int(required(protocol), "protocol")?;
        // SAFETY: GIL held; every new reference is owned by `Owned` (NULL
        // means an exception is set). The constructor is looked up in the
        // module of this Frame's own type (its interpreter's bufpng module).
        let (pixels, constructor) = unsafe {
            let pixels = if protocol >= 5 {
                let pickle = Owned::new(PyImport_ImportModule(c"pickle".as_ptr()))?;
                let class = Owned::new(PyObject_GetAttrString(
                    pickle.as_ptr(),
                    c"PickleBuffer".as_ptr(),
                ))?;
                Owned::new(PyObject_CallFunctionObjArgs(
                    class.as_ptr(),
                    object,
                    ptr::null_mut::<PyObject>(),
                ))?
            } else {
                bytes_from(gil, &frame.data)?
            };
            let module = PyType_GetModule(Py_TYPE(object));
            if module.is_null() {
                return Err(Failure::Raised);
            }
            let constructor = Owned::new(PyObject_GetAttrString(
                module,
                c"_frame_from_pickle".as_ptr(),
            ))?;
            (pixels, constructor)
        };
        // SAFETY: `object` is the live Frame `this` checked above.
        let metadata = unsafe { metadata_of(gil, object) };
        let metadata = match metadata.is_empty() {
            true => None,
            false => Some(bytes_from(gil, &metadata.to_chunk_bytes()?)?),
        };
        let l = frame.layout;
        let byteorder = match frame.format.endian {
            Endian::Little => c"little",
            Endian::Big => c"big",
        };
        let order = match frame.format.order {
            ChannelOrder::Bgr => c"bgr",
            ChannelOrder::Rgb => c"rgb",
        };
        let [width, height, channels, depth] =
            [l.width, l.height, l.channels.into(), l.depth.bits().into()]
                .map(std::ffi::c_uint::from);
        // SAFETY: GIL held; "N" steals the references handed over with
        // into_raw (Py_BuildValue releases them on failure too); the
        // integers are passed as the C unsigned ints "I" reads;
        // PySequence_Concat returns a new tuple or NULL, each Owned drops
        // its own reference.
        unsafe {
            let mut args = Owned::new(Py_BuildValue(
                c"(NIIIIss)".as_ptr(),
                pixels.into_raw(),
                width,
                height,
                channels,
                depth,
                order.as_ptr(),
                byteorder.as_ptr(),
            ))?;
            if let Some(metadata) = metadata {
                let tail = Owned::new(Py_BuildValue(c"(N)".as_ptr(), metadata.into_raw()))?;
                args = Owned::new(PySequence_Concat(args.as_ptr(), tail.as_ptr()))?;
            }
            Owned::new(Py_BuildValue(
                c"(NN)".as_ptr(),
                constructor.into_raw(),
                args.into_raw(),
            ))
        }
    })
}

static FROM_PICKLE: Signature = Signature {
    function: "_frame_from_pickle",
    params: &[
        "pixels",
        "width",
        "height",
        "channels",
        "depth",
        "order",
        "byteorder",
        "metadata",
    ],
    positional: 8,
    required: 7,
};

/// The other half of `__reduce_ex__`: a new Frame holding a copy of
/// `pixels` (bytes, or the out-of-band buffer the unpickler was given) and
/// the metadata, when the pickle has it.
pub unsafe extern "C" fn frame_from_pickle(
    module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and module for this call.
        let ([pixels, width, height, channels, depth, order, byteorder, metadata], frame_type) = unsafe {
            (
                FROM_PICKLE.parse(gil, args, nargs, kwnames)?,
                crate::module::frame_type(gil, module),
            )
        };
        let bad = |what: &str| {
            bufpng_core::error::value_error(format!(
                "cannot unpickle a bufpng.Frame: {what} (was the pickle made by bufpng?)"
            ))
        };
        let dimension = |object, name| -> PyResult<u32> {
            let n = convert::int(required(object), name)?;
            Ok(u32::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad(&format!("bad {name}")))?)
        };
        let layout = ImageLayout {
            width: dimension(width, "width")?,
            height: dimension(height, "height")?,
            channels: match convert::int(required(channels), "channels")? {
                n @ 1..=4 => n as u8,
                _ => return Err(bad("bad channels").into()),
            },
            depth: match convert::int(required(depth), "depth")? {
                8 => Depth::Eight,
                16 => Depth::Sixteen,
                _ => return Err(bad("bad depth").into()),
            },
        };
        let order =
            ChannelOrder::parse(&convert::optional_str(order, "order")?.unwrap_or_default())?;
        let endian = match convert::optional_str(byteorder, "byteorder")?.as_deref() {
            Some("little") => Endian::Little,
            Some("big") => Endian::Big,
            _ => return Err(bad("bad byteorder").into()),
        };
        let metadata = match given(metadata) {
            None => Metadata::default(),
            Some(chunks) if crate::file::is_bytes_like(chunks) => {
                let chunks = BufferView::acquire(chunks)?.copy_bytes()?;
                Metadata::from_chunk_bytes(&chunks, DEFAULT_MAX_BYTES)
                    .map_err(|e| bad(&e.to_string()))?
            }
            Some(_) => return Err(bad("its metadata is not bytes").into()),
        };
        let view = BufferView::acquire(required(pixels))?;
        let frame = view.copy_packed(layout, endian, order, storage(order))?;
        new_object_with(frame_type, frame, metadata)
    })
}

const fn getter(name: &'static CStr, get: getter, doc: &'static CStr) -> PyGetSetDef {
    PyGetSetDef {
        name: c(name),
        get: Some(get),
        set: None,
        doc: c(doc),
        closure: ptr::null_mut(),
    }
}

static GETSET: ForCpython<[PyGetSetDef; 14]> = ForCpython::new([
    getter(c"width", get_width, c"Width in pixels."),
    getter(c"height", get_height, c"Height in pixels."),
    getter(
        c"channels",
        get_channels,
        c"1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha.",
    ),
    getter(c"depth", get_depth, c"Bits per sample: 8 or 16."),
    getter(
        c"order",
        get_order,
        c"Channel order of the stored pixels: \"bgr\", \"rgb\", or \"gray\" for 1-2 channels.",
    ),
    getter(c"nbytes", get_nbytes, c"Size of the pixels in bytes."),
    getter(
        c"info",
        get_info,
        c"What the PNG file had besides the pixels, as a read-only mapping with a key
for each kind present: text (dict), dpi ((x, y) floats), srgb (rendering
intent 0-3), gamma (float), icc_profile (bytes) and icc_profile_name,
cicp ((primaries, transfer, matrix, full_range)), mastering_display (dict),
content_light_level ((max_cll, max_fall) in cd/m^2). Empty for a Frame made
from a buffer. Pass it on with write(path, frame, metadata=frame.info).",
    ),
    getter(
        c"shape",
        get_shape,
        c"numpy's shape: (height, width) for gray, else (height, width, channels).",
    ),
    getter(c"ndim", get_ndim, c"2 for gray, else 3 (numpy's ndim)."),
    getter(
        c"dtype",
        get_dtype,
        c"The sample type as numpy names it: \"uint8\" or \"uint16\" (a str; np.dtype(frame.dtype) makes it a numpy dtype).",
    ),
    getter(c"itemsize", get_itemsize, c"Bytes per sample: 1 or 2."),
    getter(
        c"format",
        get_format,
        c"The buffer export's struct format: \"B\" (uint8) or \"H\" (native-endian uint16).",
    ),
    getter(
        c"__array_interface__",
        get_array_interface,
        c"numpy's array interface (version 3) over the Frame's own read-only pixels, for Image.fromarray(frame) and other readers of it.",
    ),
    PyGetSetDef {
        name: ptr::null(),
        get: None,
        set: None,
        doc: ptr::null(),
        closure: ptr::null_mut(),
    },
]);

static METHODS: ForCpython<[PyMethodDef; 5]> = ForCpython::new([
    crate::method(
        c"encode",
        frame_encode,
        c"encode($self, /, *, compression=None, threads=None, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, mastering_display=None, content_light_level=None, metadata=None)
--

The frame as PNG file bytes (the arguments as in bufpng.encode). The
frame's info is not written unless passed: metadata=frame.info.",
    ),
    crate::method(
        c"write",
        frame_write,
        c"write($self, /, path, *, compression=None, threads=None, durable=False, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, mastering_display=None, content_light_level=None, metadata=None)
--

Encode the frame as PNG and write it to path atomically (or to a binary
file object), as bufpng.write.",
    ),
    crate::method(
        c"tobytes",
        frame_tobytes,
        c"tobytes($self, /)
--

A copy of the pixels as bytes: rows top to bottom, channels in `order`,
16-bit samples in native byte order.",
    ),
    crate::method(
        c"__reduce_ex__",
        frame_reduce_ex,
        c"__reduce_ex__($self, protocol, /)
--

Pickle support: with protocol 5 the pixels travel as a pickle.PickleBuffer
over the Frame's own export (out of band when the pickler has a
buffer_callback), with older protocols as bytes. Unpickling copies them
once, into the new Frame's own memory.",
    ),
    PyMethodDef::zeroed(),
]);

const DOC: &CStr =
    c"Frame(image, width=None, height=None, *, channels=None, stride=None, order=None)
--

An owned image: a copy of `image` (anything bufpng.encode accepts, including
another Frame) that exports the buffer protocol itself, read-only and
C-contiguous, with shape (h, w) for gray or (h, w, c), format 'B' or 'H'.
np.asarray(frame) is a zero-copy view; the Frame lives as long as any view.

width, height, channels, stride: as in bufpng.encode.
order: the channel order of `image` (\"bgr\" by default, or a Frame's own
order); the Frame keeps its pixels in that order.";

fn slot(slot: c_int, pfunc: *mut c_void) -> PyType_Slot {
    PyType_Slot { slot, pfunc }
}

/// Creates a Frame type for `module` (each interpreter's bufpng module has
/// its own). Returns a new reference, or NULL with an exception set.
///
/// # Safety
/// GIL held; `module` is the bufpng module being executed.
pub unsafe fn create_type(module: *mut PyObject) -> *mut PyObject {
    let mut slots = [
        slot(Py_tp_doc, c(DOC).cast_mut().cast()),
        slot(Py_tp_new, frame_new as *mut c_void),
        slot(Py_tp_dealloc, frame_dealloc as *mut c_void),
        slot(Py_tp_traverse, frame_traverse as *mut c_void),
        slot(Py_tp_repr, frame_repr as *mut c_void),
        slot(Py_tp_richcompare, frame_richcompare as *mut c_void),
        slot(Py_tp_getset, GETSET.get().cast()),
        slot(Py_tp_methods, METHODS.get().cast()),
        slot(Py_bf_getbuffer, frame_getbuffer as *mut c_void),
        slot(0, ptr::null_mut()),
    ];
    let mut spec = PyType_Spec {
        name: c(c"bufpng.Frame") as *const c_char,
        basicsize: std::mem::size_of::<FrameObject>() as c_int,
        itemsize: 0,
        // Final (no BASETYPE) and immutable like built-in types: no subclass
        // can add an __init__ that would change pixels a view already shows.
        // GC-aware, as heap types' instances must be (they refer to their type).
        flags: (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_HAVE_GC) as _,
        slots: slots.as_mut_ptr(),
    };
    // SAFETY: spec and slots are valid for this call; CPython copies what it
    // keeps (the doc string too). The getset and method tables and the name
    // are statics. The type keeps a reference to `module` (PyType_GetModule).
    unsafe { PyType_FromModuleAndSpec(module, &mut spec, ptr::null_mut()) }
}
