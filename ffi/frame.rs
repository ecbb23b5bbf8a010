//! `bufpng.Frame`: an owned image that exports the buffer protocol itself.
//!
//! The object holds a core `Frame` stored in its channel order with
//! native-endian samples, plus the shape and strides arrays its buffer export
//! points to (they must live as long as any view, so they live in the object;
//! each view holds a reference to it). The pixels never change after `tp_new`
//! (there is no `__init__` to call again and no setter), so views are
//! read-only and need no export count.

use crate::args::Signature;
use crate::convert::{self, bytes_from, c, none};
use crate::encode::{copy_image, EncodeOptions, Size};
use crate::errors::{call_guarded, set_error, PyResult};
use crate::file::Destination;
use crate::metadata::with_metadata;
use bufpng_core::{ChannelOrder, Depth, Endian, Metadata, PixelFormat};
use pyo3_ffi::*;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{self, addr_of_mut};
use std::sync::atomic::{AtomicPtr, Ordering};

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
    new_object_with(frame, Metadata::default())
}

/// A new bufpng.Frame owning `frame` and the file's `metadata`.
pub fn new_object_with(frame: bufpng_core::Frame, metadata: Metadata) -> PyResult<*mut PyObject> {
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
        ptr::write(addr_of_mut!((*this).metadata), metadata);
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
        ptr::drop_in_place(addr_of_mut!((*object.cast::<FrameObject>()).metadata));
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

unsafe extern "C" fn get_info(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython only calls the type's getters with a live Frame.
    call_guarded(|| crate::metadata::info(unsafe { &(*object.cast::<FrameObject>()).metadata }))
}

static ENCODE: Signature = Signature {
    function: "encode",
    params: with_metadata!["compression", "threads",],
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
        let [compression, threads, metadata @ ..] =
            unsafe { ENCODE.parse::<11>(args, nargs, kwnames)? };
        let options = EncodeOptions::without_order(compression, threads, &metadata)?;
        // SAFETY: `object` is a live Frame held by the caller for this call;
        // its pixels are immutable, so reading them without the GIL is sound.
        options.encode(unsafe { frame_of(object) })
    })
}

static WRITE: Signature = Signature {
    function: "write",
    params: with_metadata!["path", "compression", "threads",],
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
        let [path, compression, threads, metadata @ ..] =
            unsafe { WRITE.parse::<12>(args, nargs, kwnames)? };
        let destination = Destination::parse(path, "path")?;
        let options = EncodeOptions::without_order(compression, threads, &metadata)?;
        // SAFETY: as in frame_encode.
        options.write(destination, unsafe { frame_of(object) })?;
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

const fn getter(name: &'static CStr, get: getter, doc: &'static CStr) -> PyGetSetDef {
    PyGetSetDef {
        name: c(name),
        get: Some(get),
        set: None,
        doc: c(doc),
        closure: ptr::null_mut(),
    }
}

static mut GETSET: [PyGetSetDef; 8] = [
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
    PyGetSetDef {
        name: ptr::null(),
        get: None,
        set: None,
        doc: ptr::null(),
        closure: ptr::null_mut(),
    },
];

static mut METHODS: [PyMethodDef; 4] = [
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
        c"write($self, /, path, *, compression=None, threads=None, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, mastering_display=None, content_light_level=None, metadata=None)
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
