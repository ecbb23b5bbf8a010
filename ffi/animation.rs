//! write_animation and read_animation: many frames in one APNG file.
//!
//! write_animation runs write_frames' loop (`batch::drive`) with the core's
//! `apng::Assembler` as the sink: frames are copied under the GIL, encoded
//! in parallel, and written in order into one temporary file that is renamed
//! into place only when every frame is in.

use crate::args::{required, Signature};
use crate::batch::{drive, Progress, Source};
use crate::buffer::BufferView;
use crate::convert::{self, float, given, optional_int};
use crate::decode::parse_options;
use crate::errors::call_guarded;
use crate::file::{self, Destination};
use crate::frame;
use crate::gil::without_gil;
use crate::image::{durable_needs_a_path, parse_durable, parse_geometry, EncodeOptions};
use crate::metadata::{self, with_metadata};
use crate::module;
use crate::object::{
    bytes_from, has_attribute, none, type_name, Failure, Gil, Obj, Owned, PyResult,
};
use bufpng_core::apng::{
    decode_animation, read_animation, AnimationOutput, Assembler, Delay, Delays,
    Destination as AnimationDestination,
};
use bufpng_core::batch::Pipeline;
use bufpng_core::encode::check_png_name;
use bufpng_core::error::{type_error, value_error};
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
        "channels",
        "stride",
        "fps",
        "durations",
        "loop",
        "order",
        "compression",
        "threads",
        "progress",
        "durable",
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
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments for this call.
        let [path, frames, width, height, channels, stride, fps, durations, plays, order, compression, threads, progress, durable, metadata @ ..] =
            unsafe { WRITE_ANIMATION.parse::<23>(gil, args, nargs, kwnames)? };
        let common = [
            width,
            height,
            channels,
            stride,
            fps,
            durations,
            plays,
            order,
            compression,
            threads,
            progress,
        ];
        let durable = parse_durable(durable)?;
        let function = "write_animation";
        match Destination::parse(required(path), "path")? {
            Destination::Path(path) => {
                check_png_name(&path)?;
                let to = AnimationDestination::Path(path);
                animate(
                    gil,
                    required(frames),
                    &common,
                    &metadata,
                    durable,
                    to,
                    function,
                )?;
            }
            Destination::File(_) if durable => return Err(durable_needs_a_path()),
            Destination::File(file) => {
                let to = AnimationDestination::Memory;
                let png = animate(
                    gil,
                    required(frames),
                    &common,
                    &metadata,
                    false,
                    to,
                    function,
                )?;
                file::write_all(file, &png.unwrap_or_default())?;
            }
        }
        Ok(none(gil))
    })
}

static ENCODE_ANIMATION: Signature = Signature {
    function: "encode_animation",
    params: with_metadata![
        "frames",
        "width",
        "height",
        "channels",
        "stride",
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
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments for this call.
        let [frames, common @ .., t, d, s, g, i, c, m, l, md] =
            unsafe { ENCODE_ANIMATION.parse::<21>(gil, args, nargs, kwnames)? };
        let metadata = [t, d, s, g, i, c, m, l, md];
        let to = AnimationDestination::Memory;
        let function = "encode_animation";
        let png = animate(
            gil,
            required(frames),
            &common,
            &metadata,
            false,
            to,
            function,
        )?;
        bytes_from(gil, &png.unwrap_or_default())
    })
}

/// write_animation's and encode_animation's shared body: `args` are the
/// arguments after `frames` that both take (width, height, channels,
/// stride, fps, durations, loop, order, compression, threads, progress).
/// Returns the bytes for `AnimationDestination::Memory`.
fn animate(
    gil: Gil<'_>,
    frames: Obj<'_>,
    args: &[Option<Obj<'_>>; 11],
    metadata: &metadata::Args<'_>,
    durable: bool,
    destination: AnimationDestination,
    function: &str,
) -> PyResult<Option<Vec<u8>>> {
    let [width, height, channels, stride, fps, durations, plays, order, compression, threads, progress] =
        *args;
    let size = parse_geometry(width, height, channels, stride)?;
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
    let options = EncodeOptions::parse(order, compression, threads, metadata)?;
    let progress = Progress::parse(progress)?;
    let mut assembler = Assembler::new(AnimationOutput {
        destination,
        compression: options.compression,
        delays: delays.clone(),
        plays,
        durable,
        metadata: Arc::new(options.metadata.clone()),
    });
    let mut source = Source::new(frames, &size, &mut assembler, function)?;
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
        gil,
        &mut source,
        &mut pipeline,
        &size,
        &options,
        progress.as_ref(),
        None,
    );
    // Joins the workers, then completes the file, or (on failure) drops
    // the assembler, which removes its temporary file.
    // (The outcome stays outside: a raised exception is a Python object.)
    let fed_all = outcome.is_ok();
    let finished = without_gil(gil, move || {
        let assembler = pipeline.into_sink();
        fed_all.then(|| assembler.finish())
    });
    let outcome = outcome.and_then(|_| Ok(finished.transpose()?.flatten()));
    if let Some(progress) = &progress {
        progress.finish(outcome.is_ok())?;
    }
    outcome
}

/// `fps` (default 25) or `durations` (seconds, one per frame), not both.
fn parse_delays(fps: Option<Obj<'_>>, durations: Option<Obj<'_>>) -> PyResult<Delays> {
    let Some(durations) = given(durations) else {
        let fps = match given(fps) {
            None => 25.0,
            Some(fps) => float(fps, "fps")?,
        };
        return Ok(Delays::Every(Delay::from_fps(fps)?));
    };
    if given(fps).is_some() {
        return Err(value_error(
            "pass either fps (the same delay for every frame) or durations (one per frame), not both",
        )
        .into());
    }
    // SAFETY: live object, GIL held; PySequence_Tuple returns a new
    // reference (owned by `Owned`) or NULL with an exception set;
    // PyTuple_GetItem borrows in-range items, held by the tuple.
    unsafe {
        if PySequence_Check(durations.as_ptr()) == 0 || PyUnicode_Check(durations.as_ptr()) != 0 {
            return Err(type_error(format!(
                "durations must be a sequence of seconds, one per frame (a list of floats), got {}",
                type_name(durations)
            ))
            .into());
        }
        let tuple = Owned::new(PySequence_Tuple(durations.as_ptr()))?;
        // Items borrowed for as long as `tuple` lives, which holds them.
        let held = tuple.get().gil();
        let mut delays = Vec::new();
        for i in 0..PyTuple_Size(tuple.as_ptr()) {
            let name = format!("durations[{i}]");
            let item = Obj::borrowed(held, PyTuple_GetItem(tuple.as_ptr(), i))
                .expect("an in-range tuple item");
            delays.push(Delay::from_seconds(float(item, &name)?, &name)?);
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
    module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and module for this call.
        let ([source, order, max_bytes, strict], frame_type) = unsafe {
            (
                READ_ANIMATION.parse(gil, args, nargs, kwnames)?,
                module::frame_type(gil, module),
            )
        };
        let source = required(source);
        let options = parse_options(order, max_bytes, strict)?;
        // SAFETY: live object, GIL held; PyObject_CheckBuffer only
        // inspects the type.
        let animation = if unsafe { PyObject_CheckBuffer(source.as_ptr()) } != 0 {
            // Copied under the GIL: a bytearray could change while we decode.
            let data = BufferView::acquire(source)?.copy_bytes()?;
            without_gil(gil, || decode_animation(&data, options))?
        } else {
            reject_non_path(source)?;
            let path = convert::path(source, "path_or_data")?;
            without_gil(gil, || read_animation(&path, options))?
        };
        // SAFETY: GIL held (the token). Every new reference is owned by
        // `Owned` or stolen by PyTuple_SetItem.
        unsafe {
            let frames = Owned::new(PyList_New(0))?;
            for image in animation.frames {
                let object = frame::new_object(frame_type, image)?;
                if PyList_Append(frames.as_ptr(), object.as_ptr()) < 0 {
                    return Err(Failure::Raised);
                }
            }
            let durations = Owned::new(PyList_New(0))?;
            for seconds in animation.durations {
                let object = Owned::new(PyFloat_FromDouble(seconds))?;
                if PyList_Append(durations.as_ptr(), object.as_ptr()) < 0 {
                    return Err(Failure::Raised);
                }
            }
            let plays = Owned::new(PyLong_FromUnsignedLong(animation.plays.into()))?;
            let info = crate::metadata::info(gil, &animation.metadata)?;
            let result = Owned::new(PyTuple_New(4))?;
            for (i, item) in [frames, durations, plays, info].into_iter().enumerate() {
                PyTuple_SetItem(result.as_ptr(), i as Py_ssize_t, item.into_raw());
            }
            Ok(result)
        }
    })
}

/// The one message for what is neither a path nor PNG data.
fn reject_non_path(source: Obj<'_>) -> PyResult<()> {
    let is_path =
        // SAFETY: live object, GIL held; a type check only.
        unsafe { PyUnicode_Check(source.as_ptr()) != 0 } || has_attribute(source, c"__fspath__")?;
    if is_path {
        return Ok(());
    }
    Err(type_error(format!(
        "path_or_data must be a path (str or os.PathLike) or the file's contents (bytes or another buffer), got {}",
        type_name(source)
    ))
    .into())
}
