//! bufpng's CPython boundary: every line that touches the C API lives in
//! this directory.
//!
//! - `lib.rs`: the module definition and `PyInit__bufpng`.
//! - `module.rs`: the per-interpreter module state and its life cycle.
//! - `args.rs`: METH_FASTCALL argument parsing.
//! - `buffer.rs`: the `Py_buffer` owner (acquire, validate, copy, release).
//! - `object.rs`: typed references (`Gil`, `Obj`, `Owned`) and failures.
//! - `convert.rs`: Python argument objects to Rust values.
//! - `image.rs`: encoding options, and an image buffer copied into a frame.
//! - `errors.rs`: core errors and panics to Python exceptions.
//! - `gil.rs`: releasing the GIL for encoding and file I/O.
//! - `encode.rs`: encode, write.
//! - `batch.rs`: write_frames (drives the core's worker pool).
//! - `animation.rs`: write_animation, encode_animation, read_animation (APNG,
//!   on the same loop).
//! - `frame.rs`: the bufpng.Frame type and its buffer export.
//! - `decode.rs`: decode, read.
//! - `metadata.rs`: the metadata keywords, and `Frame.info`.
//! - `file.rs`: binary file objects as destinations and sources.
//! - `describe.rs`: describe, the buffer protocol made visible.
//!
//! The safe core (`bufpng_core`, in `src/`) does the actual work.

// Every unsafe operation sits in an `unsafe` block of its own, with a
// `// SAFETY:` comment saying why it holds, even inside `unsafe fn`s.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod animation;
mod args;
mod batch;
mod buffer;
mod convert;
mod decode;
mod describe;
mod encode;
mod errors;
mod file;
mod frame;
mod gil;
mod image;
mod metadata;
mod module;
mod object;

use crate::object::c;
use pyo3_ffi::*;
use std::cell::UnsafeCell;
use std::mem::size_of;

/// Data that only CPython reads or writes, handed over by pointer: method
/// and getset tables, slot tables, the module definition (whose header
/// `PyModuleDef_Init` fills in). Rust code never touches the contents after
/// construction, so sharing them between threads is CPython's business,
/// done under its import lock and the GIL.
#[repr(transparent)]
pub struct ForCpython<T>(UnsafeCell<T>);

// SAFETY: see the type's comment: no Rust code reads or writes through the
// cell; CPython serialises its own accesses.
unsafe impl<T> Sync for ForCpython<T> {}

impl<T> ForCpython<T> {
    pub const fn new(value: T) -> Self {
        ForCpython(UnsafeCell::new(value))
    }

    /// The address CPython is given.
    pub const fn get(&self) -> *mut T {
        self.0.get()
    }
}

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
static METHODS: ForCpython<[PyMethodDef; 12]> = ForCpython::new([
    method(
        c"encode",
        encode::encode,
        c"encode($module, /, image, width=None, height=None, *, channels=None, stride=None, order=None, compression=None, threads=None, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, mastering_display=None, content_light_level=None, metadata=None)
--

Encode an image buffer as PNG and return the file's bytes.

image: any buffer exporter: a numpy array of shape (h, w) or (h, w, c) with
c in 1..4 (uint8 or uint16), or flat bytes/bytearray/memoryview/array.array
together with width and height.
channels: 1-4, for flat buffers. Without it the count follows from the length
only where one reading fits (1 or 3 bytes a pixel, or 16-bit samples); 2 or
4 bytes a pixel is a ValueError listing the readings (docs/api.md).
stride: bytes from one row's start to the next, for padded rows (ffmpeg's
linesize); with it, pass channels too.
order: \"bgr\" (default, OpenCV's order) or \"rgb\", in any case; ignored for
1-2 channels; a bufpng.Frame's own order when not given.
compression: None (fast default) or 0-9 as OpenCV's IMWRITE_PNG_COMPRESSION.
threads: None = up to one per CPU core, 1 = the calling thread only. The
default compression codes frames over 1 MiB in strips on several threads;
the bytes are the same whatever threads is.

Metadata, written before the image data (see docs/api.md, \"Metadata\"):
text: {key: value} (tEXt for Latin-1, iTXt for other text, compressed above
1 KiB; keys 1-79 printable Latin-1 characters). dpi: a number or (x, y)
(pHYs). srgb: True or a rendering intent 0-3. gamma: the file gamma (gAMA,
e.g. 0.45455). icc_profile: the profile's bytes (iCCP; not with srgb).
cicp: \"srgb\", \"display-p3\", \"bt2100-pq\", \"bt2100-hlg\" or (primaries,
transfer, matrix, full_range) (cICP, PNG Third Edition). mastering_display:
{\"primaries\": ((rx, ry), (gx, gy), (bx, by)), \"white_point\": (x, y),
\"max_luminance\": cd/m^2, \"min_luminance\": cd/m^2} (mDCV).
content_light_level: (max_cll, max_fall) in cd/m^2 (cLLI). metadata: a
mapping with these keys, such as a read Frame's info (keywords override
it; text entries merge).",

    ),
    method(
        c"write",
        encode::write,
        c"write($module, /, path, image, width=None, height=None, *, channels=None, stride=None, order=None, compression=None, threads=None, durable=False, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, mastering_display=None, content_light_level=None, metadata=None)
--

Encode an image buffer as PNG and write it to path atomically
(the other arguments as in encode).

The file appears complete or not at all: bufpng writes a temporary file in
the same directory and renames it. durable=True also fsyncs the file and
its directory before returning, so it survives a power loss. I/O errors are
OSError with errno, strerror and filename. A path ending in another image
format's suffix (.jpg, .webp...) is a ValueError: bufpng writes PNG only.
path may also be a binary file object (io.BytesIO, open(p, 'wb')): the PNG
is encoded without the GIL, then passed to its write() with the GIL held;
that is not atomic, and the file's own exceptions propagate unchanged.",
    ),
    method(
        c"write_frames",
        batch::write_frames,
        c"write_frames($module, /, frames, width=None, height=None, *, channels=None, stride=None, directory='.', pattern='frame_%05d.png', start=0, order=None, compression=None, threads=None, progress=None, durable=False, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, mastering_display=None, content_light_level=None, metadata=None)
--

Write each frame to directory/(pattern % (start + i)) and return the paths.

frames: any iterable of images, each as encode() takes them (width, height,
channels, stride apply to each), or one array of frames: 4-D, or 3-D
(n, height, width) when its last axis cannot be channels (a 3-D array whose
last axis is 1-4 is a ValueError: one image, or add an axis). A list or
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
files completed so far stay, and no partial file is ever left.
durable=True fsyncs each file and the directory, as in write.
Metadata as in encode, in every file. text may also be per frame: a
callable text(i) -> {key: value} or None, called on the calling thread as
frame i is taken (its exceptions propagate unchanged), or a list with one
such entry per frame; per-frame entries join those of metadata= (and
replace any with the same key).",
    ),
    method(
        c"write_animation",
        animation::write_animation,
        c"write_animation($module, /, path, frames, width=None, height=None, *, channels=None, stride=None, fps=25.0, durations=None, loop=0, order=None, compression=None, threads=None, progress=None, durable=False, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, mastering_display=None, content_light_level=None, metadata=None)
--

Write frames as one animated PNG (APNG) at path, atomically.

frames: as write_frames takes them; all must share size, channel count and
depth (a mismatch is a ValueError naming the frame; for a list, before
anything is written). Frame 0 is also the still image that viewers without
APNG support show.
fps: frames per second (default 25), or durations: seconds per frame, one
per frame (not both). loop: 0 = forever, else the number of plays.
channels, stride, order, compression, threads, progress, durable: as in
write_frames; frames are compressed in parallel and written in order. On an
error or Ctrl-C nothing is left at path (nor any temporary file). Metadata
as in encode, once for the file (before frame 0). path may also be a binary
file object, written once the whole animation is encoded (not atomic).",
    ),
    method(
        c"encode_animation",
        animation::encode_animation,
        c"encode_animation($module, /, frames, width=None, height=None, *, channels=None, stride=None, fps=25.0, durations=None, loop=0, order=None, compression=None, threads=None, progress=None, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, mastering_display=None, content_light_level=None, metadata=None)
--

The animated PNG (APNG) write_animation writes, returned as bytes (the
arguments as in write_animation).",
    ),
    method(
        c"_read_animation",
        animation::read_animation_raw,
        c"_read_animation($module, /, path_or_data, *, order='bgr', max_bytes=1073741824, strict=False)
--

Decode every frame of an APNG: returns (frames, durations, loop, info). Use
bufpng.read_animation, which returns an Animation.",
    ),
    method(
        c"decode",
        decode::decode,
        c"decode($module, /, data, *, out=None, order='bgr', max_bytes=1073741824, strict=False, threads=None)
--

Decode PNG file contents (bytes or any buffer) into a bufpng.Frame.

The frame has the layout cv2.imread(path, cv2.IMREAD_UNCHANGED) returns:
palettes expanded, low bit depths scaled to 8 bits, 16-bit kept, gray +
alpha as 4 channels (see docs/decoding.md). order: \"bgr\" or \"rgb\".
Corrupt or truncated data raises ValueError saying why. max_bytes caps the
pixel memory a file may claim (default bufpng.DEFAULT_MAX_BYTES, 1 GiB).
out: a writable buffer (numpy array or a slice of one such as batch[i], any
strides; or a flat bytearray/mmap/shared memory of exactly the frame's
bytes) to decode into instead; it is returned. Its shape and dtype must be
the frame's (a ValueError names both); a read-only buffer is a BufferError.
The file decodes to scratch memory first: out is only written once the
whole file has decoded.
The file's metadata is in the frame's info (not with out=). A corrupt
metadata chunk is skipped (the image is kept, as libpng does) unless
strict=True, which makes it a ValueError. data may also be a binary file
object: its read() is called with the GIL held and its exceptions
propagate unchanged. threads: files with PNG Restart Markers (bufpng
writes them for frames over 1 MiB) decode on up to this many threads
(None = one per core).",
    ),
    method(
        c"read",
        decode::read,
        c"read($module, /, path, *, out=None, order='bgr', max_bytes=1073741824, strict=False, threads=None)
--

Read a PNG file into a bufpng.Frame (or into out), as decode() does for bytes.

I/O errors are OSError with .filename; a file that is not a valid PNG
raises ValueError naming the file. path may also be a binary file object
(open(p, 'rb')), read with its read().",
    ),
    method(
        c"read_frames",
        batch::read_frames,
        c"read_frames($module, /, paths, *, out=None, threads=None, progress=None, order='bgr', max_bytes=1073741824,
            strict=False)
--

Read and decode many PNG files in parallel; the mirror of write_frames.

paths: any iterable of str, bytes or os.PathLike paths. Returns a list of
Frames in the paths' order, or, with out (a writable buffer of shape
(n, h, w[, c]) or a flat byte buffer of n equal frames), fills out[i] with
file i and returns out. Files are read and decoded on a bounded pool with
the GIL released (threads: None = one per CPU core, 1 = the calling thread);
at most about 2 x threads decoded frames wait in memory (with out; the
returned list holds them all otherwise). order, max_bytes and strict as in
read(); each returned Frame's info is its file's metadata.
progress: None, True (a bar on stderr) or progress(done, total).
The first file that fails raises: OSError with .filename for I/O, ValueError
naming the file when it does not decode, both noting paths[i]; Ctrl-C stops
promptly. out[i] of files decoded before the error are filled; the failing
file's slot is untouched.",
    ),
    method(
        c"_frame_from_pickle",
        frame::frame_from_pickle,
        c"_frame_from_pickle($module, pixels, width, height, channels, depth, order, byteorder,
                   metadata=None, /)
--

Rebuild a pickled bufpng.Frame (pickle calls this; see Frame.__reduce_ex__).",
    ),
    method(
        c"describe",
        describe::describe,
        c"describe($module, /, obj, request='records_ro')
--

Request obj's buffer as PyObject_GetBuffer(obj, view, flags) and return what
the exporter filled in: len, itemsize, format, ndim, shape, strides,
suboffsets, readonly, c_contiguous, f_contiguous (NULL fields are None).

request: a CPython PyBUF_* name in lower case without the prefix (\"simple\",
\"writable\", \"format\", \"nd\", \"strides\", \"c_contiguous\",
\"f_contiguous\", \"any_contiguous\", \"indirect\", \"contig\",
\"strided\", \"records\", \"full\" and the _ro variants of the last four),
or an int of OR-ed flags. When the exporter refuses the request its
exception (usually BufferError) propagates unchanged.",
    ),
    PyMethodDef::zeroed(),
]);

/// bufpng's module definition, with the slot table for one Python version.
/// Every interpreter that imports bufpng creates its own module object from
/// it (multi-phase init, PEP 489) and runs `module::exec` on it.
const fn definition(slots: *mut PyModuleDef_Slot) -> PyModuleDef {
    PyModuleDef {
        m_base: PyModuleDef_HEAD_INIT,
        m_name: c(c"bufpng._bufpng"),
        m_doc: c(c"Image buffers from Python memory to PNG files: the native part of bufpng."),
        m_size: size_of::<module::ModuleState>() as Py_ssize_t,
        m_methods: METHODS.get().cast(),
        m_slots: slots,
        m_traverse: Some(module::traverse),
        m_clear: Some(module::clear),
        m_free: Some(module::free),
    }
}

static MODULE_3_11: ForCpython<PyModuleDef> =
    ForCpython::new(definition(module::SLOTS_3_11.get().cast()));
static MODULE_3_12: ForCpython<PyModuleDef> =
    ForCpython::new(definition(module::SLOTS_3_12.get().cast()));
static MODULE_3_13: ForCpython<PyModuleDef> =
    ForCpython::new(definition(module::SLOTS_3_13.get().cast()));

/// The module's entry point, found by name when Python imports `_bufpng`.
/// It only hands CPython the definition for the running version; the
/// module object is created and filled in afterwards, per interpreter.
///
/// # Safety
/// Called by CPython's import machinery with the GIL held.
#[no_mangle]
pub unsafe extern "C" fn PyInit__bufpng() -> *mut PyObject {
    // SAFETY: Py_Version is a constant CPython exports (3.11+); the chosen
    // definition is handed to CPython, which initialises its header once.
    unsafe {
        let definition = match Py_Version {
            v if v >= 0x030D_0000 => &MODULE_3_13,
            v if v >= 0x030C_0000 => &MODULE_3_12,
            _ => &MODULE_3_11,
        };
        PyModuleDef_Init(definition.get())
    }
}
