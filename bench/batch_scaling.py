"""write_frames throughput by thread count, and peak memory for a long generator.

Run on a release build:
    python setup.py build_rust --inplace --release
    PYTHONPATH=python python bench/batch_scaling.py [--frames 60] [--generator-frames 1000]

Prints 1080p frames/s for threads=1 and threads=2 measured side by side
(alternating rounds, best of each: the machine is shared and noisy), the
speed-up, and the peak RSS while writing --generator-frames 1080p frames
from a generator (measured in a fresh child process so nothing else counts).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import bufpng

WIDTH, HEIGHT = 1920, 1080


def clip(count: int) -> list[np.ndarray]:
    """Video-like BGR frames: smooth gradients plus noise, moving per frame."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([x * 255 // WIDTH, y * 255 // HEIGHT, (x + y) * 255 // (WIDTH + HEIGHT)], axis=-1)
    frames = []
    for i in range(count):
        noise = rng.integers(0, 8, (HEIGHT, WIDTH, 3))
        frames.append(((np.roll(base, 8 * i, axis=1) + noise) % 256).astype(np.uint8))
    return frames


def rate(frames: list[np.ndarray], threads: int, directory: str) -> tuple[float, float]:
    """Frames per second, and CPU seconds used per wall second (how parallel it ran)."""
    cpu, start = time.process_time(), time.perf_counter()
    bufpng.write_frames(frames, directory=directory, threads=threads)
    wall = time.perf_counter() - start
    return len(frames) / wall, (time.process_time() - cpu) / wall


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Sets the peak RSS (VmHWM) back to the current RSS (Linux >= 4.0), so
    building the inputs does not count."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def generator_child(count: int, threads: int, noise: int) -> None:
    """Runs in a child: writes `count` frames from a generator, prints peak RSS in MB.

    noise=1: random pixels, whose PNGs are larger than the frames (worst case
    for the encoders' output buffers); noise=0: the video-like clip.
    """
    rng = np.random.default_rng(2)
    # Two source images alternate, so the input itself stays small and constant.
    if noise:
        sources = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(2)]
    else:
        sources = clip(2)
    reset_peak()
    before = status_mb("VmRSS")
    with tempfile.TemporaryDirectory() as directory:

        def tidy(done: int, total: int | None) -> None:
            # Keeps the disk from filling up on long runs: any visible .png is
            # complete (written atomically), so it can go.
            if done % 100 == 0:
                for name in os.listdir(directory):
                    if name.endswith(".png") and not name.startswith("."):
                        os.remove(os.path.join(directory, name))

        start = time.perf_counter()
        frames = (sources[i % 2] for i in range(count))
        bufpng.write_frames(frames, directory=directory, threads=threads, progress=tidy)
        elapsed = time.perf_counter() - start
    peak = status_mb("VmHWM")
    print(f"{before:.1f} {peak:.1f} {count / elapsed:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60, help="frames per timing round (default 60)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per thread count (default 3)")
    parser.add_argument("--generator-frames", type=int, default=1000, help="frames for the RSS run (default 1000)")
    parser.add_argument("--dir", help="where to write the timing rounds (default: a temporary directory; /dev/shm takes the disk out)")
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        generator_child(*args.child)
        return

    print(f"bufpng {bufpng.__version__}, {os.cpu_count()} CPUs, {WIDTH}x{HEIGHT} BGR frames")
    frames = clip(args.frames)
    best: dict[int, tuple[float, float]] = {1: (0.0, 0.0), 2: (0.0, 0.0)}
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        rate(frames[:4], 2, directory)  # warm-up: page cache, allocator
        for _ in range(args.rounds):
            for threads in (1, 2):
                best[threads] = max(best[threads], rate(frames, threads, directory))
    for threads, (fps, cores) in best.items():
        print(
            f"threads={threads}: {fps:6.1f} frames/s, {cores:.2f} CPU-s per s, {1000 * cores / fps:.1f} CPU-ms per frame "
            f"(best of {args.rounds} rounds of {args.frames} frames)"
        )
    print(f"speed-up threads=2 / threads=1: {best[2][0] / best[1][0]:.2f}x")
    # On a busy machine the wall-clock ratio says more about the neighbours than
    # about bufpng; the CPU cost per frame says what two idle cores would give.
    per_frame = [best[t][1] / best[t][0] for t in (1, 2)]
    print(f"CPU per frame, threads=2 / threads=1: {per_frame[1] / per_frame[0]:.2f} (2 idle cores would give ~{2 * per_frame[0] / per_frame[1]:.2f}x)")

    print(f"peak RSS writing {args.generator_frames} 1080p frames ({WIDTH * HEIGHT * 3 / 1e6:.1f} MB each) from a generator:")
    for noise in (0, 1):
        for threads in (1, 2):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(args.generator_frames), str(threads), str(noise)],
                check=True, capture_output=True, text=True,
            ).stdout.split()
            before, peak, fps = (float(v) for v in out)
            print(
                f"  {'random pixels' if noise else 'video-like   '} threads={threads}: peak {peak:.0f} MB, "
                f"{peak - before:.0f} MB over the {before:.0f} MB before writing ({fps:.0f} frames/s)"
            )


if __name__ == "__main__":
    main()
