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

use crate::args::Signature;
use crate::buffer::BufferView;
use crate::convert::{self, is_absent, optional_int, optional_str, Owned};
use crate::encode::{take_frame, EncodeOptions, Size};
use crate::errors::{set_error, with_context, Failure, PyResult};
use crate::gil::without_gil;
use crate::metadata::with_metadata;
use bufpng_core::batch::{Files, Output, Pipeline, Sink};
use bufpng_core::pattern::FilePattern;
use bufpng_core::ImageLayout;
use pyo3_ffi::*;
use std::path::PathBuf;
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
        let [frames, width, height, directory, pattern, start, order, compression, threads, progress, mut metadata @ ..] =
            unsafe { WRITE_FRAMES.parse::<19>(args, nargs, kwnames)? };
        // Per-frame text is taken frame by frame; a mapping is every file's.
        let frame_text = FrameText::parse(metadata[0])?;
        if frame_text.is_some() {
            metadata[0] = ptr::null_mut();
        }
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
        let options = EncodeOptions::parse(order, compression, threads, &metadata)?;
        let progress = Progress::parse(progress)?;
        let mut files = Files::new(Output {
            directory,
            pattern,
            start,
            compression: options.compression,
            metadata: options.metadata.clone(),
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
            frame_text.as_ref(),
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
    text: Option<&FrameText>,
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

/// write_frames' per-frame `text=`: a callable text(index) or a sequence
/// with one entry per frame, each a mapping of str to str or None.
pub enum FrameText {
    Callable(*mut PyObject),
    Sequence(Owned),
}

impl FrameText {
    /// None when `text` is absent or a mapping (every file's text, parsed
    /// with the other metadata).
    pub fn parse(text: *mut PyObject) -> PyResult<Option<FrameText>> {
        if is_absent(text) {
            return Ok(None);
        }
        // SAFETY: GIL held, `text` live; type checks, and PySequence_Tuple
        // gives a new reference or NULL with an exception set.
        unsafe {
            if PyCallable_Check(text) != 0 {
                return Ok(Some(FrameText::Callable(text)));
            }
            if PyList_Check(text) != 0 || PyTuple_Check(text) != 0 {
                return Ok(Some(FrameText::Sequence(Owned::new(PySequence_Tuple(
                    text,
                ))?)));
            }
        }
        Ok(None)
    }

    /// Frame `index`'s own text, checked; None when it has none.
    fn for_frame(&self, index: usize) -> PyResult<Option<Vec<(String, String)>>> {
        let (entry, what) = match self {
            FrameText::Callable(function) => {
                // SAFETY: GIL held; `function` is borrowed from the call's
                // arguments; new references or NULL with the callable's own
                // exception set, passed on as it is.
                let result = unsafe {
                    let argument = Owned::new(PyLong_FromSize_t(index))?;
                    Owned::new(PyObject_CallFunctionObjArgs(
                        *function,
                        argument.0,
                        ptr::null_mut::<PyObject>(),
                    ))?
                };
                (result, format!("text({index})"))
            }
            FrameText::Sequence(tuple) => {
                // SAFETY: GIL held; an in-range item of a live tuple, borrowed
                // and given its own reference.
                let item = unsafe {
                    let len = PyTuple_Size(tuple.0) as usize;
                    if index >= len {
                        return Err(bufpng_core::error::value_error(format!(
                            "text has {len} entries but there are more frames: pass one per frame (None for no text)"
                        ))
                        .into());
                    }
                    let item = PyTuple_GetItem(tuple.0, index as Py_ssize_t);
                    Py_INCREF(item);
                    Owned(item)
                };
                (item, format!("text[{index}]"))
            }
        };
        if is_absent(entry.0) {
            return Ok(None);
        }
        let text = crate::metadata::parse_text(entry.0, &what)?;
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
            let iterator = PyObject_GetIter(frames);
            if iterator.is_null() {
                if PyErr_ExceptionMatches(PyExc_TypeError) != 0 {
                    PyErr_Clear();
                    set_error(
                        PyExc_TypeError,
                        &format!(
                            "{function} takes an iterable of frames (a list, a generator, a 4-D array...), got {}",
                            convert::type_name(frames)
                        ),
                    );
                }
                return Err(Failure::Raised);
            }
            let iterator = Owned(iterator);
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
