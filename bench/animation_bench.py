"""Animation section: bufpng.write_animation against Pillow and cv2.imwriteanimation.

    python bench/run.py --only animation_bench [--anim-size 640x360] [--anim-frames 120]

The same clip (a camera pan across a real photo, BGR uint8 numpy frames as
OpenCV delivers them) is written by each writer, in alternating runs (the
machine is shared); the table gives the best wall time, the process CPU time
of that run (all threads), the file size, and whether bufpng.read_animation
gets the clip back exactly from each file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import Section, table  # noqa: E402


def pan(width: int, height: int, count: int) -> list[np.ndarray]:
    """A slow diagonal pan across a photo, scaled so the window can move."""
    import cv2

    photo = cv2.imread(str(common.testdata() / "photos" / "kodim23.png"), cv2.IMREAD_UNCHANGED)
    scale = max((width + count) / photo.shape[1], (height + count // 2) / photo.shape[0])
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(big[i // 2 : i // 2 + height, i : i + width]) for i in range(count)]


def writers(frames: list[np.ndarray]) -> dict[str, Callable[[str], None]]:
    import bufpng
    import cv2
    from PIL import Image

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


def run(args: argparse.Namespace) -> Section:
    import bufpng
    import cv2

    cv2.setNumThreads(-1)  # OpenCV's default, as users run it (other sections pin it to 1)

    width, height = (int(n) for n in args.anim_size.split("x"))
    count = 24 if args.quick else args.anim_frames
    runs = 1 if args.quick else args.anim_runs
    frames = pan(width, height, count)
    jobs = writers(frames)
    best: dict[str, tuple[float, float]] = {}  # name -> (wall s, CPU s) of the fastest run
    sizes: dict[str, int] = {}
    exact: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):  # alternate to share the machine's noise
            for name, write in jobs.items():
                path = os.path.join(tmp, "out.png")
                cpu, start = time.process_time(), time.perf_counter()
                write(path)
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
                sizes[name] = os.path.getsize(path)
                if name not in exact:
                    back = bufpng.read_animation(path)
                    exact[name] = len(back) == len(frames) and all(
                        np.array_equal(np.asarray(b)[..., :3], f) for b, f in zip(back, frames)
                    )
                os.remove(path)
                print(f"  animation {name:<24} {wall:8.2f} s", file=sys.stderr)
    reference = best["bufpng (threads=all)"][0]
    rows = [
        [name, f"{wall:.2f}", f"{cpu:.2f}", f"{wall / reference:.1f}", f"{sizes[name] / 1e6:.1f}",
         f"{count / wall:.1f}", "yes" if exact[name] else "**no**"]
        for name, (wall, cpu) in best.items()
    ]
    lines = [
        "## Animation (APNG): `write_animation` against Pillow and OpenCV",
        "",
        f"{count} frames of {width}x{height} BGR uint8 (a pan across kodim23) written as one APNG "
        f"by each writer, best of {runs} alternating runs; *cpu s* is the process's CPU time (all "
        "threads) in that run; OpenCV runs with its default threads. Pillow's row includes the BGR->RGB conversion. *exact* says whether "
        "`bufpng.read_animation` gets the clip back exactly from the file.",
        "",
        table(["writer", "wall s", "cpu s", "x bufpng time", "MB", "frames/s", "exact"], rows),
    ]
    # README's speed text quotes how many times bufpng's time the others take.
    others = {name: wall / reference for name, (wall, _) in best.items() if not name.startswith("bufpng")}
    return Section("animation", "\n".join(lines), facts={"others_vs_bufpng": others, "frames": count})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("animation section")
    group.add_argument("--anim-size", default="640x360", help="frame size WxH (default 640x360)")
    group.add_argument("--anim-frames", type=int, default=120, help="frames in the clip (default 120)")
    group.add_argument("--anim-runs", type=int, default=3, help="alternating runs (default 3)")
