//! bufpng's CPython boundary: every line that touches the C API lives in
//! this directory.
//!
//! - `lib.rs`: the module definition and `PyInit__bufpng`.
//! - `args.rs`: METH_FASTCALL argument parsing.
//! - `buffer.rs`: the `Py_buffer` owner (acquire, validate, copy, release).
//! - `convert.rs`: Python objects to Rust values and back.
//! - `errors.rs`: core errors and panics to Python exceptions.
//! - `gil.rs`: releasing the GIL for encoding and file I/O.
//! - `encode.rs`: encode, write.
//! - `batch.rs`: write_frames (drives the core's worker pool).
//!
//! The safe core (`bufpng_core`, in `src/`) does the actual work.

mod args;
mod batch;
mod buffer;
mod convert;
mod encode;
mod errors;
mod gil;

use convert::c;
use pyo3_ffi::*;
use std::ptr::{self, addr_of_mut};

/// A METH_FASTCALL | METH_KEYWORDS entry for the method table.
const fn method(
    name: &'static std::ffi::CStr,
    function: PyCFunctionFastWithKeywords,
    doc: &'static std::ffi::CStr,
) -> PyMethodDef {
    PyMethodDef {
        ml_name: c(name),
        ml_meth: PyMethodDefPointer {
            PyCFunctionFastWithKeywords: function,
        },
        ml_flags: METH_FASTCALL | METH_KEYWORDS,
        ml_doc: c(doc),
    }
}

// The first docstring line plus "--" is how CPython derives
// __text_signature__, so inspect.signature() and help() show real signatures.
static mut METHODS: [PyMethodDef; 4] = [
    method(
        c"encode",
        encode::encode,
        c"encode($module, /, image, width=None, height=None, *, order=None, compression=None)
--

Encode an image buffer as PNG and return the file's bytes.

image: any buffer exporter: a numpy array of shape (h, w) or (h, w, c) with
c in 1..4 (uint8 or uint16), or flat bytes/bytearray/memoryview/array.array
together with width and height (the channel count follows from the length).
order: \"bgr\" (default, OpenCV's order) or \"rgb\"; ignored for 1-2 channels.
compression: None (fast default) or 0-9 as OpenCV's IMWRITE_PNG_COMPRESSION.",
    ),
    method(
        c"write",
        encode::write,
        c"write($module, /, path, image, width=None, height=None, *, order=None, compression=None)
--

Encode an image buffer as PNG and write it to path atomically.

The file appears complete or not at all: bufpng writes a temporary file in
the same directory and renames it. I/O errors are OSError with .filename.",
    ),
    method(
        c"write_frames",
        batch::write_frames,
        c"write_frames($module, /, frames, width=None, height=None, *, directory='.', pattern='frame_%05d.png', start=0, order=None, compression=None, threads=None, progress=None)
--

Write each frame to directory/(pattern % (start + i)) and return the paths.

frames: any iterable of images, each as encode() takes them. A list or
tuple is checked completely before the first file is written; other
iterables (generators, a 4-D array) are consumed lazily, holding at most
about 2 x threads frames at once. Errors name the frame, e.g. frames[3].
pattern: exactly one integer placeholder (%d, %05d...). directory is created
if missing; existing files are replaced atomically.
threads: None = one per CPU core, 1 = write in the calling thread, N = N
worker threads. Frames are copied with the GIL held and encoded and written
with it released; the files are byte-identical whatever threads is.
progress: None, True (a progress bar on stderr) or a callable
progress(done, total) called on the calling thread, first with done=0;
total is None when the length is unknown. If it raises, the batch stops.
On an error or Ctrl-C the batch stops promptly and the exception propagates:
files completed so far stay, and no partial file is ever left.",
    ),
    PyMethodDef::zeroed(),
];

static mut MODULE: PyModuleDef = PyModuleDef {
    m_base: PyModuleDef_HEAD_INIT,
    m_name: c(c"bufpng._bufpng"),
    m_doc: c(c"Image buffers from Python memory to PNG files: the native part of bufpng."),
    m_size: 0,
    // Only the address is taken (no unsafe needed); CPython reads the table.
    m_methods: addr_of_mut!(METHODS).cast(),
    m_slots: ptr::null_mut(),
    m_traverse: None,
    m_clear: None,
    m_free: None,
};

/// The module's entry point, found by name when Python imports `_bufpng`.
///
/// # Safety
/// Called by CPython's import machinery with the GIL held.
#[no_mangle]
pub unsafe extern "C" fn PyInit__bufpng() -> *mut PyObject {
    // SAFETY: MODULE is only ever handed to CPython, which owns its use.
    let module = PyModule_Create(addr_of_mut!(MODULE));
    if module.is_null() {
        return module;
    }
    let version = concat!(env!("CARGO_PKG_VERSION"), "\0");
    if PyModule_AddStringConstant(module, c(c"__version__"), version.as_ptr().cast()) < 0 {
        Py_DECREF(module);
        return ptr::null_mut();
    }
    module
}
