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

use crate::args::Signature;
use crate::buffer::BufferView;
use crate::convert::{self, is_absent, optional_int, optional_str, Owned};
use crate::decode::parse_options;
use crate::encode::{parse_threads, take_frame, EncodeOptions, Size};
use crate::errors::{set_error, with_context, Failure, PyResult};
use crate::frame;
use crate::gil::without_gil;
use bufpng_core::batch::{Decoded, Files, Output, Pipeline, Sink};
use bufpng_core::pattern::FilePattern;
use bufpng_core::target::{plan_target, BatchTarget};
use bufpng_core::{Frame, ImageLayout};
use pyo3_ffi::*;
use std::path::PathBuf;
use std::ptr;
use std::time::Duration;

/// How long the calling thread waits for workers before it checks for
/// Ctrl-C again: short enough to feel immediate, long enough to cost nothing.
const TICK: Duration = Duration::from_millis(50);

static WRITE_FRAMES: Signature = Signature {
    function: "write_frames",
    params: &[
        "frames",
        "width",
        "height",
        "directory",
        "pattern",
        "start",
        "order",
        "compression",
        "threads",
        "progress",
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
    crate::errors::call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [frames, width, height, directory, pattern, start, order, compression, threads, progress] =
            unsafe { WRITE_FRAMES.parse(args, nargs, kwnames)? };
        let size = Size::parse(width, height)?;
        let directory = if is_absent(directory) {
            PathBuf::from(".")
        } else {
            convert::path(directory, "directory")?
        };
        let pattern = FilePattern::parse(
            &optional_str(pattern, "pattern")?.unwrap_or_else(|| "frame_%05d.png".into()),
        )?;
        let start = optional_int(start, "start")?.unwrap_or(0);
        let options = EncodeOptions::parse(order, compression, threads)?;
        let progress = Progress::parse(progress)?;
        let mut files = Files::new(Output {
            directory,
            pattern,
            start,
            compression: options.compression,
        });
        let mut source = Source::new(frames, size, &mut files, "write_frames")?;
        let threads = source.threads(options.threads);
        let mut pipeline = Pipeline::new(files, threads)?;
        let outcome = drive(
            &mut source,
            &mut pipeline,
            size,
            &options,
            progress.as_ref(),
        );
        // Joins the workers; every path goes through here before raising.
        without_gil(|| pipeline.shutdown());
        if let Some(progress) = &progress {
            progress.finish(outcome.is_ok())?;
        }
        let count = outcome?;
        let output = pipeline.sink().output();
        let paths: Vec<PathBuf> = (0..count).map(|index| output.path(index)).collect();
        path_list(&paths)
    })
}

/// The feeding loop: returns the number of frames when every one has gone
/// through the sink, or the first failure. The sink's own work for finished
/// frames (an animation's file writes) runs here with the GIL released.
pub fn drive<S: Sink + Send>(
    source: &mut Source,
    pipeline: &mut Pipeline<S>,
    size: Size,
    options: &EncodeOptions,
    progress: Option<&Progress>,
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
                    let frame = take_frame(item.0, size, options.order)
                        .and_then(|frame| {
                            pipeline.sink().check(index, &frame.layout)?;
                            Ok(frame)
                        })
                        .map_err(|f| with_context(f, || format!("frames[{index}]")))?;
                    taken += 1;
                    next = Some((index, frame));
                }
                None => exhausted = true,
            }
        }
        if exhausted && next.is_none() && pipeline.in_flight() == 0 {
            return Ok(taken);
        }
        let finished = without_gil(|| {
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
        // SAFETY: GIL held; runs Python's signal handlers (KeyboardInterrupt
        // for Ctrl-C) and returns -1 with their exception set.
        if unsafe { PyErr_CheckSignals() } < 0 {
            return Err(Failure::Raised);
        }
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
        frames: *mut PyObject,
        size: Size,
        sink: &mut impl Sink,
        function: &str,
    ) -> PyResult<Source> {
        reject_single_frame(frames, function)?;
        // SAFETY: GIL held, `frames` is live. PySequence_Tuple and
        // PyObject_GetIter return new references (or NULL with an exception).
        unsafe {
            if PyList_Check(frames) != 0 || PyTuple_Check(frames) != 0 {
                // A tuple copy, so other threads changing the caller's list
                // while the GIL is released cannot affect the batch.
                let tuple = Owned::new(PySequence_Tuple(frames))?;
                for i in 0..PyTuple_Size(tuple.0) {
                    check_frame(PyTuple_GetItem(tuple.0, i), size)
                        .and_then(|layout| Ok(sink.check(i as usize, &layout)?))
                        .map_err(|f| with_context(f, || format!("frames[{i}]")))?;
                }
                return Ok(Source::Snapshot { tuple, next: 0 });
            }
            let iterator = iterate(frames, || {
                format!(
                    "{function} takes an iterable of frames (a list, a generator, a 4-D array...)"
                )
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
            // SAFETY: a live tuple.
            Source::Snapshot { tuple, .. } => Some(unsafe { PyTuple_Size(tuple.0) } as usize),
            Source::Lazy { total, .. } => *total,
        }
    }

    /// The next frame object, or None at the end; iteration errors propagate as raised.
    fn next(&mut self) -> PyResult<Option<Owned>> {
        match self {
            Source::Snapshot { tuple, next } => {
                // SAFETY: a live tuple; PyTuple_GetItem borrows an in-range
                // item (NULL past the end, with IndexError, which we avoid),
                // and we take our own reference to it.
                unsafe {
                    if *next as Py_ssize_t >= PyTuple_Size(tuple.0) {
                        return Ok(None);
                    }
                    let item = PyTuple_GetItem(tuple.0, *next as Py_ssize_t);
                    *next += 1;
                    Py_INCREF(item);
                    Ok(Some(Owned(item)))
                }
            }
            Source::Lazy { iterator, .. } => {
                // SAFETY: a live iterator; PyIter_Next returns a new reference,
                // or NULL at the end (no exception) or on error (exception set).
                unsafe {
                    let item = PyIter_Next(iterator.0);
                    if !item.is_null() {
                        Ok(Some(Owned(item)))
                    } else if PyErr_Occurred().is_null() {
                        Ok(None)
                    } else {
                        Err(Failure::Raised)
                    }
                }
            }
        }
    }
}

/// `iter(object)`; a TypeError (not iterable) is replaced by "`what`, got
/// <type>", other errors propagate.
fn iterate(object: *mut PyObject, what: impl FnOnce() -> String) -> PyResult<Owned> {
    // SAFETY: GIL held, `object` live; PyObject_GetIter returns a new
    // reference or NULL with an exception set.
    unsafe {
        let iterator = PyObject_GetIter(object);
        if iterator.is_null() {
            if PyErr_ExceptionMatches(PyExc_TypeError) != 0 {
                PyErr_Clear();
                set_error(
                    PyExc_TypeError,
                    &format!("{}, got {}", what(), convert::type_name(object)),
                );
            }
            return Err(Failure::Raised);
        }
        Ok(Owned(iterator))
    }
}

/// `len(frames)` for objects that have one (a 4-D array), else None.
fn known_length(frames: *mut PyObject) -> PyResult<Option<usize>> {
    // SAFETY: GIL held, `frames` live. Objects without __len__ raise
    // TypeError, which only means "unknown"; anything else propagates.
    unsafe {
        let n = PyObject_Size(frames);
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
fn check_frame(image: *mut PyObject, size: Size) -> PyResult<ImageLayout> {
    let view = BufferView::acquire(image)?;
    Ok(view.plan(size.width, size.height)?.layout)
}

/// `write_frames(frame)` with one image would iterate over its rows and write
/// each row as a picture; say so instead. A 4-D array (a batch) is fine.
fn reject_single_frame(frames: *mut PyObject, function: &str) -> PyResult<()> {
    // SAFETY: GIL held; PyObject_CheckBuffer only inspects the type.
    let exports_buffer = unsafe { PyObject_CheckBuffer(frames) } != 0;
    if !exports_buffer {
        return Ok(());
    }
    let view = BufferView::acquire(frames)?;
    if view.desc().shape.len() >= 4 {
        return Ok(());
    }
    // SAFETY: GIL held.
    unsafe {
        set_error(
            PyExc_TypeError,
            &format!(
                "{function} takes a sequence of frames, but got one {}-dimensional {}: use write() for a single image, or wrap it in a list: [frame]",
                view.desc().shape.len(),
                convert::type_name(frames)
            ),
        )
    };
    Err(Failure::Raised)
}

/// The `progress` argument: a callable `progress(done, total)`, or True for
/// the progress bar of `bufpng._progress` (which is then closed on every path).
pub struct Progress {
    callback: Owned,
    is_bar: bool,
}

impl Progress {
    pub fn parse(progress: *mut PyObject) -> PyResult<Option<Progress>> {
        // SAFETY: GIL held; `progress` is NULL or live. New references from
        // PyImport_ImportModule / PyObject_GetAttrString / PyObject_CallNoArgs
        // are owned by `Owned` (NULL means an exception is set).
        unsafe {
            if is_absent(progress) || progress == Py_False() {
                return Ok(None);
            }
            if progress == Py_True() {
                let module = Owned::new(PyImport_ImportModule(c"bufpng._progress".as_ptr()))?;
                let class = Owned::new(PyObject_GetAttrString(module.0, c"ProgressBar".as_ptr()))?;
                let bar = Owned::new(PyObject_CallNoArgs(class.0))?;
                return Ok(Some(Progress {
                    callback: bar,
                    is_bar: true,
                }));
            }
            if PyCallable_Check(progress) == 0 {
                set_error(
                    PyExc_TypeError,
                    &format!(
                        "progress must be None, True (a progress bar on stderr) or a callable progress(done, total), got {}",
                        convert::type_name(progress)
                    ),
                );
                return Err(Failure::Raised);
            }
            Py_INCREF(progress);
            Ok(Some(Progress {
                callback: Owned(progress),
                is_bar: false,
            }))
        }
    }

    fn call(&self, done: usize, total: Option<usize>) -> PyResult<()> {
        // SAFETY: GIL held; the argument objects are new references stolen
        // by PyTuple_SetItem (or released on failure); the result is owned.
        unsafe {
            let args = Owned::new(PyTuple_New(2))?;
            let done = PyLong_FromSize_t(done);
            let total = match total {
                Some(n) => PyLong_FromSize_t(n),
                None => convert::none(),
            };
            if done.is_null() || total.is_null() {
                Py_XDECREF(done);
                Py_XDECREF(total);
                return Err(Failure::Raised);
            }
            PyTuple_SetItem(args.0, 0, done);
            PyTuple_SetItem(args.0, 1, total);
            Owned::new(PyObject_CallObject(self.callback.0, args.0)).map(drop)
        }
    }

    /// Ends the bar's line (a callback of the caller's needs nothing). After
    /// a failure the pending exception is kept, and an error from close
    /// itself is dropped in its favour.
    pub fn finish(&self, succeeded: bool) -> PyResult<()> {
        if !self.is_bar {
            return Ok(());
        }
        // SAFETY: GIL held; PyErr_Fetch hands over owned references (maybe
        // NULL) that PyErr_Restore takes back.
        unsafe {
            let (mut kind, mut value, mut traceback) =
                (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
            if !succeeded {
                PyErr_Fetch(&mut kind, &mut value, &mut traceback);
            }
            let closed = PyObject_CallMethod(self.callback.0, c"close".as_ptr(), ptr::null());
            let result = Owned::new(closed).map(drop);
            if !succeeded {
                PyErr_Clear();
                PyErr_Restore(kind, value, traceback);
            }
            result
        }
    }
}

/// A new Python list of str paths.
fn path_list(paths: &[PathBuf]) -> PyResult<*mut PyObject> {
    // SAFETY: GIL held; PyList_New returns a new reference; PyList_SetItem
    // steals each item's reference; on failure the list is released.
    unsafe {
        let list = PyList_New(paths.len() as Py_ssize_t);
        if list.is_null() {
            return Err(Failure::Raised);
        }
        for (i, path) in paths.iter().enumerate() {
            let item = convert::path_to_py(path);
            if item.is_null() {
                Py_DECREF(list);
                return Err(Failure::Raised);
            }
            PyList_SetItem(list, i as Py_ssize_t, item);
        }
        Ok(list)
    }
}

static READ_FRAMES: Signature = Signature {
    function: "read_frames",
    params: &["paths", "out", "threads", "progress", "order", "max_bytes"],
    positional: 1,
    required: 1,
};

pub unsafe extern "C" fn read_frames(
    _module: *mut PyObject,
    args: *const *mut PyObject,
    nargs: Py_ssize_t,
    kwnames: *mut PyObject,
) -> *mut PyObject {
    crate::errors::call_guarded(|| {
        // SAFETY: CPython's fastcall arguments, GIL held.
        let [paths, out, threads, progress, order, max_bytes] =
            unsafe { READ_FRAMES.parse(args, nargs, kwnames)? };
        let paths = path_vec(paths)?;
        let options = parse_options(order, max_bytes)?;
        let threads = parse_threads(threads)?.min(paths.len().max(1));
        let mut places = Places::new(out, paths.len())?;
        let progress = Progress::parse(progress)?;
        let mut pipeline = Pipeline::new(Decoded::new(options), threads)?;
        let outcome = read_all(&paths, &mut pipeline, &mut places, progress.as_ref());
        // Joins the workers; every path goes through here before raising.
        without_gil(|| pipeline.shutdown());
        if let Some(progress) = &progress {
            progress.finish(outcome.is_ok())?;
        }
        outcome?;
        places.result()
    })
}

/// read_frames' loop, the mirror of `drive`: submits paths while there is
/// room, collects decoded frames with the GIL released in short ticks, and
/// puts each in its place on the calling thread (a new Frame, or a copy into
/// out[i] with the GIL held), with progress and Ctrl-C between ticks.
fn read_all(
    paths: &[PathBuf],
    pipeline: &mut Pipeline<Decoded, PathBuf>,
    places: &mut Places,
    progress: Option<&Progress>,
) -> PyResult<()> {
    let total = Some(paths.len());
    let report = |done| progress.map_or(Ok(()), |p| p.call(done, total));
    let (mut taken, mut done) = (0, 0);
    report(done)?;
    while done < paths.len() {
        let next = (taken < paths.len() && pipeline.has_room()).then_some(taken);
        taken += usize::from(next.is_some());
        let finished = without_gil(|| {
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
        for (index, frame) in pipeline.sink().take() {
            places
                .put(index, frame, &paths[index])
                .map_err(|f| with_context(f, || format!("paths[{index}]")))?;
            done += 1;
            report(done)?;
        }
        // SAFETY: GIL held; runs Python's signal handlers (KeyboardInterrupt
        // for Ctrl-C) and returns -1 with their exception set.
        if unsafe { PyErr_CheckSignals() } < 0 {
            return Err(Failure::Raised);
        }
    }
    Ok(())
}

/// Where read_frames puts frame i: a new Frame in slot i of the list it
/// returns, or out[i] of the caller's buffer.
enum Places {
    Frames(Vec<Option<Owned>>),
    Out {
        object: *mut PyObject,
        view: BufferView,
        batch: BatchTarget,
    },
}

impl Places {
    fn new(out: *mut PyObject, count: usize) -> PyResult<Places> {
        if is_absent(out) {
            return Ok(Places::Frames((0..count).map(|_| None).collect()));
        }
        let view = BufferView::acquire_writable(out)?;
        let batch = BatchTarget::new(&view.desc(), count)?;
        Ok(Places::Out {
            object: out,
            view,
            batch,
        })
    }

    fn put(&mut self, index: usize, frame: Frame, path: &std::path::Path) -> PyResult<()> {
        match self {
            Places::Frames(frames) => {
                frames[index] = Some(Owned(frame::new_object(frame)?));
            }
            Places::Out { view, batch, .. } => {
                let what = path.display().to_string();
                let plan = plan_target(&batch.item(&view.desc()), &frame.layout, &what)?;
                let offset = batch.step * index as isize;
                view.write_frame(&frame, &plan, offset)?;
            }
        }
        Ok(())
    }

    /// The list of Frames in the paths' order, or `out` (new references).
    fn result(self) -> PyResult<*mut PyObject> {
        match self {
            Places::Out { object, .. } => {
                // SAFETY: the caller's live argument, returned as a new reference.
                unsafe { Py_INCREF(object) };
                Ok(object)
            }
            Places::Frames(frames) => {
                // SAFETY: GIL held; PyList_New returns a new reference;
                // PyList_SetItem steals each item's reference.
                unsafe {
                    let list = Owned::new(PyList_New(frames.len() as Py_ssize_t))?;
                    for (i, frame) in frames.into_iter().enumerate() {
                        let frame = frame.ok_or_else(|| {
                            anyhow::anyhow!("bufpng internal error: frame {i} was not read")
                        })?;
                        PyList_SetItem(list.0, i as Py_ssize_t, frame.into_raw());
                    }
                    Ok(list.into_raw())
                }
            }
        }
    }
}

/// The paths argument: any iterable of str, bytes or os.PathLike paths,
/// converted up front (with the GIL held) so workers only see PathBufs.
fn path_vec(paths: *mut PyObject) -> PyResult<Vec<PathBuf>> {
    // SAFETY: GIL held, `paths` live. PyObject_GetIter and PyIter_Next return
    // new references owned by `Owned`; NULL from PyIter_Next without an
    // exception is the end.
    unsafe {
        let single = PyUnicode_Check(paths) != 0
            || PyBytes_Check(paths) != 0
            || PyObject_HasAttrString(paths, c"__fspath__".as_ptr()) != 0;
        if single {
            set_error(
                PyExc_TypeError,
                "read_frames takes a list (or any iterable) of paths, got a single path: use read() for one file, or wrap it in a list: [path]",
            );
            return Err(Failure::Raised);
        }
        let iterator = iterate(paths, || {
            "read_frames takes an iterable of paths (a list, sorted(glob(...)), a generator...)"
                .into()
        })?;
        let mut out = Vec::new();
        loop {
            let item = PyIter_Next(iterator.0);
            if item.is_null() {
                if PyErr_Occurred().is_null() {
                    return Ok(out);
                }
                return Err(Failure::Raised);
            }
            let item = Owned(item);
            let index = out.len();
            out.push(convert::path(item.0, &format!("paths[{index}]"))?);
        }
    }
}
