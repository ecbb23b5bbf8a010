//! The arguments every encoding function shares, and the copy of an image
//! buffer into an owned frame (for encode, write, write_frames and Frame).

use crate::buffer::BufferView;
use crate::convert::{optional_bool, optional_int, optional_str};
use crate::file::{self, Destination};
use crate::gil::without_gil;
use crate::metadata;
use crate::object::{bytes_from_parts, Failure, Gil, Obj, Owned, PyResult};
use bufpng_core::{
    encode_png_parts, encode_png_with, write_png_with, ChannelOrder, Compression, Frame, Geometry,
    Metadata, PixelFormat,
};
use std::sync::OnceLock;

/// The keyword options every encoding function shares.
#[derive(Clone)]
pub struct EncodeOptions {
    /// None: the image's own order (a bufpng.Frame's), else bgr.
    pub order: Option<ChannelOrder>,
    pub compression: Compression,
    /// The threads the call may use (one frame's strips, or a batch's workers).
    pub threads: usize,
    /// The chunks besides the pixels (`metadata::KEYWORDS`), validated.
    pub metadata: Metadata,
}

impl EncodeOptions {
    pub fn parse(
        order: Option<Obj<'_>>,
        compression: Option<Obj<'_>>,
        threads: Option<Obj<'_>>,
        metadata: &metadata::Args<'_>,
    ) -> PyResult<EncodeOptions> {
        let order = match optional_str(order, "order")? {
            Some(name) => Some(ChannelOrder::parse(&name)?),
            None => None,
        };
        Ok(EncodeOptions {
            order,
            ..EncodeOptions::without_order(compression, threads, metadata)?
        })
    }

    /// For a Frame's own methods, which encode in the Frame's order.
    pub fn without_order(
        compression: Option<Obj<'_>>,
        threads: Option<Obj<'_>>,
        metadata: &metadata::Args<'_>,
    ) -> PyResult<EncodeOptions> {
        Ok(EncodeOptions {
            order: None,
            compression: Compression::from_level(optional_int(compression, "compression")?)?,
            threads: parse_threads(threads)?,
            metadata: metadata::parse(metadata)?,
        })
    }

    /// `frame` as PNG file bytes, encoded without the GIL.
    pub fn encode(&self, gil: Gil<'_>, frame: &Frame) -> PyResult<Owned> {
        let (compression, threads, metadata) = (self.compression, self.threads, &self.metadata);
        let png = without_gil(gil, || {
            encode_png_parts(frame, compression, threads, metadata)
        })?;
        bytes_from_parts(gil, &png, threads)
    }

    /// Encodes `frame` and writes it to `destination`: a path atomically
    /// (encoding and I/O without the GIL; `durable`: fsynced), a file object
    /// through its own write() (encoding without the GIL, the calls with it).
    pub fn write(
        &self,
        gil: Gil<'_>,
        destination: Destination<'_>,
        frame: &Frame,
        durable: bool,
    ) -> PyResult<()> {
        let (compression, threads, metadata) = (self.compression, self.threads, &self.metadata);
        match destination {
            Destination::Path(path) => without_gil(gil, || {
                write_png_with(&path, frame, compression, threads, durable, metadata)
            })?,
            Destination::File(_) if durable => return Err(durable_needs_a_path()),
            Destination::File(file) => {
                let png = without_gil(gil, || {
                    encode_png_with(frame, compression, threads, metadata)
                })?;
                file::write_all(file, &png)?
            }
        }
        Ok(())
    }
}

/// `durable=True` with a file object, refused before any encoding.
pub fn durable_needs_a_path() -> Failure {
    bufpng_core::error::value_error(
        "durable=True applies to paths (bufpng fsyncs the file it renames): a file object is yours to flush and sync",
    )
    .into()
}

/// More threads than this is a mistake, not a configuration.
const MAX_THREADS: i64 = 1024;

/// The CPU cores this process may use, asked once: on Linux the standard
/// library reads cgroup files for it, ~50 us that a 32x32 encode would pay
/// on every call.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `threads`: None = one per core, 1 = the calling thread only, N = up to N.
pub fn parse_threads(threads: Option<Obj<'_>>) -> PyResult<usize> {
    match optional_int(threads, "threads")? {
        None => Ok(cores()),
        Some(n @ 1..=MAX_THREADS) => Ok(n as usize),
        Some(n) => Err(bufpng_core::error::value_error(format!(
            "threads must be 1-{MAX_THREADS} (1 = only the calling thread) or None for one per CPU core, got {n}"
        ))
        .into()),
    }
}

/// The `width`, `height`, `channels` and `stride` arguments (None = take
/// it from the buffer; `bufpng_core::plan_source` has the rule).
pub fn parse_geometry(
    width: Option<Obj<'_>>,
    height: Option<Obj<'_>>,
    channels: Option<Obj<'_>>,
    stride: Option<Obj<'_>>,
) -> PyResult<Geometry> {
    Ok(Geometry {
        width: optional_int(width, "width")?,
        height: optional_int(height, "height")?,
        channels: optional_int(channels, "channels")?,
        stride: optional_int(stride, "stride")?,
    })
}

/// `durable`: fsync the written files and their directory (default False).
pub fn parse_durable(durable: Option<Obj<'_>>) -> PyResult<bool> {
    optional_bool(durable, "durable").map(|d| d.unwrap_or(false))
}

/// Validates `image`, whose channels are in `order`, and copies it into an
/// owned frame stored in `target(order)`, on up to `threads` threads (with
/// the GIL held throughout); the buffer is released before this returns, on
/// every path. A bufpng.Frame goes through its own buffer
/// export like any other exporter (its order is the caller's to look up).
pub fn copy_image(
    image: Obj<'_>,
    size: &Geometry,
    order: ChannelOrder,
    target: impl Fn(ChannelOrder) -> PixelFormat,
    threads: usize,
) -> PyResult<Frame> {
    let view = BufferView::acquire(image)?;
    let plan = view.plan(size)?;
    Ok(view.copy_frame(&plan, order, target(order), threads)?)
}
