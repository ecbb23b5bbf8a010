//! Writing (and reading) a sequence of frames on a bounded pool of worker
//! threads.
//!
//! The caller (the CPython boundary) copies each frame out of its buffer and
//! `submit`s it to a `Pipeline`; workers encode it (the sink's `work`) and
//! the results come back through `collect`, which hands each one to the
//! sink on the calling thread. Three sinks exist: `Files` writes each frame to
//! its own numbered PNG inside the worker (output byte-identical whatever the
//! thread count), `apng::Assembler` receives encoded frames and writes
//! them, in frame order, into one animated PNG, and `Decoded` runs the other
//! way: it is fed paths and hands back decoded frames (read_frames).
//!
//! Memory stays bounded: the caller may only submit while `has_room()`, which
//! allows at most two frames per worker in flight (one being encoded, one
//! queued) plus the results a sink holds back, so a long generator of frames
//! never piles up in memory.

use crate::decode::{read_with_metadata, DecodeOptions};
use crate::encode::{write_png_with, Compression};
use crate::error::FileError;
use crate::layout::ImageLayout;
use crate::metadata::Metadata;
use crate::pattern::FilePattern;
use crate::pixels::Frame;
use anyhow::{anyhow, Result};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a worker does with item `index` of the batch: a frame to write, or
/// (read_frames) a path to decode.
pub type Work<T, I = Frame> = Arc<dyn Fn(usize, &I) -> Result<T> + Send + Sync>;

/// Where finished items go. `I` is what is submitted: a frame for the
/// writers, a path for `Decoded`.
pub trait Sink<I: Send + 'static = Frame> {
    /// What a worker hands back for one frame.
    type Encoded: Send + 'static;

    /// The per-item work, run on the worker threads (or inline).
    fn work(&self) -> Work<Self::Encoded, I>;

    /// Text for frame `index` alone (write_frames' per-frame text), given
    /// on the calling thread before the frame is submitted. Sinks that
    /// write one file for all frames have no per-frame text.
    fn add_frame_text(&mut self, _index: usize, _text: Vec<(String, String)>) -> Result<()> {
        Err(anyhow!(
            "bufpng internal error: per-frame text given to a sink without it"
        ))
    }

    /// Runs once, before the first frame is submitted.
    fn start(&mut self) -> Result<()> {
        Ok(())
    }

    /// Checks frame `index`'s layout before it is copied or submitted.
    fn check(&mut self, _index: usize, _layout: &ImageLayout) -> Result<()> {
        Ok(())
    }

    /// Takes frame `index`'s result, in completion order, on the calling thread.
    fn accept(&mut self, index: usize, encoded: Self::Encoded) -> Result<()>;

    /// Results accepted but held back (waiting for an earlier frame); they
    /// count against the memory bound.
    fn held(&self) -> usize {
        0
    }
}

/// Where and how numbered files are written.
#[derive(Debug, Clone)]
pub struct Output {
    pub directory: PathBuf,
    pub pattern: FilePattern,
    /// The number in the first frame's file name.
    pub start: i64,
    pub compression: Compression,
    /// fsync each file and the directory before a frame counts as written.
    pub durable: bool,
    /// Every file's metadata.
    pub metadata: Metadata,
}

impl Output {
    /// The file of frame `index` (counted from 0 in the caller's sequence).
    pub fn path(&self, index: usize) -> PathBuf {
        let number = self.start.saturating_add(index as i64);
        self.directory.join(self.pattern.format(number))
    }
}

/// Text entries (key, value) in order.
type Text = Vec<(String, String)>;

/// The sink of write_frames: every frame is its own file, written by the
/// worker that encoded it.
pub struct Files {
    output: Arc<Output>,
    /// Per-frame text waiting for its frame's worker.
    frame_text: Arc<Mutex<HashMap<usize, Text>>>,
}

impl Files {
    pub fn new(output: Output) -> Files {
        Files {
            output: Arc::new(output),
            frame_text: Arc::default(),
        }
    }

    pub fn output(&self) -> &Output {
        &self.output
    }
}

impl Sink for Files {
    type Encoded = ();

    fn work(&self) -> Work<()> {
        let output = Arc::clone(&self.output);
        let frame_text = Arc::clone(&self.frame_text);
        Arc::new(move |index, frame| {
            let own = lock(&frame_text).remove(&index);
            let path = output.path(index);
            let (compression, durable) = (output.compression, output.durable);
            let Some(own) = own else {
                return write_png_with(&path, frame, compression, 1, durable, &output.metadata);
            };
            let mut metadata = output.metadata.clone();
            metadata.add_text(own);
            write_png_with(&path, frame, compression, 1, durable, &metadata)
        })
    }

    fn add_frame_text(&mut self, index: usize, text: Vec<(String, String)>) -> Result<()> {
        lock(&self.frame_text).insert(index, text);
        Ok(())
    }

    /// Creates the output directory (with its parents) before the first
    /// frame, so an empty batch creates nothing.
    fn start(&mut self) -> Result<()> {
        create_directory(&self.output.directory)
    }

    fn accept(&mut self, _index: usize, _written: ()) -> Result<()> {
        Ok(())
    }
}

/// A mutex whose data stays usable after a panic elsewhere (a map of
/// pending text is still a map).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sink of read_frames: workers read and decode one path each; decoded
/// frames (with their file's metadata) wait here, tagged with their index,
/// until the caller `take`s them
/// (to build the list in the paths' order, or to copy each into `out[i]`).
/// Frames waiting count against the memory bound like queued ones.
pub struct Decoded {
    options: DecodeOptions,
    ready: Vec<(usize, (Frame, Metadata))>,
}

impl Decoded {
    pub fn new(options: DecodeOptions) -> Decoded {
        Decoded {
            options,
            ready: Vec::new(),
        }
    }

    /// The frames decoded since the last call, in completion order.
    pub fn take(&mut self) -> Vec<(usize, (Frame, Metadata))> {
        std::mem::take(&mut self.ready)
    }
}

impl Sink<PathBuf> for Decoded {
    type Encoded = (Frame, Metadata);

    fn work(&self) -> Work<(Frame, Metadata), PathBuf> {
        let options = self.options;
        Arc::new(move |_, path| read_with_metadata(path, options))
    }

    fn accept(&mut self, index: usize, read: (Frame, Metadata)) -> Result<()> {
        self.ready.push((index, read));
        Ok(())
    }

    fn held(&self) -> usize {
        self.ready.len()
    }
}

/// One finished frame: its index in the caller's sequence, and its result.
#[derive(Debug)]
pub struct Done<T = ()> {
    pub index: usize,
    pub result: Result<T>,
}

/// A batch in progress: the worker pool plus the sink its results go to.
pub struct Pipeline<S: Sink<I>, I: Send + 'static = Frame> {
    batch: Batch<S::Encoded, I>,
    sink: S,
    started: bool,
}

impl<S: Sink<I>, I: Send + 'static> Pipeline<S, I> {
    pub fn new(sink: S, threads: usize) -> Result<Pipeline<S, I>> {
        Ok(Pipeline {
            batch: Batch::new(sink.work(), threads)?,
            sink,
            started: false,
        })
    }

    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Gives the sink back once the pool has stopped.
    pub fn into_sink(mut self) -> S {
        self.batch.shutdown();
        self.sink
    }

    /// True when another frame may be submitted without exceeding the memory bound.
    pub fn has_room(&self) -> bool {
        self.batch.in_flight + self.sink.held() < self.batch.capacity
    }

    /// Frames submitted whose result has not been collected yet.
    pub fn in_flight(&self) -> usize {
        self.batch.in_flight
    }

    /// Hands item `index` over; with one thread it is processed before this returns.
    pub fn submit(&mut self, index: usize, item: I) -> Result<()> {
        if !self.started {
            self.sink.start()?;
            self.started = true;
        }
        self.batch.submit(index, item)
    }

    /// Frames finished since the last call, in completion order, each
    /// already handed to the sink (a sink error becomes that frame's
    /// result). With `wait` set and nothing finished yet, blocks up to that
    /// long for the first one.
    pub fn collect(&mut self, wait: Option<Duration>) -> Result<Vec<Done>> {
        let finished = self.batch.collect(wait)?;
        let sink = &mut self.sink;
        Ok(finished
            .into_iter()
            .map(|Done { index, result }| Done {
                index,
                result: result.and_then(|encoded| sink.accept(index, encoded)),
            })
            .collect())
    }

    /// Stops the workers: frames still queued are dropped, frames being
    /// processed are finished, and the threads are joined. Idempotent; also
    /// runs on drop.
    pub fn shutdown(&mut self) {
        self.batch.shutdown();
    }
}

/// The worker pool. `threads == 1` works in the calling thread, inside
/// `submit`; more threads start a pool that lives until `shutdown` (or drop).
struct Batch<T: Send + 'static, I: Send + 'static> {
    work: Work<T, I>,
    capacity: usize,
    in_flight: usize,
    engine: Engine<T, I>,
}

enum Engine<T: Send + 'static, I: Send + 'static> {
    Inline(VecDeque<Done<T>>),
    Pool(Pool<T, I>),
}

impl<T: Send + 'static, I: Send + 'static> Batch<T, I> {
    fn new(work: Work<T, I>, threads: usize) -> Result<Batch<T, I>> {
        let threads = threads.max(1);
        let engine = if threads == 1 {
            Engine::Inline(VecDeque::new())
        } else {
            Engine::Pool(Pool::start(Arc::clone(&work), threads)?)
        };
        Ok(Batch {
            work,
            capacity: if threads == 1 { 1 } else { 2 * threads },
            in_flight: 0,
            engine,
        })
    }

    fn submit(&mut self, index: usize, item: I) -> Result<()> {
        match &mut self.engine {
            Engine::Inline(done) => done.push_back(Done {
                index,
                result: (self.work)(index, &item),
            }),
            Engine::Pool(pool) => pool.send(Job { index, item })?,
        }
        self.in_flight += 1;
        Ok(())
    }

    fn collect(&mut self, wait: Option<Duration>) -> Result<Vec<Done<T>>> {
        let mut finished = Vec::new();
        match &mut self.engine {
            Engine::Inline(done) => finished.extend(done.drain(..)),
            Engine::Pool(pool) => pool.collect(wait, self.in_flight > 0, &mut finished)?,
        }
        self.in_flight -= finished.len();
        Ok(finished)
    }

    fn shutdown(&mut self) {
        if let Engine::Pool(pool) = &mut self.engine {
            pool.shutdown();
        }
    }
}

fn create_directory(directory: &Path) -> Result<()> {
    std::fs::create_dir_all(directory).map_err(|source| {
        anyhow::Error::new(FileError {
            path: directory.to_path_buf(),
            source,
        })
        .context("cannot create the output directory")
    })
}

struct Job<I> {
    index: usize,
    item: I,
}

struct Pool<T: Send + 'static, I: Send + 'static> {
    jobs: Option<Sender<Job<I>>>,
    results: Receiver<Done<T>>,
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl<T: Send + 'static, I: Send + 'static> Pool<T, I> {
    fn start(work: Work<T, I>, threads: usize) -> Result<Pool<T, I>> {
        let (jobs, queue) = mpsc::channel::<Job<I>>();
        let (report, results) = mpsc::channel::<Done<T>>();
        let queue = Arc::new(Mutex::new(queue));
        let stop = Arc::new(AtomicBool::new(false));
        let mut pool = Pool {
            jobs: Some(jobs),
            results,
            workers: Vec::with_capacity(threads),
            stop: Arc::clone(&stop),
        };
        for n in 0..threads {
            let (work, queue, report, stop) = (
                Arc::clone(&work),
                Arc::clone(&queue),
                report.clone(),
                Arc::clone(&stop),
            );
            let worker = std::thread::Builder::new()
                .name(format!("bufpng-{n}"))
                .spawn(move || run_worker(&*work, &queue, &report, &stop))
                .map_err(|e| anyhow!("cannot start a worker thread: {e}"));
            // On failure `pool` drops here, which joins the workers already started.
            pool.workers.push(worker?);
        }
        Ok(pool)
    }

    fn send(&self, job: Job<I>) -> Result<()> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| anyhow!("bufpng internal error: the worker pool has stopped"))
    }

    fn collect(
        &self,
        wait: Option<Duration>,
        expecting: bool,
        into: &mut Vec<Done<T>>,
    ) -> Result<()> {
        let lost = || anyhow!("bufpng internal error: the worker threads exited early");
        if let (Some(wait), true) = (wait, expecting) {
            match self.results.recv_timeout(wait) {
                Ok(done) => into.push(done),
                Err(RecvTimeoutError::Timeout) => return Ok(()),
                Err(RecvTimeoutError::Disconnected) => return Err(lost()),
            }
        }
        loop {
            match self.results.try_recv() {
                Ok(done) => into.push(done),
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) if !expecting => return Ok(()),
                Err(TryRecvError::Disconnected) => return Err(lost()),
            }
        }
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Closing the queue ends each worker's loop once it is empty.
        self.jobs = None;
        for worker in self.workers.drain(..) {
            // Workers catch panics per frame, so join cannot fail in practice;
            // nothing useful could be done with a failure here anyway.
            let _ = worker.join();
        }
    }
}

impl<T: Send + 'static, I: Send + 'static> Drop for Pool<T, I> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A worker: takes items until the queue closes, processes each, reports back.
fn run_worker<T, I>(
    work: &(dyn Fn(usize, &I) -> Result<T> + Send + Sync),
    queue: &Mutex<Receiver<Job<I>>>,
    report: &Sender<Done<T>>,
    stop: &AtomicBool,
) {
    loop {
        // The lock is held only while waiting for the next job.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(Job { index, item }) = job else {
            return;
        };
        if stop.load(Ordering::SeqCst) {
            continue; // the batch failed: drop what is still queued
        }
        let result = catch_unwind(AssertUnwindSafe(|| work(index, &item)))
            .unwrap_or_else(|_| Err(anyhow!("bufpng internal error: a worker panicked")));
        drop(item);
        if report.send(Done { index, result }).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Depth;
    use crate::pixels::PixelFormat;
    use crate::scratch::ScratchDir;

    fn frame(seed: u8) -> Frame {
        let layout = ImageLayout {
            width: 16,
            height: 8,
            channels: 3,
            depth: Depth::Eight,
        };
        Frame {
            layout,
            format: PixelFormat::PNG,
            data: (0..layout.byte_len())
                .map(|i| (i as u8).wrapping_mul(seed))
                .collect(),
        }
    }

    /// An output into a directory the batch must create, inside a scratch
    /// directory removed when the returned guard drops.
    fn output(name: &str) -> (ScratchDir, Output) {
        let scratch = ScratchDir::new("batch", name);
        let output = Output {
            directory: scratch.join("nested"),
            pattern: FilePattern::parse("f%03d.png").unwrap(),
            start: 7,
            compression: Compression::Default,
            durable: false,
            metadata: Metadata::default(),
        };
        (scratch, output)
    }

    #[test]
    fn per_frame_text_joins_the_shared_metadata_of_its_frame_only() {
        let (_scratch, mut output) = output("text");
        output.metadata.text = vec![("Source".into(), "clip".into())];
        let mut files = Files::new(output.clone());
        files
            .add_frame_text(1, vec![("Frame".into(), "1".into())])
            .unwrap();
        // Per-frame entries replace shared ones with the same key.
        files
            .add_frame_text(2, vec![("Source".into(), "take 2".into())])
            .unwrap();
        let mut batch = Pipeline::new(files, 2).unwrap();
        for index in 0..3 {
            batch.submit(index, frame(index as u8 + 1)).unwrap();
        }
        let mut done = 0;
        while done < 3 {
            for finished in batch.collect(Some(Duration::from_millis(20))).unwrap() {
                finished.result.unwrap();
                done += 1;
            }
        }
        batch.shutdown();
        let text = |index| {
            let png = std::fs::read(output.path(index)).unwrap();
            crate::metadata::read(&png, true, 1 << 20)
                .unwrap()
                .metadata
                .text
        };
        let shared = ("Source".to_string(), "clip".to_string());
        assert_eq!(text(0), std::slice::from_ref(&shared));
        assert_eq!(text(1), [shared.clone(), ("Frame".into(), "1".into())]);
        assert_eq!(text(2), [("Source".to_string(), "take 2".to_string())]);
    }

    /// Submits `count` frames the way the boundary does and returns the files' bytes.
    fn run(output: Output, threads: usize, count: usize) -> Vec<Vec<u8>> {
        let mut batch = Pipeline::new(Files::new(output.clone()), threads).unwrap();
        let (mut next, mut done, mut peak) = (0, 0, 0);
        while done < count {
            if next < count && batch.has_room() {
                batch.submit(next, frame(next as u8 + 1)).unwrap();
                next += 1;
            }
            peak = peak.max(batch.in_flight());
            for finished in batch.collect(Some(Duration::from_millis(20))).unwrap() {
                finished.result.unwrap();
                done += 1;
            }
        }
        batch.shutdown();
        assert!(peak <= 2 * threads, "{peak} frames in flight");
        (0..count)
            .map(|i| std::fs::read(output.path(i)).unwrap())
            .collect()
    }

    #[test]
    fn threads_write_the_same_bytes_as_one_thread() {
        let (_one_dir, one) = output("one");
        let one = run(one, 1, 12);
        let (_three_dir, out) = output("three");
        assert!(out.path(0).ends_with("nested/f007.png"));
        assert_eq!(run(out, 3, 12), one);
    }

    #[test]
    fn shutdown_with_frames_queued_returns() {
        let (_dir, out) = output("stop");
        let mut batch = Pipeline::new(Files::new(out), 2).unwrap();
        while batch.has_room() {
            let index = batch.in_flight();
            batch.submit(index, frame(1)).unwrap();
        }
        batch.shutdown();
        batch.shutdown();
    }

    /// A sink that, like the APNG assembler, must take results in frame
    /// order, with frame 0 slow to encode.
    struct InOrder {
        waiting: std::collections::BTreeSet<usize>,
        next: usize,
    }

    impl Sink for InOrder {
        type Encoded = ();

        fn work(&self) -> Work<()> {
            Arc::new(|index, _| {
                if index == 0 {
                    std::thread::sleep(Duration::from_millis(300));
                }
                Ok(())
            })
        }

        fn accept(&mut self, index: usize, _: ()) -> Result<()> {
            self.waiting.insert(index);
            while self.waiting.remove(&self.next) {
                self.next += 1;
            }
            Ok(())
        }

        fn held(&self) -> usize {
            self.waiting.len()
        }
    }

    #[test]
    fn results_held_back_count_against_the_memory_bound() {
        let sink = InOrder {
            waiting: Default::default(),
            next: 0,
        };
        let threads = 2;
        let mut pipeline = Pipeline::new(sink, threads).unwrap();
        let (mut submitted, mut peak) = (0, 0);
        while pipeline.sink().next < 20 {
            if submitted < 20 && pipeline.has_room() {
                pipeline.submit(submitted, frame(1)).unwrap();
                submitted += 1;
            }
            for done in pipeline.collect(Some(Duration::from_millis(5))).unwrap() {
                done.result.unwrap();
            }
            peak = peak.max(pipeline.in_flight() + pipeline.sink().held());
            if pipeline.sink().next == 0 {
                // While frame 0 is being encoded, later frames finish and
                // wait; they must stop the feeding too.
                assert!(submitted <= 2 * threads, "{submitted} submitted");
            }
        }
        assert!(peak <= 2 * threads, "{peak} frames in memory");
        pipeline.shutdown();
    }

    /// Reads `paths` the way read_frames does; returns the frames in the paths' order.
    fn read_all(paths: &[PathBuf], threads: usize) -> Result<Vec<Frame>> {
        let options = DecodeOptions {
            order: crate::pixels::ChannelOrder::Rgb,
            ..DecodeOptions::default()
        };
        let mut pipeline = Pipeline::new(Decoded::new(options), threads)?;
        let mut frames: Vec<Option<Frame>> = vec![None; paths.len()];
        let (mut next, mut peak) = (0, 0);
        while frames.iter().any(Option::is_none) {
            if next < paths.len() && pipeline.has_room() {
                pipeline.submit(next, paths[next].clone())?;
                next += 1;
            }
            peak = peak.max(pipeline.in_flight() + pipeline.sink().held());
            for done in pipeline.collect(Some(Duration::from_millis(20)))? {
                done.result?;
            }
            for (index, (frame, _)) in pipeline.sink().take() {
                frames[index] = Some(frame);
            }
        }
        pipeline.shutdown();
        assert!(peak <= 2 * threads, "{peak} frames in memory");
        Ok(frames.into_iter().flatten().collect())
    }

    #[test]
    fn decoded_reads_paths_back_in_order() {
        let (_dir, out) = output("read");
        run(out.clone(), 2, 9);
        let paths: Vec<PathBuf> = (0..9).map(|i| out.path(i)).collect();
        for threads in [1, 3] {
            let frames = read_all(&paths, threads).unwrap();
            let expected: Vec<Vec<u8>> = (0..9).map(|i| frame(i as u8 + 1).data).collect();
            let got: Vec<Vec<u8>> = frames.into_iter().map(|f| f.data).collect();
            assert_eq!(got, expected, "threads={threads}");
        }
    }

    #[test]
    fn decoded_fails_naming_the_missing_file() {
        let (_dir, out) = output("missing");
        run(out.clone(), 1, 2);
        let paths = [out.path(0), out.path(5), out.path(1)];
        let err = read_all(&paths, 2).unwrap_err();
        let file = err.chain().find_map(|e| e.downcast_ref::<FileError>());
        assert_eq!(file.map(|f| f.path.clone()), Some(out.path(5)));
    }

    #[test]
    fn unwritable_directory_is_a_file_error() {
        let (_dir, mut out) = output("blocked");
        std::fs::create_dir_all(out.directory.parent().unwrap()).unwrap();
        std::fs::write(&out.directory, b"a file, not a directory").unwrap();
        out.directory = out.directory.join("sub");
        let mut batch = Pipeline::new(Files::new(out), 2).unwrap();
        let err = batch.submit(0, frame(1)).unwrap_err();
        assert!(err.chain().any(|e| e.downcast_ref::<FileError>().is_some()));
    }
}
