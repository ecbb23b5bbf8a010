"""One core: bufpng's default (`threads=1`) against fpng, CPU time and size.

    python bench/one_core_bench.py [--rounds N] [--only screenshot,photo] [--so path/to/_bufpng.abi3.so ...]

Issue 14, item 1: on photos, BGRA frames and screens, bufpng's default on one thread
must cost no more CPU than fpng at a file at most 0.8x fpng's. Every
contender runs in this process, interleaved call by call (so load on a
shared machine hits both alike); the figure is the median of the per-round
CPU times (time.process_time, the whole process). fpng is timed on the
frame as given (fpng ignores channel order, so this is its best case) and,
as an RGB library's user would call it, after cv2.cvtColor. `--so` adds
another build of the extension (e.g. main's) as a contender, to compare
builds side by side.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

# process_time counts every thread of the process: OpenBLAS's idle threads
# spinning (numpy starts them) showed up as 3% of a profile of this loop.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import content_classes, testdata  # noqa: E402


def frames(only: set[str] | None = None) -> list[tuple[str, np.ndarray]]:
    import cv2

    found = [(c.name, c.frame) for c in content_classes() if c.name in ("photo", "bgra", "screenshot")]
    for path in sorted((testdata() / "photos").glob("kodim*.png")):
        photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
        found.append((path.stem, cv2.resize(photo, (1920, 1080), interpolation=cv2.INTER_CUBIC)))
    return [f for f in found if only is None or f[0] in only]


def load_so(path: str):
    spec = importlib.util.spec_from_file_location("bufpng._bufpng", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--so", action="append", default=[], help="another _bufpng build to compare")
    parser.add_argument("--only", help="comma-separated frame names (photo, bgra, screenshot, kodim02, ...)")
    args = parser.parse_args()

    import bufpng
    import cv2
    import fpng

    cv2.setNumThreads(1)
    encoders = {"bufpng": lambda f: bufpng.encode(f, threads=1)}
    for i, so in enumerate(args.so):
        module = load_so(so)
        encoders[f"so{i}"] = lambda f, m=module: m.encode(f, threads=1)
    encoders["fpng"] = lambda f: fpng.fpng_ext.encode_ndarray(f)
    rgb = {3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGBA}
    encoders["fpng+cvt"] = lambda f: fpng.fpng_ext.encode_ndarray(cv2.cvtColor(f, rgb[f.shape[2]]))

    print(f"{'frame':10} {'encoder':9} {'cpu ms':>7} {'bytes':>10} {'x fpng cpu':>10} {'x fpng size':>11}")
    for name, frame in frames(set(args.only.split(",")) if args.only else None):
        sizes, cpus = {}, {k: [] for k in encoders}
        for key, encode in encoders.items():
            png = encode(frame)  # warm-up
            sizes[key] = len(png)
            if key.startswith("bufpng"):
                back = bufpng.decode(png)
                assert np.array_equal(back, frame), f"{key} {name}: not exact"
        # The order of the calls turns by one each round: on this shared
        # machine a build timed in a fixed later place came out up to 3%
        # slower than the same build timed earlier in the round.
        order = list(encoders.items())
        for round_ in range(args.rounds):
            turn = round_ % len(order)
            for key, encode in order[turn:] + order[:turn]:
                start = time.process_time()
                encode(frame)
                cpus[key].append(time.process_time() - start)
        fpng_ms = statistics.median(cpus["fpng"]) * 1e3
        for key in encoders:
            ms = statistics.median(cpus[key]) * 1e3
            print(
                f"{name:10} {key:9} {ms:7.2f} {sizes[key]:10,} {ms / fpng_ms:10.2f} {sizes[key] / sizes['fpng']:11.3f}"
            )


if __name__ == "__main__":
    main()
