# distributed's Client, LocalCluster and gather carry no annotations:
# mypy: disable-error-code="no-untyped-call"
"""Converting many clips to PNGs on a Dask cluster (docs/scale-out.md).

    python examples/scale_out.py CLIPS_DIR OUT_DIR [--scheduler tcp://HOST:8786]

CLIPS_DIR holds clips as .npy files, each a (frames, height, width[, channels])
uint8 or uint16 array (what np.save(path, np.stack(frames)) writes). One task
per clip writes its frames to OUT_DIR/<clip name>/frame_00000.png... with
bufpng.write_frames on whichever worker runs it; then a second round of tasks
reads every file back with bufpng.read_frames on the workers and compares it
with the clip, so only paths and a verdict cross the network. `fetch_frames`
shows the other way: Frames themselves returned to the client, which Dask
pickles with protocol 5, the pixels out of band.

Without --scheduler, a LocalCluster of 2 worker processes on this machine is
started; with it, the same code runs on a cluster already running there
(`dask scheduler` on one machine, `dask worker tcp://HOST:8786` on each of
the others, all sharing OUT_DIR, e.g. over NFS). Dask (`pip install
distributed`) is needed for this example only, never by bufpng itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from distributed import Client, LocalCluster

import bufpng


def convert_clip(clip: str, out_dir: str) -> list[str]:
    """One task: a clip's frames to numbered PNGs in out_dir/<clip name>/.

    The clip is memory-mapped and handed over as a list of per-frame views
    (a 3-D stack of gray frames would otherwise look like one colour image),
    so pixels are read from disk only as each frame is copied. threads=1:
    Dask already runs one task per worker thread, and a second pool inside
    each task would only oversubscribe the cores.
    """
    frames = np.load(clip, mmap_mode="r")
    directory = Path(out_dir) / Path(clip).stem
    return bufpng.write_frames(list(frames), directory=directory, threads=1)


def check_clip(clip: str, paths: list[str]) -> bool:
    """One task: the PNGs of a clip read back (in parallel, on the worker)
    are exactly the clip's frames."""
    frames = np.load(clip, mmap_mode="r")
    if len(paths) != len(frames):
        return False
    batch = np.empty(frames.shape, frames.dtype)
    bufpng.read_frames(paths, out=batch, threads=1)
    return bool(np.array_equal(batch, frames))


def fetch_frames(client: Client, paths: list[str]) -> list[bufpng.Frame]:
    """Frames decoded on a worker and moved to the client: Dask pickles each
    Frame with protocol 5, its pixels a PickleBuffer sent without a copy."""
    future = client.submit(bufpng.read_frames, paths, threads=1, pure=False)
    frames: list[bufpng.Frame] = future.result()
    return frames


def convert(client: Client, clips: list[str], out_dir: str) -> dict[str, list[str]]:
    """Converts every clip (one task each) and checks every PNG (one task per
    clip); returns each clip's PNG paths, or raises if a task failed (the
    worker's exception, e.g. an OSError naming the file) or a check did."""
    written = client.map(convert_clip, clips, out_dir=out_dir, pure=False)
    checked = client.map(check_clip, clips, written, pure=False)
    paths: list[list[str]] = client.gather(written)
    verdicts: list[bool] = client.gather(checked)
    bad = [clip for clip, ok in zip(clips, verdicts) if not ok]
    if bad:
        raise RuntimeError(f"PNGs that do not match their clip: {bad}")
    return dict(zip(clips, paths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--scheduler", help="a running scheduler's address (default: a LocalCluster here)")
    args = parser.parse_args()
    clips = sorted(str(p.resolve()) for p in args.clips.glob("*.npy"))
    out_dir = str(args.out_dir.resolve())
    if args.scheduler:
        with Client(args.scheduler) as client:
            results = convert(client, clips, out_dir)
    else:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
            results = convert(client, clips, out_dir)
    print(f"{sum(map(len, results.values()))} PNGs from {len(clips)} clips in {out_dir}, all checked")


if __name__ == "__main__":
    main()
