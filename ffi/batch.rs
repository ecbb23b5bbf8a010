//! write_frames: drives the core's worker pool (`bufpng_core::batch`) from
//! the calling thread. The same loop (`drive`) serves write_animation, with
//! another sink. read_frames runs the same pool the other way (`Decoded`):
//! paths in, frames out, with the same ticks, progress and Ctrl-C handling.
//!
//! With the GIL held it takes the next frame (acquire the buffer, validate,
//! copy, release) and submits it; it waits for the workers with the GIL
//! released, in short ticks, so that between ticks it can run the progress
//! callback and `PyErr_CheckSignals` (Ctrl-C) on the calling thread. Any
//! failure stops feeding, shuts the pool down (queued frames are dropped,
//! frames being written finish atomically) and then raises.

use crate::args::{required, Signature};
use crate::buffer::BufferView;
use crate::convert::{self, given, optional_int, optional_str, replace_type_error};
use crate::decode::parse_options;
use crate::encode::take_frame;
use crate::errors::{call_guarded, restore, take_raised, with_context};
use crate::frame::{self, FrameType};
use crate::gil::without_gil;
use crate::image::{parse_durable, parse_geometry, parse_threads, EncodeOptions};
use crate::metadata::with_metadata;
use crate::module;
use crate::object::{none, path_to_py, type_name, Failure, Gil, Obj, Owned, PyResult};
use bufpng_core::batch::{Decoded, Files, Output, Pipeline, Sink};
use bufpng_core::error::type_error;
use bufpng_core::layout::check_stack;
use bufpng_core::pattern::FilePattern;
use bufpng_core::target::{plan_target, BatchTarget};
use bufpng_core::{Frame, Geometry, ImageLayout, Metadata};
use pyo3_ffi::*;
use std::path::{Path, PathBuf};
use std::ptr;
use std::time::Duration;

/// How long the calling thread waits for workers before it checks for
/// Ctrl-C again: short enough to feel immediate, long enough to cost nothing.
const TICK: Duration = Duration::from_millis(50);

static WRITE_FRAMES: Signature = Signature {
    function: "write_frames",
    params: with_metadata![
        "frames",
        "width",
        "height",
        "channels",
        "stride",
        "directory",
        "pattern",
        "start",
        "order",
        "compression",
        "threads",
        "progress",
        "durable",
    ],
    positional: 3,
    required: 1,
};

pub unsafe extern "C" fn write_frames(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments for this call.
        let [frames, width, height, channels, stride, directory, pattern, start, order, compression, threads, progress, durable, mut metadata @ ..] =
            unsafe { WRITE_FRAMES.parse::<22>(gil, args, nargs, kwnames)? };
        // Per-frame text is taken frame by frame; a mapping is every file's.
        let frame_text = FrameText::parse(metadata[0])?;
        if frame_text.is_some() {
            metadata[0] = None;
        }
        let size = parse_geometry(width, height, channels, stride)?;
        let directory = match given(directory) {
            None => PathBuf::from("."),
            Some(directory) => convert::path(directory, "directory")?,
        };
        let pattern = FilePattern::parse(
            &optional_str(pattern, "pattern")?.unwrap_or_else(|| "frame_%05d.png".into()),
        )?;
        let start = optional_int(start, "start")?.unwrap_or(0);
        let options = EncodeOptions::parse(order, compression, threads, &metadata)?;
        let progress = Progress::parse(progress)?;
        let mut files = Files::new(Output {
            directory,
            pattern,
            start,
            compression: options.compression,
            durable: parse_durable(durable)?,
            metadata: options.metadata.clone(),
        });
        let mut source = Source::new(required(frames), &size, &mut files, "write_frames")?;
        let threads = source.threads(options.threads);
        let mut pipeline = Pipeline::new(files, threads)?;
        let outcome = drive(
            gil,
            &mut source,
            &mut pipeline,
            &size,
            &options,
            progress.as_ref(),
            frame_text.as_ref(),
        );
        // Joins the workers; every path goes through here before raising.
        without_gil(gil, || pipeline.shutdown());
        if let Some(progress) = &progress {
            progress.finish(outcome.is_ok())?;
        }
        let count = outcome?;
        let output = pipeline.sink().output();
        let paths: Vec<PathBuf> = (0..count).map(|index| output.path(index)).collect();
        path_list(gil, &paths)
    })
}

/// The feeding loop: returns the number of frames when every one has gone
/// through the sink, or the first failure. The sink's own work for finished
/// frames (an animation's file writes) runs here with the GIL released.
pub fn drive<S: Sink + Send>(
    gil: Gil<'_>,
    source: &mut Source,
    pipeline: &mut Pipeline<S>,
    size: &Geometry,
    options: &EncodeOptions,
    progress: Option<&Progress>,
    text: Option<&FrameText<'_>>,
) -> PyResult<usize> {
    let total = source.total();
    let report = |done| progress.map_or(Ok(()), |p| p.call(done, total));
    let (mut taken, mut done) = (0, 0);
    let mut exhausted = false;
    report(done)?;
    loop {
        let mut next = None;
        if !exhausted && pipeline.has_room() {
            let index = taken;
            match source.next()? {
                Some(item) => {
                    // One thread: the pipeline's workers are busy encoding
                    // the frames taken before this one.
                    let frame = take_frame(item.get(), size, options.order, 1)
                        .and_then(|frame| {
                            pipeline.sink().check(index, &frame.layout)?;
                            Ok(frame)
                        })
                        .map_err(|f| with_context(gil, f, || format!("frames[{index}]")))?;
                    // Outside the context above: the callable's own
                    // exceptions pass unchanged.
                    if let Some(own) = text.map(|t| t.for_frame(index)).transpose()?.flatten() {
                        pipeline.sink().add_frame_text(index, own)?;
                    }
                    taken += 1;
                    next = Some((index, frame));
                }
                None => exhausted = true,
            }
        }
        if exhausted && next.is_none() && pipeline.in_flight() == 0 {
            return Ok(taken);
        }
        let finished = without_gil(gil, || {
            if let Some((index, frame)) = next {
                pipeline.submit(index, frame)?;
            }
            // Only block when there is nothing to feed meanwhile.
            let wait = (exhausted || !pipeline.has_room()).then_some(TICK);
            pipeline.collect(wait)
        })?;
        for frame in finished {
            let index = frame.index;
            frame
                .result
                .map_err(|e| Failure::from(e.context(format!("frames[{index}]"))))?;
            done += 1;
            report(done)?;
        }
        // SAFETY: GIL held (the token); runs Python's signal handlers
        // (KeyboardInterrupt for Ctrl-C) and returns -1 with their exception set.
        if unsafe { PyErr_CheckSignals() } < 0 {
            return Err(Failure::Raised);
        }
    }
}

/// write_frames' per-frame `text=`: a callable text(index) or a sequence
/// with one entry per frame, each a mapping of str to str or None.
pub enum FrameText<'py> {
    Callable(Obj<'py>),
    Sequence(Owned),
}

impl<'py> FrameText<'py> {
    /// None when `text` is absent or a mapping (every file's text, parsed
    /// with the other metadata).
    pub fn parse(text: Option<Obj<'py>>) -> PyResult<Option<FrameText<'py>>> {
        let Some(text) = given(text) else {
            return Ok(None);
        };
        // SAFETY: live object, GIL held; type checks, and PySequence_Tuple
        // gives a new reference or NULL with an exception set.
        unsafe {
            if PyCallable_Check(text.as_ptr()) != 0 {
                return Ok(Some(FrameText::Callable(text)));
            }
            if PyList_Check(text.as_ptr()) != 0 || PyTuple_Check(text.as_ptr()) != 0 {
                let tuple = Owned::new(PySequence_Tuple(text.as_ptr()))?;
                return Ok(Some(FrameText::Sequence(tuple)));
            }
        }
        Ok(None)
    }

    /// Frame `index`'s own text, checked; None when it has none.
    fn for_frame(&self, index: usize) -> PyResult<Option<Vec<(String, String)>>> {
        let (entry, what) = match self {
            FrameText::Callable(function) => {
                // SAFETY: GIL held; a live callable; new references or NULL
                // with the callable's own exception set, passed on as it is.
                let result = unsafe {
                    let argument = Owned::new(PyLong_FromSize_t(index))?;
                    Owned::new(PyObject_CallFunctionObjArgs(
                        function.as_ptr(),
                        argument.as_ptr(),
                        ptr::null_mut::<PyObject>(),
                    ))?
                };
                (result, format!("text({index})"))
            }
            FrameText::Sequence(tuple) => {
                // SAFETY: a live tuple, GIL held (Owned); the size, and an
                // in-range item borrowed from the tuple, which holds it.
                let item = unsafe {
                    let len = PyTuple_Size(tuple.as_ptr()) as usize;
                    if index >= len {
                        return Err(bufpng_core::error::value_error(format!(
                            "text has {len} entries but there are more frames: pass one per frame (None for no text)"
                        ))
                        .into());
                    }
                    Obj::borrowed(
                        tuple.get().gil(),
                        PyTuple_GetItem(tuple.as_ptr(), index as Py_ssize_t),
                    )
                    .expect("an in-range tuple item")
                    .to_owned()
                };
                (item, format!("text[{index}]"))
            }
        };
        let Some(entry) = given(Some(entry.get())) else {
            return Ok(None);
        };
        let text = crate::metadata::parse_text(entry, &what)?;
        bufpng_core::metadata::check_text(&text)?;
        Ok(Some(text))
    }
}

/// The frames argument: a snapshot of a list or tuple (validated up front),
/// or an iterator consumed one frame at a time.
pub enum Source {
    Snapshot {
        tuple: Owned,
        next: usize,
    },
    Lazy {
        iterator: Owned,
        total: Option<usize>,
    },
}

impl Source {
    /// `sink` checks each frame of a list before anything is written;
    /// `function` names the caller in messages.
    pub fn new(
        frames: Obj<'_>,
        size: &Geometry,
        sink: &mut impl Sink,
        function: &str,
    ) -> PyResult<Source> {
        let gil = frames.gil();
        reject_single_frame(frames, function)?;
        // SAFETY: live object, GIL held. PySequence_Tuple and
        // PyObject_GetIter return new references (or NULL with an exception).
        unsafe {
            if PyList_Check(frames.as_ptr()) != 0 || PyTuple_Check(frames.as_ptr()) != 0 {
                // A tuple copy, so other threads changing the caller's list
                // while the GIL is released cannot affect the batch.
                let tuple = Owned::new(PySequence_Tuple(frames.as_ptr()))?;
                // Items borrowed for as long as `tuple` lives, which holds them.
                let held = tuple.get().gil();
                for i in 0..PyTuple_Size(tuple.as_ptr()) {
                    let item = Obj::borrowed(held, PyTuple_GetItem(tuple.as_ptr(), i))
                        .expect("an in-range tuple item");
                    check_frame(item, size)
                        .and_then(|layout| Ok(sink.check(i as usize, &layout)?))
                        .map_err(|f| with_context(gil, f, || format!("frames[{i}]")))?;
                }
                return Ok(Source::Snapshot { tuple, next: 0 });
            }
            let iterator = Owned::new(PyObject_GetIter(frames.as_ptr())).map_err(|_| {
                replace_type_error(gil, || {
                    format!(
                        "{function} takes an iterable of frames (a list, a generator, a 4-D array...), got {}",
                        type_name(frames)
                    )
                })
            })?;
            Ok(Source::Lazy {
                total: known_length(frames)?,
                iterator,
            })
        }
    }

    /// `threads`, but never more workers than frames when the count is known.
    pub fn threads(&self, threads: usize) -> usize {
        self.total().map_or(threads, |n| threads.min(n.max(1)))
    }

    /// The number of frames, when the object knows it (None for generators).
    pub fn total(&self) -> Option<usize> {
        match self {
            Source::Snapshot { tuple, .. } => {
                // SAFETY: a live tuple, GIL held (Owned).
                Some(unsafe { PyTuple_Size(tuple.as_ptr()) } as usize)
            }
            Source::Lazy { total, .. } => *total,
        }
    }

    /// The next frame object, or None at the end; iteration errors propagate as raised.
    fn next(&mut self) -> PyResult<Option<Owned>> {
        match self {
            Source::Snapshot { tuple, next } => {
                let gil = tuple.get().gil();
                // SAFETY: a live tuple, GIL held; PyTuple_GetItem borrows an
                // in-range item (NULL past the end), held by the tuple, and
                // we take our own reference to it.
                unsafe {
                    if *next as Py_ssize_t >= PyTuple_Size(tuple.as_ptr()) {
                        return Ok(None);
                    }
                    let item =
                        Obj::borrowed(gil, PyTuple_GetItem(tuple.as_ptr(), *next as Py_ssize_t));
                    *next += 1;
                    Ok(item.map(Obj::to_owned))
                }
            }
            Source::Lazy { iterator, .. } => {
                // SAFETY: a live iterator, GIL held (Owned); PyIter_Next
                // returns a new reference, or NULL at the end (no exception)
                // or on error (exception set).
                unsafe {
                    match Owned::new(PyIter_Next(iterator.as_ptr())) {
                        Ok(item) => Ok(Some(item)),
                        Err(_) if PyErr_Occurred().is_null() => Ok(None),
                        Err(failure) => Err(failure),
                    }
                }
            }
        }
    }
}

/// `len(frames)` for objects that have one (a 4-D array), else None.
fn known_length(frames: Obj<'_>) -> PyResult<Option<usize>> {
    // SAFETY: live object, GIL held. Objects without __len__ raise
    // TypeError, which only means "unknown"; anything else propagates.
    unsafe {
        let n = PyObject_Size(frames.as_ptr());
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        if PyErr_ExceptionMatches(PyExc_TypeError) != 0 {
            PyErr_Clear();
            return Ok(None);
        }
        Err(Failure::Raised)
    }
}

/// Only validates `image` (used to check a whole list before writing).
fn check_frame(image: Obj<'_>, size: &Geometry) -> PyResult<ImageLayout> {
    let view = BufferView::acquire(image)?;
    Ok(view.plan(size)?.layout)
}

/// `write_frames(frame)` with one image would iterate over its rows and write
/// each row as a picture; say so instead. A 4-D array (a batch) is fine, and
/// a 3-D one when its last axis cannot be channels (`check_stack`, the rule
/// `bufpng npy` follows too).
fn reject_single_frame(frames: Obj<'_>, function: &str) -> PyResult<()> {
    // SAFETY: live object, GIL held; PyObject_CheckBuffer only inspects the type.
    let exports_buffer = unsafe { PyObject_CheckBuffer(frames.as_ptr()) } != 0;
    if !exports_buffer {
        return Ok(());
    }
    let view = BufferView::acquire(frames)?;
    let what = || {
        format!(
            "{function} takes a sequence of frames, but got one {}-dimensional {}",
            view.desc().shape.len(),
            type_name(frames)
        )
    };
    match view.desc().shape.len() {
        3 => check_stack(view.desc().shape).map_err(|e| e.context(what()).into()),
        4.. => Ok(()),
        _ => Err(type_error(format!(
            "{}: use write() for a single image, or wrap it in a list: [frame]",
            what()
        ))
        .into()),
    }
}

/// The `progress` argument: a callable `progress(done, total)`, or True for
/// the progress bar of `bufpng._progress` (which is then closed on every path).
pub struct Progress {
    callback: Owned,
    is_bar: bool,
}

impl Progress {
    pub fn parse(progress: Option<Obj<'_>>) -> PyResult<Option<Progress>> {
        let Some(progress) = given(progress) else {
            return Ok(None);
        };
        // SAFETY: live object, GIL held. New references from
        // PyImport_ImportModule / PyObject_GetAttrString / PyObject_CallNoArgs
        // are owned by `Owned` (NULL means an exception is set).
        unsafe {
            if progress.as_ptr() == Py_False() {
                return Ok(None);
            }
            if progress.as_ptr() == Py_True() {
                let module = Owned::new(PyImport_ImportModule(c"bufpng._progress".as_ptr()))?;
                let class = Owned::new(PyObject_GetAttrString(
                    module.as_ptr(),
                    c"ProgressBar".as_ptr(),
                ))?;
                let bar = Owned::new(PyObject_CallNoArgs(class.as_ptr()))?;
                return Ok(Some(Progress {
                    callback: bar,
                    is_bar: true,
                }));
            }
            if PyCallable_Check(progress.as_ptr()) == 0 {
                return Err(type_error(format!(
                    "progress must be None, True (a progress bar on stderr) or a callable progress(done, total), got {}",
                    type_name(progress)
                ))
                .into());
            }
        }
        Ok(Some(Progress {
            callback: progress.to_owned(),
            is_bar: false,
        }))
    }

    fn call(&self, done: usize, total: Option<usize>) -> PyResult<()> {
        let gil = self.callback.get().gil();
        // SAFETY: GIL held (Owned); new references are owned by `Owned` or
        // stolen by PyTuple_SetItem; the result is owned and dropped.
        unsafe {
            let args = Owned::new(PyTuple_New(2))?;
            let done = Owned::new(PyLong_FromSize_t(done))?;
            let total = match total {
                Some(n) => Owned::new(PyLong_FromSize_t(n))?,
                None => none(gil),
            };
            PyTuple_SetItem(args.as_ptr(), 0, done.into_raw());
            PyTuple_SetItem(args.as_ptr(), 1, total.into_raw());
            Owned::new(PyObject_CallObject(self.callback.as_ptr(), args.as_ptr())).map(drop)
        }
    }

    /// Ends the bar's line (a callback of the caller's needs nothing). After
    /// a failure the pending exception is kept, and an error from close
    /// itself is dropped in its favour.
    pub fn finish(&self, succeeded: bool) -> PyResult<()> {
        if !self.is_bar {
            return Ok(());
        }
        let gil = self.callback.get().gil();
        let pending = if succeeded { None } else { take_raised(gil) };
        // SAFETY: GIL held (Owned); a new reference or NULL comes back.
        let closed = unsafe {
            Owned::new(PyObject_CallMethod(
                self.callback.as_ptr(),
                c"close".as_ptr(),
                std::ptr::null(),
            ))
        };
        match pending {
            Some(pending) => {
                drop(take_raised(gil));
                restore(pending);
                Err(Failure::Raised)
            }
            None => closed.map(drop),
        }
    }
}

/// A new Python list of str paths.
fn path_list(gil: Gil<'_>, paths: &[PathBuf]) -> PyResult<Owned> {
    // SAFETY: GIL held (the token); PyList_New returns a new reference or
    // NULL; PyList_SetItem steals each item's reference.
    unsafe {
        let list = Owned::new(PyList_New(paths.len() as Py_ssize_t))?;
        for (i, path) in paths.iter().enumerate() {
            let item = path_to_py(gil, path)?;
            PyList_SetItem(list.as_ptr(), i as Py_ssize_t, item.into_raw());
        }
        Ok(list)
    }
}

static READ_FRAMES: Signature = Signature {
    function: "read_frames",
    params: &[
        "paths",
        "out",
        "threads",
        "progress",
        "order",
        "max_bytes",
        "strict",
    ],
    positional: 1,
    required: 1,
};

pub unsafe extern "C" fn read_frames(
    module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments and module for this call.
        let ([paths, out, threads, progress, order, max_bytes, strict], frame_type) = unsafe {
            (
                READ_FRAMES.parse(gil, args, nargs, kwnames)?,
                module::frame_type(gil, module),
            )
        };
        let paths = path_vec(required(paths))?;
        let options = parse_options(order, max_bytes, strict)?;
        let threads = parse_threads(threads)?.min(paths.len().max(1));
        let mut places = Places::new(out, frame_type, paths.len())?;
        let progress = Progress::parse(progress)?;
        let mut pipeline = Pipeline::new(Decoded::new(options), threads)?;
        let outcome = read_all(gil, &paths, &mut pipeline, &mut places, progress.as_ref());
        // Joins the workers; every path goes through here before raising.
        without_gil(gil, || pipeline.shutdown());
        if let Some(progress) = &progress {
            progress.finish(outcome.is_ok())?;
        }
        outcome?;
        places.result(gil)
    })
}

/// read_frames' loop, the mirror of `drive`: submits paths while there is
/// room, collects decoded frames with the GIL released in short ticks, and
/// puts each in its place on the calling thread (a new Frame, or a copy into
/// out[i] with the GIL held), with progress and Ctrl-C between ticks.
fn read_all(
    gil: Gil<'_>,
    paths: &[PathBuf],
    pipeline: &mut Pipeline<Decoded, PathBuf>,
    places: &mut Places<'_>,
    progress: Option<&Progress>,
) -> PyResult<()> {
    let total = Some(paths.len());
    let report = |done| progress.map_or(Ok(()), |p| p.call(done, total));
    let (mut taken, mut done) = (0, 0);
    report(done)?;
    while done < paths.len() {
        let next = (taken < paths.len() && pipeline.has_room()).then_some(taken);
        taken += usize::from(next.is_some());
        let finished = without_gil(gil, || {
            if let Some(index) = next {
                pipeline.submit(index, paths[index].clone())?;
            }
            // Only block when there is nothing to feed meanwhile.
            let wait = (taken == paths.len() || !pipeline.has_room()).then_some(TICK);
            pipeline.collect(wait)
        })?;
        for read in finished {
            let index = read.index;
            read.result
                .map_err(|e| Failure::from(e.context(format!("paths[{index}]"))))?;
        }
        for (index, read) in pipeline.sink().take() {
            places
                .put(index, read, &paths[index])
                .map_err(|f| with_context(gil, f, || format!("paths[{index}]")))?;
            done += 1;
            report(done)?;
        }
        // SAFETY: GIL held (the token); runs Python's signal handlers
        // (KeyboardInterrupt for Ctrl-C) and returns -1 with their exception set.
        if unsafe { PyErr_CheckSignals() } < 0 {
            return Err(Failure::Raised);
        }
    }
    Ok(())
}

/// Where read_frames puts frame i: a new Frame in slot i of the list it
/// returns, or out[i] of the caller's buffer.
enum Places<'py> {
    Frames(FrameType<'py>, Vec<Option<Owned>>),
    Out {
        object: Obj<'py>,
        view: BufferView<'py>,
        batch: BatchTarget,
    },
}

impl<'py> Places<'py> {
    fn new(out: Option<Obj<'py>>, frame_type: FrameType<'py>, count: usize) -> PyResult<Self> {
        let Some(object) = given(out) else {
            return Ok(Places::Frames(
                frame_type,
                (0..count).map(|_| None).collect(),
            ));
        };
        let view = BufferView::acquire_writable(object)?;
        let batch = BatchTarget::new(&view.desc(), count)?;
        Ok(Places::Out {
            object,
            view,
            batch,
        })
    }

    /// Puts file `index`'s frame in its place; its metadata goes into the
    /// Frame's `info` (a batch array has nowhere to keep it).
    fn put(&mut self, index: usize, read: (Frame, Metadata), path: &Path) -> PyResult<()> {
        let (frame, metadata) = read;
        match self {
            Places::Frames(frame_type, frames) => {
                frames[index] = Some(frame::new_object_with(*frame_type, frame, metadata)?);
            }
            Places::Out { view, batch, .. } => {
                let what = path.display().to_string();
                let plan = plan_target(&batch.item(&view.desc()), &frame.layout, &what)?;
                view.write_frame(&frame, &plan, batch.step * index as isize)?;
            }
        }
        Ok(())
    }

    /// The list of Frames in the paths' order, or `out`.
    fn result(self, _: Gil<'_>) -> PyResult<Owned> {
        match self {
            Places::Out { object, .. } => Ok(object.to_owned()),
            Places::Frames(_, frames) => {
                // SAFETY: GIL held (the token); PyList_New returns a new
                // reference or NULL; PyList_SetItem steals each item.
                unsafe {
                    let list = Owned::new(PyList_New(frames.len() as Py_ssize_t))?;
                    for (i, frame) in frames.into_iter().enumerate() {
                        let frame = frame.ok_or_else(|| {
                            anyhow::anyhow!("bufpng internal error: frame {i} was not read")
                        })?;
                        PyList_SetItem(list.as_ptr(), i as Py_ssize_t, frame.into_raw());
                    }
                    Ok(list)
                }
            }
        }
    }
}

/// The paths argument: any iterable of str, bytes or os.PathLike paths,
/// converted up front (with the GIL held) so workers only see PathBufs.
fn path_vec(paths: Obj<'_>) -> PyResult<Vec<PathBuf>> {
    let gil = paths.gil();
    // SAFETY: live object, GIL held. PyObject_GetIter and PyIter_Next return
    // new references owned by `Owned`; NULL from PyIter_Next without an
    // exception is the end.
    unsafe {
        let single = PyUnicode_Check(paths.as_ptr()) != 0
            || PyBytes_Check(paths.as_ptr()) != 0
            || PyObject_HasAttrString(paths.as_ptr(), c"__fspath__".as_ptr()) != 0;
        if single {
            return Err(type_error(
                "read_frames takes a list (or any iterable) of paths, got a single path: use read() for one file, or wrap it in a list: [path]",
            )
            .into());
        }
        let iterator = Owned::new(PyObject_GetIter(paths.as_ptr())).map_err(|_| {
            replace_type_error(gil, || {
                format!(
                    "read_frames takes an iterable of paths (a list, sorted(glob(...)), a generator...), got {}",
                    type_name(paths)
                )
            })
        })?;
        let mut out = Vec::new();
        loop {
            let item = PyIter_Next(iterator.as_ptr());
            if item.is_null() {
                if PyErr_Occurred().is_null() {
                    return Ok(out);
                }
                return Err(Failure::Raised);
            }
            let item = Owned::new(item)?;
            let index = out.len();
            out.push(convert::path(item.get(), &format!("paths[{index}]"))?);
        }
    }
}
