//! write_animation and read_animation: many frames in one APNG file.
//!
//! write_animation runs write_frames' loop (`batch::drive`) with the core's
//! `apng::Assembler` as the sink: frames are copied under the GIL, encoded
//! in parallel, and written in order into one temporary file that is renamed
//! into place only when every frame is in.

use crate::args::Signature;
use crate::batch::{drive, Progress, Source};
use crate::buffer::BufferView;
use crate::convert::{self, bytes_from, float, is_absent, optional_int, Owned};
use crate::decode::parse_options;
use crate::encode::{EncodeOptions, Size};
use crate::errors::{call_guarded, Failure, PyResult};
use crate::file::{self, Destination};
use crate::frame;
use crate::gil::without_gil;
use crate::metadata::with_metadata;
use bufpng_core::apng::{
    decode_animation, read_animation, AnimationOutput, Assembler, Delay, Delays,
    Destination as AnimationDestination,
};
use bufpng_core::batch::Pipeline;
use bufpng_core::error::value_error;
use pyo3_ffi::*;
use std::sync::Arc;

/// The PNG spec's limit for 4-byte unsigned integers such as acTL num_plays.
const MAX_LOOP: i64 = (1 << 31) - 1;

static WRITE_ANIMATION: Signature = Signature {
    function: "write_animation",
    params: with_metadata![
        "path",
        "frames",
        "width",
        "height",
        "fps",
        "durations",
        "loop",
        "order",
        "compression",
        "threads",
        "progress",
    ],
    positional: 4,
    required: 2,
};

pub unsafe extern "C" fn write_animation(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [path, frames, rest @ ..] =
            unsafe { WRITE_ANIMATION.parse::<20>(args, nargs, kwnames)? };
        match Destination::parse(path, "path")? {
            Destination::Path(path) => {
                animate(
                    frames,
                    &rest,
                    AnimationDestination::Path(path),
                    "write_animation",
                )?;
            }
            Destination::File(file) => {
                let png = animate(
                    frames,
                    &rest,
                    AnimationDestination::Memory,
                    "write_animation",
                )?;
                file::write_all(file, &png.unwrap_or_default())?;
            }
        }
        Ok(convert::none())
    })
}

static ENCODE_ANIMATION: Signature = Signature {
    function: "encode_animation",
    params: with_metadata![
        "frames",
        "width",
        "height",
        "fps",
        "durations",
        "loop",
        "order",
        "compression",
        "threads",
        "progress",
    ],
    positional: 3,
    required: 1,
};

pub unsafe extern "C" fn encode_animation(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [frames, rest @ ..] = unsafe { ENCODE_ANIMATION.parse::<19>(args, nargs, kwnames)? };
        let png = animate(
            frames,
            &rest,
            AnimationDestination::Memory,
            "encode_animation",
        )?;
        bytes_from(&png.unwrap_or_default())
    })
}

/// write_animation's and encode_animation's shared body: `args` are the
/// arguments after `frames` (width, height, fps, durations, loop, order,
/// compression, threads, progress, then the metadata keywords). Returns the
/// bytes for `AnimationDestination::Memory`.
fn animate(
    frames: *mut PyObject,
    args: &[*mut PyObject; 18],
    destination: AnimationDestination,
    function: &str,
) -> PyResult<Option<Vec<u8>>> {
    let [width, height, fps, durations, plays, order, compression, threads, progress, metadata @ ..] =
        *args;
    let size = Size::parse(width, height)?;
    let delays = parse_delays(fps, durations)?;
    let plays = match optional_int(plays, "loop")?.unwrap_or(0) {
        n @ 0..=MAX_LOOP => n as u32,
        n => {
            return Err(value_error(format!(
                "loop must be 0 (play forever) or the number of plays, 1-{MAX_LOOP}, got {n}"
            ))
            .into())
        }
    };
    let options = EncodeOptions::parse(order, compression, threads, &metadata)?;
    let progress = Progress::parse(progress)?;
    let mut assembler = Assembler::new(AnimationOutput {
        destination,
        compression: options.compression,
        delays: delays.clone(),
        plays,
        metadata: Arc::new(options.metadata.clone()),
    });
    let mut source = Source::new(frames, size, &mut assembler, function)?;
    match (source.total(), &delays) {
        (Some(0), _) => {
            return Err(
                value_error(format!("{function} needs at least one frame, got none")).into(),
            )
        }
        (Some(total), Delays::Each(each)) if each.len() != total => {
            return Err(value_error(format!(
                "durations has {} entries but frames has {total}: pass one duration per frame",
                each.len()
            ))
            .into())
        }
        _ => {}
    }
    let threads = source.threads(options.threads);
    let mut pipeline = Pipeline::new(assembler, threads)?;
    let outcome = drive(
        &mut source,
        &mut pipeline,
        size,
        &options,
        progress.as_ref(),
        None,
    );
    // Joins the workers, then completes the file, or (on failure) drops
    // the assembler, which removes its temporary file.
    let outcome = without_gil(move || {
        let assembler = pipeline.into_sink();
        outcome.map(|_| assembler.finish())
    })
    .and_then(|finished| Ok(finished?));
    if let Some(progress) = &progress {
        progress.finish(outcome.is_ok())?;
    }
    outcome
}

/// `fps` (default 25) or `durations` (seconds, one per frame), not both.
fn parse_delays(fps: *mut PyObject, durations: *mut PyObject) -> PyResult<Delays> {
    if is_absent(durations) {
        let fps = if is_absent(fps) {
            25.0
        } else {
            float(fps, "fps")?
        };
        return Ok(Delays::Every(Delay::from_fps(fps)?));
    }
    if !is_absent(fps) {
        return Err(value_error(
            "pass either fps (the same delay for every frame) or durations (one per frame), not both",
        )
        .into());
    }
    // SAFETY: GIL held, `durations` live; PySequence_Tuple returns a new
    // reference (owned by `Owned`) or NULL with an exception set;
    // PyTuple_GetItem borrows in-range items.
    unsafe {
        if PySequence_Check(durations) == 0 || PyUnicode_Check(durations) != 0 {
            return Err(bufpng_core::error::type_error(format!(
                "durations must be a sequence of seconds, one per frame (a list of floats), got {}",
                convert::type_name(durations)
            ))
            .into());
        }
        let tuple = Owned::new(PySequence_Tuple(durations))?;
        let mut delays = Vec::new();
        for i in 0..PyTuple_Size(tuple.0) {
            let name = format!("durations[{i}]");
            let seconds = float(PyTuple_GetItem(tuple.0, i), &name)?;
            delays.push(Delay::from_seconds(seconds, &name)?);
        }
        Ok(Delays::Each(delays))
    }
}

static READ_ANIMATION: Signature = Signature {
    function: "read_animation",
    params: &["path_or_data", "order", "max_bytes", "strict"],
    positional: 1,
    required: 1,
};

/// `_read_animation(path_or_data, *, order, max_bytes, strict)` -> (frames,
/// durations, loop, info); `bufpng.read_animation` wraps the result in an
/// `Animation`.
pub unsafe extern "C" fn read_animation_raw(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [source, order, max_bytes, strict] =
            unsafe { READ_ANIMATION.parse(args, nargs, kwnames)? };
        let options = parse_options(order, max_bytes, strict)?;
        // SAFETY: GIL held; PyObject_CheckBuffer only inspects the type.
        let animation = if unsafe { PyObject_CheckBuffer(source) } != 0 {
            // Copied under the GIL: a bytearray could change while we decode.
            let data = BufferView::acquire(source)?.copy_bytes()?;
            without_gil(|| decode_animation(&data, options))?
        } else {
            reject_non_path(source)?;
            let path = convert::path(source, "path_or_data")?;
            without_gil(|| read_animation(&path, options))?
        };
        // SAFETY: GIL held. Every new reference is either stolen by
        // PyList_SetItem / PyTuple_SetItem or owned by `Owned` (released on
        // the error paths).
        unsafe {
            let frames = Owned::new(PyList_New(0))?;
            for image in animation.frames {
                let object = Owned::new(frame::new_object(image)?)?;
                if PyList_Append(frames.0, object.0) < 0 {
                    return Err(Failure::Raised);
                }
            }
            let durations = Owned::new(PyList_New(0))?;
            for seconds in animation.durations {
                let object = Owned::new(PyFloat_FromDouble(seconds))?;
                if PyList_Append(durations.0, object.0) < 0 {
                    return Err(Failure::Raised);
                }
            }
            let plays = Owned::new(PyLong_FromUnsignedLong(animation.plays.into()))?;
            let info = Owned::new(crate::metadata::info(&animation.metadata)?)?;
            let result = Owned::new(PyTuple_New(4))?;
            for (i, item) in [frames, durations, plays, info].into_iter().enumerate() {
                PyTuple_SetItem(result.0, i as Py_ssize_t, item.into_raw());
            }
            Ok(result.into_raw())
        }
    })
}

/// The one message for what is neither a path nor PNG data.
fn reject_non_path(source: *mut PyObject) -> PyResult<()> {
    // SAFETY: GIL held, `source` live; type and attribute checks only.
    let is_path = unsafe {
        PyUnicode_Check(source) != 0 || PyObject_HasAttrString(source, c"__fspath__".as_ptr()) != 0
    };
    if is_path {
        return Ok(());
    }
    Err(bufpng_core::error::type_error(format!(
        "path_or_data must be a path (str or os.PathLike) or the file's contents (bytes or another buffer), got {}",
        convert::type_name(source)
    ))
    .into())
}
