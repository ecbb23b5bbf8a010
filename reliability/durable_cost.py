"""What durable=True costs: the same writes with and without fsync, side by
side (interleaved rounds, so machine load hits both alike). Prints figures;
docs/reliability.md ("Durable writes") quotes a run.

    python reliability/durable_cost.py [DIR]    # DIR on the disk to measure (default: a temp dir in .)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import bufpng

ROUNDS = 7
FILES = 40


def per_file_ms(directory: Path, image: np.ndarray, durable: bool) -> float:
    start = time.perf_counter()
    for i in range(FILES):
        bufpng.write(directory / f"{i}.png", image, durable=durable)
    return (time.perf_counter() - start) * 1000 / FILES


def batch_ms(directory: Path, image: np.ndarray, durable: bool) -> float:
    start = time.perf_counter()
    bufpng.write_frames([image] * FILES, directory=directory, durable=durable)
    return (time.perf_counter() - start) * 1000 / FILES


def main() -> None:
    parent = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    images = {
        "8x8 gray (encode negligible)": np.zeros((8, 8), np.uint8),
        "640x480 BGR noise": np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8),
    }
    with tempfile.TemporaryDirectory(dir=parent) as scratch:
        root = Path(scratch)
        print(f"{FILES} files per round, median of {ROUNDS} rounds, in {root}")
        for name, image in images.items():
            for label, measure in [("write", per_file_ms), ("write_frames", batch_ms)]:
                times: dict[bool, list[float]] = {False: [], True: []}
                for _ in range(ROUNDS):
                    for durable in (False, True):
                        times[durable].append(measure(root, image, durable))
                plain, durable = statistics.median(times[False]), statistics.median(times[True])
                print(
                    f"{name:30} {label:13} plain {plain:7.2f} ms/file  durable {durable:7.2f} ms/file  "
                    f"+{durable - plain:6.2f} ms  x{durable / plain:5.1f}"
                )


if __name__ == "__main__":
    main()
