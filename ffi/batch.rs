//! write_frames: drives the core's worker pool (`bufpng_core::batch`) from
//! the calling thread. The same loop (`drive`) serves write_animation, with
//! another sink.
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
use crate::encode::take_frame;
use crate::errors::{call_guarded, restore, take_raised, with_context};
use crate::gil::without_gil;
use crate::image::{EncodeOptions, Size};
use crate::object::{none, path_to_py, type_name, Failure, Gil, Obj, Owned, PyResult};
use bufpng_core::batch::{Files, Output, Pipeline, Sink};
use bufpng_core::error::type_error;
use bufpng_core::pattern::FilePattern;
use bufpng_core::ImageLayout;
use pyo3_ffi::*;
use std::path::PathBuf;
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
    // SAFETY: CPython calls native functions with the GIL held.
    let gil = unsafe { Gil::assume() };
    call_guarded(gil, |gil| {
        // SAFETY: CPython's fastcall arguments for this call.
        let [frames, width, height, directory, pattern, start, order, compression, threads, progress] =
            unsafe { WRITE_FRAMES.parse(gil, args, nargs, kwnames)? };
        let size = Size::parse(width, height)?;
        let directory = match given(directory) {
            None => PathBuf::from("."),
            Some(directory) => convert::path(directory, "directory")?,
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
        let mut source = Source::new(required(frames), size, &mut files, "write_frames")?;
        let threads = source.threads(options.threads);
        let mut pipeline = Pipeline::new(files, threads)?;
        let outcome = drive(
            gil,
            &mut source,
            &mut pipeline,
            size,
            &options,
            progress.as_ref(),
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
                    let frame = take_frame(item.get(), size, options.order)
                        .and_then(|frame| {
                            pipeline.sink().check(index, &frame.layout)?;
                            Ok(frame)
                        })
                        .map_err(|f| with_context(gil, f, || format!("frames[{index}]")))?;
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
        size: Size,
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
fn check_frame(image: Obj<'_>, size: Size) -> PyResult<ImageLayout> {
    let view = BufferView::acquire(image)?;
    Ok(view.plan(size.width, size.height)?.layout)
}

/// `write_frames(frame)` with one image would iterate over its rows and write
/// each row as a picture; say so instead. A 4-D array (a batch) is fine.
fn reject_single_frame(frames: Obj<'_>, function: &str) -> PyResult<()> {
    // SAFETY: live object, GIL held; PyObject_CheckBuffer only inspects the type.
    let exports_buffer = unsafe { PyObject_CheckBuffer(frames.as_ptr()) } != 0;
    if !exports_buffer {
        return Ok(());
    }
    let view = BufferView::acquire(frames)?;
    if view.desc().shape.len() >= 4 {
        return Ok(());
    }
    Err(type_error(format!(
        "{function} takes a sequence of frames, but got one {}-dimensional {}: use write() for a single image, or wrap it in a list: [frame]",
        view.desc().shape.len(),
        type_name(frames)
    ))
    .into())
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
