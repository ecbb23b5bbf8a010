"""APNG writing: bufpng.write_animation against Pillow and cv2.imwriteanimation.

The same 120-frame clip (a camera pan across a real photo, BGR uint8 numpy
frames as OpenCV delivers them) is written by each; the table gives the
wall-clock time (best of the runs, measured in alternation), the file size,
and whether bufpng.read_animation gets the clip back exactly from each file.
Prints figures; asserts nothing. Run on a release build:
    python setup.py build_rust --inplace --release
    PYTHONPATH=python python bench/animation_bench.py [--size 640x360] [--frames 120] [--runs 3]
The machine is shared and noisy: compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import bufpng

# BUFPNG_TESTDATA points elsewhere, e.g. from a git worktree (as in pytests/conftest.py).
TESTDATA = Path(os.environ.get("BUFPNG_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))
PHOTOS = TESTDATA / "photos"


def pan(width: int, height: int, count: int) -> list[np.ndarray]:
    """A slow diagonal pan across a photo, scaled so the window can move."""
    photo = cv2.imread(str(PHOTOS / "kodim23.png"), cv2.IMREAD_UNCHANGED)
    scale = max((width + count) / photo.shape[1], (height + count // 2) / photo.shape[0])
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(big[i // 2 : i // 2 + height, i : i + width]) for i in range(count)]


def writers(frames: list[np.ndarray]) -> dict[str, Callable[[str], None]]:
    def pillow(path: str) -> None:
        # The conversion from OpenCV's BGR arrays is part of the job.
        images = [Image.fromarray(f[..., ::-1]) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)

    out: dict[str, Callable[[str], None]] = {
        "bufpng (threads=all)": lambda p: bufpng.write_animation(p, frames),
        "bufpng threads=1": lambda p: bufpng.write_animation(p, frames, threads=1),
        "bufpng compression=6": lambda p: bufpng.write_animation(p, frames, compression=6),
        "Pillow save_all": pillow,
    }
    if hasattr(cv2, "imwriteanimation"):

        def opencv(path: str) -> None:
            animation = cv2.Animation()
            animation.frames = frames
            animation.durations = [40] * len(frames)
            animation.loop_count = 0
            assert cv2.imwriteanimation(path, animation)

        out["cv2.imwriteanimation"] = opencv
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    frames = pan(width, height, args.frames)
    jobs = writers(frames)
    times: dict[str, list[float]] = {name: [] for name in jobs}
    sizes: dict[str, int] = {}
    exact: dict[str, bool] = {}
    print(f"{len(frames)} frames {width}x{height} BGR uint8, {os.cpu_count()} CPUs, bufpng {bufpng.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):  # alternate to share the machine's noise
            for name, write in jobs.items():
                path = os.path.join(tmp, "out.png")
                start = time.perf_counter()
                write(path)
                times[name].append(time.perf_counter() - start)
                sizes[name] = os.path.getsize(path)
                if name not in exact:
                    back = bufpng.read_animation(path)
                    exact[name] = len(back) == len(frames) and all(
                        np.array_equal(np.asarray(b)[..., :3], f) for b, f in zip(back, frames)
                    )
                os.remove(path)
    reference = min(times["bufpng (threads=all)"])
    print(f"{'writer':24} {'best s':>8} {'x bufpng':>9} {'MB':>8} {'frames/s':>9}  exact")
    for name in jobs:
        best = min(times[name])
        print(
            f"{name:24} {best:>8.3f} {best / reference:>9.2f} {sizes[name] / 1e6:>8.2f} "
            f"{len(frames) / best:>9.1f}  {'yes' if exact[name] else 'NO'}"
        )


if __name__ == "__main__":
    main()
