//! Writing a sequence of frames as numbered PNG files on a bounded pool of
//! worker threads.
//!
//! The caller (the CPython boundary) copies each frame out of its buffer and
//! `submit`s it; workers encode and write it atomically and report back in
//! completion order through `collect`. Each file depends only on its own
//! frame, so the output is byte-identical whatever the thread count.
//!
//! Memory stays bounded: the caller may only submit while `has_room()`, which
//! allows at most two frames per worker in flight (one being encoded, one
//! queued), so a long generator of frames never piles up in memory.

use crate::encode::{write_png, Compression};
use crate::error::FileError;
use crate::pattern::FilePattern;
use crate::pixels::Frame;
use anyhow::{anyhow, Result};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where and how the frames are written.
#[derive(Debug, Clone)]
pub struct Output {
    pub directory: PathBuf,
    pub pattern: FilePattern,
    /// The number in the first frame's file name.
    pub start: i64,
    pub compression: Compression,
}

impl Output {
    /// The file of frame `index` (counted from 0 in the caller's sequence).
    pub fn path(&self, index: usize) -> PathBuf {
        let number = self.start.saturating_add(index as i64);
        self.directory.join(self.pattern.format(number))
    }
}

/// One finished frame: its index in the caller's sequence, and whether its
/// file was written.
#[derive(Debug)]
pub struct Done {
    pub index: usize,
    pub result: Result<()>,
}

/// A batch in progress. `threads == 1` writes in the calling thread, inside
/// `submit`; more threads start a pool that lives until `shutdown` (or drop).
pub struct Batch {
    output: Arc<Output>,
    directory_ready: bool,
    capacity: usize,
    in_flight: usize,
    engine: Engine,
}

enum Engine {
    Inline(VecDeque<Done>),
    Pool(Pool),
}

impl Batch {
    pub fn new(output: Output, threads: usize) -> Result<Batch> {
        let output = Arc::new(output);
        let threads = threads.max(1);
        let engine = if threads == 1 {
            Engine::Inline(VecDeque::new())
        } else {
            Engine::Pool(Pool::start(Arc::clone(&output), threads)?)
        };
        Ok(Batch {
            output,
            directory_ready: false,
            capacity: if threads == 1 { 1 } else { 2 * threads },
            in_flight: 0,
            engine,
        })
    }

    pub fn output(&self) -> &Output {
        &self.output
    }

    /// True when another frame may be submitted without exceeding the memory bound.
    pub fn has_room(&self) -> bool {
        self.in_flight < self.capacity
    }

    /// Frames submitted whose `Done` has not been collected yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Hands frame `index` over for writing. Creates the output directory
    /// (with its parents) before the first frame, so an empty batch creates nothing.
    /// With one thread the frame is encoded and written before this returns.
    pub fn submit(&mut self, index: usize, frame: Frame) -> Result<()> {
        if !self.directory_ready {
            create_directory(&self.output.directory)?;
            self.directory_ready = true;
        }
        match &mut self.engine {
            Engine::Inline(done) => done.push_back(Done {
                index,
                result: write_png(&self.output.path(index), &frame, self.output.compression),
            }),
            Engine::Pool(pool) => pool.send(Job { index, frame })?,
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Frames finished since the last call, in completion order. With `wait`
    /// set and nothing finished yet, blocks up to that long for the first one.
    pub fn collect(&mut self, wait: Option<Duration>) -> Result<Vec<Done>> {
        let mut finished = Vec::new();
        match &mut self.engine {
            Engine::Inline(done) => finished.extend(done.drain(..)),
            Engine::Pool(pool) => pool.collect(wait, self.in_flight > 0, &mut finished)?,
        }
        self.in_flight -= finished.len();
        Ok(finished)
    }

    /// Stops the workers: frames still queued are dropped, frames being
    /// written are finished (files appear complete or not at all), and the
    /// threads are joined. Idempotent; also runs on drop.
    pub fn shutdown(&mut self) {
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

struct Job {
    index: usize,
    frame: Frame,
}

struct Pool {
    jobs: Option<Sender<Job>>,
    results: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Pool {
    fn start(output: Arc<Output>, threads: usize) -> Result<Pool> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (report, results) = mpsc::channel::<Done>();
        let queue = Arc::new(Mutex::new(queue));
        let stop = Arc::new(AtomicBool::new(false));
        let mut pool = Pool {
            jobs: Some(jobs),
            results,
            workers: Vec::with_capacity(threads),
            stop: Arc::clone(&stop),
        };
        for n in 0..threads {
            let (output, queue, report, stop) = (
                Arc::clone(&output),
                Arc::clone(&queue),
                report.clone(),
                Arc::clone(&stop),
            );
            let worker = std::thread::Builder::new()
                .name(format!("bufpng-{n}"))
                .spawn(move || work(&output, &queue, &report, &stop))
                .map_err(|e| anyhow!("cannot start a worker thread: {e}"));
            // On failure `pool` drops here, which joins the workers already started.
            pool.workers.push(worker?);
        }
        Ok(pool)
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| anyhow!("bufpng internal error: the worker pool has stopped"))
    }

    fn collect(&self, wait: Option<Duration>, expecting: bool, into: &mut Vec<Done>) -> Result<()> {
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

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A worker: takes frames until the queue closes, writes each, reports back.
fn work(output: &Output, queue: &Mutex<Receiver<Job>>, report: &Sender<Done>, stop: &AtomicBool) {
    loop {
        // The lock is held only while waiting for the next job.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(Job { index, frame }) = job else {
            return;
        };
        if stop.load(Ordering::SeqCst) {
            continue; // the batch failed: drop what is still queued
        }
        let path = output.path(index);
        let result = catch_unwind(AssertUnwindSafe(|| {
            write_png(&path, &frame, output.compression)
        }))
        .unwrap_or_else(|_| Err(anyhow!("bufpng internal error: a worker panicked")));
        drop(frame);
        if report.send(Done { index, result }).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Depth, ImageLayout};
    use crate::pixels::PixelFormat;

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

    fn output(name: &str) -> Output {
        let directory =
            std::env::temp_dir().join(format!("bufpng-batch-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        Output {
            directory: directory.join("nested"),
            pattern: FilePattern::parse("f%03d.png").unwrap(),
            start: 7,
            compression: Compression::Default,
        }
    }

    /// Submits `count` frames the way the boundary does and returns the files' bytes.
    fn run(output: Output, threads: usize, count: usize) -> Vec<Vec<u8>> {
        let mut batch = Batch::new(output.clone(), threads).unwrap();
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
        let one = run(output("one"), 1, 12);
        let out = output("three");
        assert!(out.path(0).ends_with("nested/f007.png"));
        assert_eq!(run(out, 3, 12), one);
    }

    #[test]
    fn shutdown_with_frames_queued_returns() {
        let mut batch = Batch::new(output("stop"), 2).unwrap();
        while batch.has_room() {
            let index = batch.in_flight();
            batch.submit(index, frame(1)).unwrap();
        }
        batch.shutdown();
        batch.shutdown();
    }

    #[test]
    fn unwritable_directory_is_a_file_error() {
        let mut out = output("blocked");
        std::fs::create_dir_all(out.directory.parent().unwrap()).unwrap();
        std::fs::write(&out.directory, b"a file, not a directory").unwrap();
        out.directory = out.directory.join("sub");
        let mut batch = Batch::new(out, 2).unwrap();
        let err = batch.submit(0, frame(1)).unwrap_err();
        assert!(err.chain().any(|e| e.downcast_ref::<FileError>().is_some()));
    }
}
