//! `bufpng.Frame`: an owned image that exports the buffer protocol itself.
//!
//! The object holds a core `Frame` stored in its channel order with
//! native-endian samples, plus the shape and strides arrays its buffer export
//! points to (they must live as long as any view, so they live in the object;
//! each view holds a reference to it). The pixels never change after `tp_new`
//! (there is no `__init__` to call again and no setter), so views are
//! read-only and need no export count.

use crate::args::Signature;
use crate::buffer::BufferView;
use crate::convert::{self, bytes_from, c, none, Owned};
use crate::encode::{copy_image, EncodeOptions, Size};
use crate::errors::{call_guarded, set_error, PyResult};
use crate::gil::without_gil;
use bufpng_core::target::dtype_name;
use bufpng_core::{encode_png, write_png, ChannelOrder, Depth, Endian, ImageLayout, PixelFormat};
use pyo3_ffi::*;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{self, addr_of_mut};
use std::sync::atomic::{AtomicPtr, Ordering};

#[repr(C)]
struct FrameObject {
    ob_base: PyObject,
    frame: bufpng_core::Frame,
    shape: [Py_ssize_t; 3],
    strides: [Py_ssize_t; 3],
}

/// The type object, created once at module init and kept for the process's
/// life (the module holds a reference too).
static FRAME_TYPE: AtomicPtr<PyTypeObject> = AtomicPtr::new(ptr::null_mut());

fn frame_type() -> *mut PyTypeObject {
    FRAME_TYPE.load(Ordering::Acquire)
}

/// True when `object` is a bufpng.Frame.
pub fn is_frame(object: *mut PyObject) -> bool {
    let tp = frame_type();
    // SAFETY: GIL held, `object` live; `tp` is a live type object once set.
    !tp.is_null() && unsafe { PyObject_TypeCheck(object, tp) } != 0
}

/// The frame inside a bufpng.Frame object.
///
/// # Safety
/// `object` must be a live bufpng.Frame for all of `'a`.
unsafe fn frame_of<'a>(object: *mut PyObject) -> &'a bufpng_core::Frame {
    &(*object.cast::<FrameObject>()).frame
}

/// A bufpng.Frame's channel order; None for any other object.
pub fn order_of(object: *mut PyObject) -> Option<ChannelOrder> {
    // SAFETY: checked to be a Frame; the value is copied out.
    is_frame(object).then(|| unsafe { frame_of(object) }.format.order)
}

/// How frames are stored: the caller's channel order, native-endian samples
/// (what numpy's "H" means), so the buffer export needs no conversion.
fn storage(order: ChannelOrder) -> PixelFormat {
    PixelFormat {
        order,
        endian: Endian::NATIVE,
    }
}

/// A new bufpng.Frame owning `frame` (converted to storage format if needed).
pub fn new_object(frame: bufpng_core::Frame) -> PyResult<*mut PyObject> {
    let order = frame.format.order;
    let frame = frame.into_format(storage(order));
    let l = frame.layout;
    let item = l.depth.bytes() as Py_ssize_t;
    let channels = Py_ssize_t::from(l.channels);
    let shape = [l.height as Py_ssize_t, l.width as Py_ssize_t, channels];
    let strides = [l.row_bytes() as Py_ssize_t, channels * item, item];
    // SAFETY: GIL held; the type is ready. PyType_GenericAlloc returns a
    // zeroed object (with a reference to its heap type) or NULL; the fields
    // are written before anything else can see the object.
    unsafe {
        let object = PyType_GenericAlloc(frame_type(), 0);
        if object.is_null() {
            return Err(crate::errors::Failure::Raised);
        }
        let this = object.cast::<FrameObject>();
        ptr::write(addr_of_mut!((*this).frame), frame);
        ptr::write(addr_of_mut!((*this).shape), shape);
        ptr::write(addr_of_mut!((*this).strides), strides);
        Ok(object)
    }
}

static NEW: Signature = Signature {
    function: "Frame",
    params: &["image", "width", "height", "order"],
    positional: 3,
    required: 1,
};

unsafe extern "C" fn frame_new(
    _subtype: *mut PyTypeObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's tp_new arguments, GIL held.
        let [image, width, height, order] = unsafe { NEW.parse_tuple(args, kwargs)? };
        let order = convert::optional_str(order, "order")?
            .map(|name| ChannelOrder::parse(&name))
            .transpose()?;
        let frame = copy_image(image, Size::parse(width, height)?, order, storage)?;
        new_object(frame)
    })
}

unsafe extern "C" fn frame_dealloc(object: *mut PyObject) {
    // SAFETY: called once by CPython when the last reference goes (no view
    // can exist: each holds a reference). The Rust fields were written in
    // new_object; tp_free releases the memory; instances of heap types own a
    // reference to their type, dropped last.
    unsafe {
        let tp = Py_TYPE(object);
        ptr::drop_in_place(addr_of_mut!((*object.cast::<FrameObject>()).frame));
        let free: freefunc = std::mem::transmute(PyType_GetSlot(tp, Py_tp_free));
        free(object.cast());
        Py_DECREF(tp.cast());
    }
}

/// The buffer export: C-contiguous, read-only, shape (h, w) or (h, w, c),
/// format "B" or "H". Fills in only what `flags` asks for, as CPython's own
/// exporters do (memoryobject.c): no format without PyBUF_FORMAT, no shape
/// without PyBUF_ND (a 1-D byte view), no strides without PyBUF_STRIDES.
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
    call_guarded(|| {
        // SAFETY: CPython passes a live Frame.
        let frame = unsafe { frame_of(object) };
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
        // SAFETY: pointer and length describe `text`, which CPython copies.
        let object =
            unsafe { PyUnicode_FromStringAndSize(text.as_ptr().cast(), text.len() as Py_ssize_t) };
        not_null(object)
    })
}

/// Equality is about the picture: same size, channels, depth and sample
/// values. Two frames of one image stored in bgr and rgb order are equal.
unsafe extern "C" fn frame_richcompare(
    a: *mut PyObject,
    b: *mut PyObject,
    op: c_int,
) -> *mut PyObject {
    // SAFETY: GIL held; `a` and `b` are live; the result is a new reference.
    unsafe {
        if !(is_frame(a) && is_frame(b)) || (op != Py_EQ && op != Py_NE) {
            let result = Py_NotImplemented();
            Py_INCREF(result);
            return result;
        }
        let equal = frame_of(a).same_pixels(frame_of(b));
        PyBool_FromLong((equal == (op == Py_EQ)).into())
    }
}

fn not_null(object: *mut PyObject) -> PyResult<*mut PyObject> {
    if object.is_null() {
        Err(crate::errors::Failure::Raised)
    } else {
        Ok(object)
    }
}

/// Runs a getter body on the frame.
fn get(
    object: *mut PyObject,
    body: impl FnOnce(&bufpng_core::Frame) -> *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython only calls the type's getters with a live Frame.
    call_guarded(|| not_null(body(unsafe { frame_of(object) })))
}

fn int_object(value: u64) -> *mut PyObject {
    // SAFETY: GIL held (getters run with it); new reference or NULL.
    unsafe { PyLong_FromUnsignedLongLong(value) }
}

unsafe extern "C" fn get_width(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| int_object(f.layout.width.into()))
}

unsafe extern "C" fn get_height(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| int_object(f.layout.height.into()))
}

unsafe extern "C" fn get_channels(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| int_object(f.layout.channels.into()))
}

unsafe extern "C" fn get_depth(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| int_object(f.layout.depth.bits().into()))
}

unsafe extern "C" fn get_nbytes(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| int_object(f.data.len() as u64))
}

unsafe extern "C" fn get_order(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| {
        let name = order_name(f);
        // SAFETY: GIL held; pointer and length describe `name`.
        unsafe { PyUnicode_FromStringAndSize(name.as_ptr().cast(), name.len() as Py_ssize_t) }
    })
}

fn ndim(frame: &bufpng_core::Frame) -> usize {
    if frame.layout.channels == 1 {
        2
    } else {
        3
    }
}

unsafe extern "C" fn get_shape(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython passes a live Frame; `shape` is the export's own array.
    let this = unsafe { &*object.cast::<FrameObject>() };
    get(object, |f| shape_tuple(&this.shape[..ndim(f)]))
}

/// A new tuple of ints, or NULL with an exception set.
fn shape_tuple(shape: &[Py_ssize_t]) -> *mut PyObject {
    // SAFETY: GIL held (getters run with it); PyTuple_SetItem steals each
    // item, and the tuple is released if an item cannot be created.
    unsafe {
        let tuple = PyTuple_New(shape.len() as Py_ssize_t);
        if tuple.is_null() {
            return tuple;
        }
        for (i, &n) in shape.iter().enumerate() {
            let item = PyLong_FromSsize_t(n);
            if item.is_null() {
                Py_DECREF(tuple);
                return ptr::null_mut();
            }
            PyTuple_SetItem(tuple, i as Py_ssize_t, item);
        }
        tuple
    }
}

fn str_object(text: &str) -> *mut PyObject {
    // SAFETY: GIL held; pointer and length describe `text`, which CPython copies.
    unsafe { PyUnicode_FromStringAndSize(text.as_ptr().cast(), text.len() as Py_ssize_t) }
}

unsafe extern "C" fn get_ndim(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| int_object(ndim(f) as u64))
}

unsafe extern "C" fn get_dtype(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| str_object(dtype_name(&f.layout)))
}

unsafe extern "C" fn get_itemsize(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| int_object(f.layout.depth.bytes() as u64))
}

/// The struct-module format of the buffer export (and of memoryview(frame)).
fn format_code(frame: &bufpng_core::Frame) -> &'static CStr {
    match frame.layout.depth {
        Depth::Eight => c"B",
        Depth::Sixteen => c"H",
    }
}

unsafe extern "C" fn get_format(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    get(object, |f| {
        str_object(format_code(f).to_str().unwrap_or("B"))
    })
}

/// numpy's array interface (version 3), for consumers that read it rather
/// than the buffer protocol (Pillow's Image.fromarray). `data` is the
/// address of the Frame's own pixels, flagged read-only; like the buffer
/// export it is only valid while the Frame lives, so consumers keep a
/// reference to the Frame (numpy and Pillow do).
unsafe extern "C" fn get_array_interface(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython passes a live Frame.
    let this = unsafe { &*object.cast::<FrameObject>() };
    get(object, |f| {
        let shape = shape_tuple(&this.shape[..ndim(f)]);
        if shape.is_null() {
            return shape;
        }
        let typestr = match (f.layout.depth, Endian::NATIVE) {
            (Depth::Eight, _) => c"|u1",
            (Depth::Sixteen, Endian::Little) => c"<u2",
            (Depth::Sixteen, Endian::Big) => c">u2",
        };
        // SAFETY: GIL held. "N" steals `shape` (non-NULL); "O" takes new
        // references to True and None; the integers are passed as the C
        // types their codes name.
        unsafe {
            Py_BuildValue(
                c"{s:N,s:s,s:(KO),s:O,s:i}".as_ptr(),
                c"shape".as_ptr(),
                shape,
                c"typestr".as_ptr(),
                typestr.as_ptr(),
                c"data".as_ptr(),
                f.data.as_ptr() as std::ffi::c_ulonglong,
                Py_True(),
                c"strides".as_ptr(),
                Py_None(),
                c"version".as_ptr(),
                3 as c_int,
            )
        }
    })
}

static ENCODE: Signature = Signature {
    function: "encode",
    params: &["compression", "threads"],
    positional: 0,
    required: 0,
};

unsafe extern "C" fn frame_encode(
    object: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [compression, threads] = unsafe { ENCODE.parse(args, nargs, kwnames)? };
        let options = EncodeOptions::without_order(compression, threads)?;
        // SAFETY: `object` is a live Frame held by the caller for this call;
        // its pixels are immutable, so reading them without the GIL is sound.
        let frame = unsafe { frame_of(object) };
        let png = without_gil(|| encode_png(frame, options.compression, options.threads))?;
        bytes_from(&png)
    })
}

static WRITE: Signature = Signature {
    function: "write",
    params: &["path", "compression", "threads"],
    positional: 1,
    required: 1,
};

unsafe extern "C" fn frame_write(
    object: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [path, compression, threads] = unsafe { WRITE.parse(args, nargs, kwnames)? };
        let path = convert::path(path, "path")?;
        let options = EncodeOptions::without_order(compression, threads)?;
        // SAFETY: as in frame_encode.
        let frame = unsafe { frame_of(object) };
        without_gil(|| write_png(&path, frame, options.compression, options.threads))?;
        Ok(none())
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
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held; `object` is a live Frame.
        let [] = unsafe { TOBYTES.parse(args, nargs, kwnames)? };
        bytes_from(&unsafe { frame_of(object) }.data)
    })
}

static REDUCE_EX: Signature = Signature {
    function: "__reduce_ex__",
    params: &["protocol"],
    positional: 1,
    required: 1,
};

/// Pickling: `(bufpng._bufpng._frame_from_pickle, (pixels, width, height,
/// channels, depth, order, byteorder))`. With protocol 5 the pixels are a
/// pickle.PickleBuffer over the Frame's own (read-only, C-contiguous) export,
/// which a pickler with a buffer_callback sends out of band without copying
/// them; older protocols get a bytes copy.
unsafe extern "C" fn frame_reduce_ex(
    object: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held; `object` is a live Frame.
        let [protocol] = unsafe { REDUCE_EX.parse(args, nargs, kwnames)? };
        let protocol = convert::int(protocol, "protocol")?;
        // SAFETY: `object` is the live Frame this method was called on.
        let frame = unsafe { frame_of(object) };
        let pixels = if protocol >= 5 {
            // SAFETY: GIL held; each new reference is owned by `Owned`.
            unsafe {
                let pickle = Owned::new(PyImport_ImportModule(c"pickle".as_ptr()))?;
                let class = Owned::new(PyObject_GetAttrString(pickle.0, c"PickleBuffer".as_ptr()))?;
                Owned::new(PyObject_CallFunctionObjArgs(
                    class.0,
                    object,
                    ptr::null_mut::<PyObject>(),
                ))?
            }
        } else {
            Owned::new(bytes_from(&frame.data)?)?
        };
        // SAFETY: as above.
        let constructor = unsafe {
            let module = Owned::new(PyImport_ImportModule(c"bufpng._bufpng".as_ptr()))?;
            Owned::new(PyObject_GetAttrString(
                module.0,
                c"_frame_from_pickle".as_ptr(),
            ))?
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
        // SAFETY: GIL held; "N" steals the two owned references (handed
        // over with into_raw; Py_BuildValue releases them on failure too);
        // the integers are passed as the C unsigned ints "I" reads.
        not_null(unsafe {
            Py_BuildValue(
                c"(N(NIIIIss))".as_ptr(),
                constructor.into_raw(),
                pixels.into_raw(),
                std::ffi::c_uint::from(l.width),
                std::ffi::c_uint::from(l.height),
                std::ffi::c_uint::from(l.channels),
                std::ffi::c_uint::from(l.depth.bits()),
                order.as_ptr(),
                byteorder.as_ptr(),
            )
        })
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
    ],
    positional: 7,
    required: 7,
};

/// The other half of `__reduce_ex__`: a new Frame holding a copy of
/// `pixels` (bytes, or the out-of-band buffer the unpickler was given).
pub unsafe extern "C" fn frame_from_pickle(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [pixels, width, height, channels, depth, order, byteorder] =
            unsafe { FROM_PICKLE.parse(args, nargs, kwnames)? };
        let bad = |what: &str| {
            bufpng_core::error::value_error(format!(
                "cannot unpickle a bufpng.Frame: {what} (was the pickle made by bufpng?)"
            ))
        };
        let dimension = |object, name| -> PyResult<u32> {
            let n = convert::int(object, name)?;
            Ok(u32::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad(&format!("bad {name}")))?)
        };
        let layout = ImageLayout {
            width: dimension(width, "width")?,
            height: dimension(height, "height")?,
            channels: match convert::int(channels, "channels")? {
                n @ 1..=4 => n as u8,
                _ => return Err(bad("bad channels").into()),
            },
            depth: match convert::int(depth, "depth")? {
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
        let view = BufferView::acquire(pixels)?;
        let frame = view.copy_packed(layout, endian, order, storage(order))?;
        new_object(frame)
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

static mut GETSET: [PyGetSetDef; 13] = [
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
];

static mut METHODS: [PyMethodDef; 5] = [
    crate::method(
        c"encode",
        frame_encode,
        c"encode($self, /, *, compression=None, threads=None)
--

The frame as PNG file bytes (compression and threads as in bufpng.encode).",
    ),
    crate::method(
        c"write",
        frame_write,
        c"write($self, /, path, *, compression=None, threads=None)
--

Encode the frame as PNG and write it to path atomically, as bufpng.write.",
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
];

const DOC: &CStr = c"Frame(image, width=None, height=None, *, order=None)
--

An owned image: a copy of `image` (anything bufpng.encode accepts, including
another Frame) that exports the buffer protocol itself, read-only and
C-contiguous, with shape (h, w) for gray or (h, w, c), format 'B' or 'H'.
np.asarray(frame) is a zero-copy view; the Frame lives as long as any view.

order: the channel order of `image` (\"bgr\" by default, or a Frame's own
order); the Frame keeps its pixels in that order.";

fn slot(slot: c_int, pfunc: *mut c_void) -> PyType_Slot {
    PyType_Slot { slot, pfunc }
}

/// Creates the Frame type and adds it to `module` as `Frame`. Returns false
/// with an exception set on failure.
///
/// # Safety
/// GIL held; called once, from module init.
pub unsafe fn add_type(module: *mut PyObject) -> bool {
    let mut slots = [
        slot(Py_tp_doc, c(DOC).cast_mut().cast()),
        slot(Py_tp_new, frame_new as *mut c_void),
        slot(Py_tp_dealloc, frame_dealloc as *mut c_void),
        slot(Py_tp_repr, frame_repr as *mut c_void),
        slot(Py_tp_richcompare, frame_richcompare as *mut c_void),
        slot(Py_tp_getset, addr_of_mut!(GETSET).cast()),
        slot(Py_tp_methods, addr_of_mut!(METHODS).cast()),
        slot(Py_bf_getbuffer, frame_getbuffer as *mut c_void),
        slot(0, ptr::null_mut()),
    ];
    let mut spec = PyType_Spec {
        name: c(c"bufpng.Frame") as *const c_char,
        basicsize: std::mem::size_of::<FrameObject>() as c_int,
        itemsize: 0,
        // Final (no BASETYPE) and immutable like built-in types: no subclass
        // can add an __init__ that would change pixels a view already shows.
        flags: (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE) as _,
        slots: slots.as_mut_ptr(),
    };
    // SAFETY: spec and slots are valid for this call; CPython copies what it
    // keeps (the doc string too). The getset and method tables are statics.
    let tp = unsafe { PyType_FromSpec(&mut spec) };
    if tp.is_null() {
        return false;
    }
    FRAME_TYPE.store(tp.cast(), Ordering::Release);
    // SAFETY: module and tp live; PyModule_AddObjectRef does not steal, so
    // the reference from PyType_FromSpec stays with FRAME_TYPE for good.
    unsafe { PyModule_AddObjectRef(module, c(c"Frame"), tp) == 0 }
}
