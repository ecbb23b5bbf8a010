//! The smallest complete buffer consumer: `write_png(path, frame, width, height)`
//! writes a uint8 RGB image held by any buffer exporter (numpy array, bytes,
//! memoryview...) to a PNG file. docs/buffer-protocol.md walks through it.

use pyo3_ffi::*;
use std::ffi::{c_char, c_int, c_void, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, addr_of_mut};

/// A filled `Py_buffer`; `Drop` releases it on every path. Boxed because an
/// exporter may point `shape` and `strides` into the struct itself
/// (`PyBuffer_FillInfo` does), so it must not move once filled.
struct Buffer(Box<Py_buffer>);

impl Buffer {
    /// Asks for what this consumer handles: strides (crops and flips are
    /// described, not refused) and format (the sample type); read-only.
    unsafe fn get(object: *mut PyObject) -> Option<Buffer> {
        let mut view = Box::new(Py_buffer::new());
        if PyObject_GetBuffer(object, &mut *view, PyBUF_RECORDS_RO) != 0 {
            return None; // the exporter's exception stands
        }
        Some(Buffer(view))
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: filled by a successful PyObject_GetBuffer, released once,
        // here; the GIL is held wherever a Buffer exists.
        unsafe { PyBuffer_Release(&mut *self.0) }
    }
}

/// "B" in struct syntax, with or without a byte-order prefix (ctypes writes
/// "<B"; order means nothing for one byte). NULL means "B".
unsafe fn is_unsigned_byte(format: *const c_char) -> bool {
    format.is_null()
        || matches!(CStr::from_ptr(format).to_bytes(), b"B" | b"@B" | b"=B" | b"<B" | b">B" | b"!B")
}

/// Sets `exception` with `message`; None, for `return raise(...)`.
unsafe fn raise<T>(exception: *mut PyObject, message: &str) -> Option<T> {
    let message = CString::new(message.replace('\0', "?")).unwrap_or_default();
    PyErr_SetString(exception, message.as_ptr());
    None
}

/// The frame's pixels, packed in C order; None with an exception set.
/// GIL held: no other thread runs Python code meanwhile (C code that released
/// the GIL still can write: see the tutorial's "Threads").
unsafe fn copy_pixels(frame: *mut PyObject, width: isize, height: isize) -> Option<Vec<u8>> {
    if PyUnicode_Check(frame) != 0 {
        return raise(PyExc_TypeError, "expected an image buffer such as a numpy array, got str: text is not pixels. str(frame) gives the array's printed text; pass the array itself");
    }
    let buffer = Buffer::get(frame)?;
    let view = &*buffer.0;
    if view.itemsize != 1 || !is_unsigned_byte(view.format) {
        let format = match view.format.is_null() {
            true => "B".into(),
            false => CStr::from_ptr(view.format).to_string_lossy(),
        };
        return raise(PyExc_TypeError, &format!("expected uint8 samples (format 'B'), got format '{format}' with itemsize {}: convert with frame.astype(np.uint8)", view.itemsize));
    }
    let expected = width.checked_mul(height).and_then(|n| n.checked_mul(3));
    if expected != Some(view.len) {
        return raise(PyExc_ValueError, &format!("buffer length does not match width={width}, height={height}: got {} bytes, expected 3 * width * height (RGB)", view.len));
    }
    let mut pixels = vec![0u8; view.len as usize];
    // One call for every layout: a memcpy when the view is C-contiguous, a
    // walk along the strides otherwise.
    if PyBuffer_ToContiguous(pixels.as_mut_ptr().cast(), view, view.len, b'C' as c_char) != 0 {
        return None;
    }
    Some(pixels) // `buffer` drops here: PyBuffer_Release
}

/// Encodes in memory, then writes the file. Touches no Python object, so it
/// runs with the GIL released.
fn encode(path: &Path, width: u32, height: u32, rgb: &[u8]) -> anyhow::Result<()> {
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?; // the IEND chunk: without it the file is truncated
    std::fs::write(path, png)?;
    Ok(())
}

unsafe extern "C" fn write_png(_module: *mut PyObject, args: *mut PyObject) -> *mut PyObject {
    parse_and_write(args).unwrap_or(ptr::null_mut()) // None: an exception is set
}

unsafe fn parse_and_write(args: *mut PyObject) -> Option<*mut PyObject> {
    let (mut path, mut frame): (*mut PyObject, *mut PyObject) = (ptr::null_mut(), ptr::null_mut());
    let (mut width, mut height): (isize, isize) = (0, 0);
    // O& with PyUnicode_FSConverter: path may be str, bytes or os.PathLike.
    let fs: unsafe extern "C" fn(*mut PyObject, *mut c_void) -> c_int = PyUnicode_FSConverter;
    let spec = c"O&Onn:write_png".as_ptr();
    if PyArg_ParseTuple(args, spec, fs, &mut path, &mut frame, &mut width, &mut height) == 0 {
        return None;
    }
    let bytes = CStr::from_ptr(PyBytes_AsString(path)).to_bytes(); // FSConverter made bytes
    let file = Path::new(OsStr::from_bytes(bytes)).to_owned();
    Py_DECREF(path);
    let positive = |n: isize| u32::try_from(n).ok().filter(|&n| n > 0);
    let (Some(w), Some(h)) = (positive(width), positive(height)) else {
        let message = format!("width and height must be positive, got {width} and {height}");
        return raise(PyExc_ValueError, &message);
    };
    let pixels = copy_pixels(frame, width, height)?;
    // SAFETY: the closure owns or borrows only Rust data; the thread state
    // is restored on every path, panics included (caught, not unwound into C).
    let state = PyEval_SaveThread();
    let result = catch_unwind(AssertUnwindSafe(|| encode(&file, w, h, &pixels)));
    PyEval_RestoreThread(state);
    match result {
        Ok(Ok(())) => Some(Py_NewRef(Py_None())),
        Ok(Err(error)) => match error.downcast_ref::<std::io::Error>() {
            Some(io) if io.raw_os_error().is_some() => {
                // CPython's own OSError for this errno (FileNotFoundError...) naming the file.
                *libc::__errno_location() = io.raw_os_error().unwrap_or_default();
                PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, PyTuple_GetItem(args, 0));
                None
            }
            _ => raise(PyExc_ValueError, &format!("cannot write {file:?}: {error:#}")),
        },
        Err(_) => raise(PyExc_SystemError, "write_png panicked: please report it"),
    }
}

static mut METHODS: [PyMethodDef; 2] = [
    PyMethodDef {
        ml_name: c"write_png".as_ptr(),
        ml_meth: PyMethodDefPointer { PyCFunction: write_png },
        ml_flags: METH_VARARGS,
        ml_doc: c"write_png($module, path, frame, width, height, /)\n--\n\nWrite a uint8 RGB image buffer of 3 * width * height bytes to a PNG file.".as_ptr(),
    },
    PyMethodDef::zeroed(),
];

/// Py_mod_exec: runs on the new module object. Modules with state or types
/// create them here; this one only adds its version.
unsafe extern "C" fn exec_module(module: *mut PyObject) -> c_int {
    PyModule_AddStringConstant(
        module,
        c"__version__".as_ptr(),
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast(),
    )
}

static mut SLOTS: [PyModuleDef_Slot; 2] = [
    PyModuleDef_Slot { slot: Py_mod_exec, value: exec_module as *mut c_void },
    PyModuleDef_Slot { slot: 0, value: ptr::null_mut() },
];

static mut MODULE: PyModuleDef = PyModuleDef {
    m_base: PyModuleDef_HEAD_INIT,
    m_name: c"bufpng_minimal".as_ptr(),
    m_doc: c"The smallest complete buffer consumer in Rust.".as_ptr(),
    m_size: 0, // no per-module state (-1 would mean C globals: no subinterpreters)
    m_methods: addr_of_mut!(METHODS).cast(),
    m_slots: addr_of_mut!(SLOTS).cast(),
    m_traverse: None,
    m_clear: None,
    m_free: None,
};

/// Multi-phase init (PEP 489): return the definition; CPython creates the
/// module and runs the slots.
///
/// # Safety
/// Called by the import machinery, with the GIL held.
#[no_mangle]
pub unsafe extern "C" fn PyInit_bufpng_minimal() -> *mut PyObject {
    PyModuleDef_Init(addr_of_mut!(MODULE))
}
