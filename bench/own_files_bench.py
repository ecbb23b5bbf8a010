"""bufpng's own files (issue 14, items 3-5): figures only, no pass/fail.

    python bench/own_files_bench.py [--quick] [--only noise|levels|segments]
    python bench/run.py --only own_files_bench [--own-files-part levels]

Standalone it prints Markdown; from bench/run.py it is a section that
rewrites its own marked block of docs/benchmarks.md.

- noise: decoding bufpng's file of 1080p noise against a memcpy + CRC
  floor, and against the same pixels stored with Paeth on every row (what
  bufpng wrote before stored rows were filtered with None) and cv2's file.
- levels: size and CPU time of `compression=` 0-9 and the default on the
  benchmark frames (the order `pytests/test_compression.py` pins on the
  test photos).
- segments: files with PNG Restart Markers (mARK): decode with 1 and 2
  threads, and what the restricted first rows cost in size.

The machine is shared: *cpu ms* (the process's CPU time, all threads) is
the steady figure for work; wall-time ratios are only meaningful side by
side in one run, and the thread speed-up is a wall-time ratio.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
import zlib
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import fmt_ms, measure, table  # noqa: E402


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def paeth_stored_png(rgb: np.ndarray) -> bytes:
    """The frame stored (zlib level 0) with Paeth on every row: bufpng's noise
    file before this round."""
    height, width, channels = rgb.shape
    x = rgb.reshape(height, width * channels).astype(np.int16)
    a = np.zeros_like(x)
    a[:, channels:] = x[:, :-channels]
    b = np.zeros_like(x)
    b[1:] = x[:-1]
    c = np.zeros_like(x)
    c[1:, channels:] = x[:-1, :-channels]
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    predicted = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    residuals = ((x - predicted) & 0xFF).astype(np.uint8)
    rows = np.concatenate([np.full((height, 1), 4, np.uint8), residuals], axis=1)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 0)) + png_chunk(b"IEND", b""))


def noise_section(budget: float) -> str:
    import bufpng
    import cv2

    noise = next(c for c in common.content_classes() if c.name == "noise").frame
    ours = bufpng.encode(noise)
    cv2_file = cv2.imencode(".png", noise)[1].tobytes()
    paeth_file = paeth_stored_png(np.ascontiguousarray(noise[..., ::-1]))
    for png in (ours, cv2_file, paeth_file):
        assert np.array_equal(np.asarray(bufpng.decode(png)), noise)
    out = np.empty_like(noise)

    def floor() -> None:
        np.copyto(out, noise)
        zlib.crc32(ours)

    rows = []
    calls = [
        ("memcpy + CRC (floor: numpy copy of the pixels, zlib.crc32 of the file)", floor, len(ours)),
        ("bufpng.decode(bufpng's file)", lambda: bufpng.decode(ours), len(ours)),
        ("bufpng.decode(bufpng's file, order='rgb')", lambda: bufpng.decode(ours, order="rgb"), len(ours)),
        ("bufpng.decode(stored with Paeth, the old file)", lambda: bufpng.decode(paeth_file), len(paeth_file)),
        ("bufpng.decode(cv2's file)", lambda: bufpng.decode(cv2_file), len(cv2_file)),
        ("cv2.imdecode(bufpng's file)", lambda: cv2.imdecode(np.frombuffer(ours, np.uint8), -1), len(ours)),
        ("cv2.imdecode(cv2's file)", lambda: cv2.imdecode(np.frombuffer(cv2_file, np.uint8), -1), len(cv2_file)),
    ]
    timings = [(name, measure(fn, budget), size) for name, fn, size in calls]
    floor_cpu = timings[0][1].cpu_s
    for name, timing, size in timings:
        rows.append([name, fmt_ms(timing.median_s * 1e3), fmt_ms(timing.cpu_s * 1e3),
                     f"{timing.cpu_s / floor_cpu:.2f}", f"{size:,}"])
    return "### Noise (1920x1080x3 uint8): decode against the floor\n\n" + table(
        ["call", "ms", "cpu ms", "x floor (cpu)", "file bytes"], rows)


def levels_section(budget: float, quick: bool = False) -> str:
    import bufpng

    # --quick: the test photos only (768x512; levels 8-9 on 1080p frames
    # take 2-12 s a call).
    frames = {} if quick else {c.name: c.frame for c in common.content_classes() if c.name != "tiny"}
    photos = common.testdata() / "photos"
    import cv2

    for name in ("kodim02", "kodim07", "kodim17", "kodim23"):
        frame = cv2.imread(str(photos / f"{name}.png"), cv2.IMREAD_COLOR)
        if frame is not None:
            frames[name] = frame
    out = []
    for name, frame in frames.items():
        rows = []
        for level in [None, *range(10)]:
            # Levels 8 and 9 take seconds a call: time them once.
            fn = lambda: bufpng.encode(frame, compression=level, threads=1)  # noqa: E731
            if level is not None and level >= 7 and frame.nbytes > 1 << 21:
                start, start_cpu = time.perf_counter(), time.process_time()
                size = len(fn())
                cpu = time.process_time() - start_cpu
            else:
                timing = measure(fn, budget / 4)
                size, cpu = len(timing.output), timing.cpu_s  # type: ignore[arg-type]
            rows.append(["default" if level is None else str(level), fmt_ms(cpu * 1e3), f"{size:,}"])
        default = int(rows[0][2].replace(",", ""))
        for row in rows:
            row.append(f"{int(row[2].replace(',', '')) / default:.4f}")
        shape = "x".join(map(str, frame.shape))
        out.append(f"### {name} ({shape} {frame.dtype}), threads=1\n\n"
                   + table(["compression", "cpu ms", "bytes", "x default size"], rows))
    return "\n\n".join(out)


def segments_section(budget: float) -> str:
    """bufpng's own files decoded with 1 and 2 threads, alternating rounds,
    each keeping its best median. On a shared machine the wall-time ratio
    moves with the neighbours' load; *critical path* is what an idle
    2-core machine would see: the process's CPU time with one thread over
    the larger of the two threads' CPU times with two (the calling
    thread's, `time.thread_time`, and the rest of the process's)."""
    import bufpng

    rows = []
    frames = [c for c in common.content_classes() if c.name != "tiny"]
    for content in frames:
        png = bufpng.encode(content.frame)
        assert np.array_equal(np.asarray(bufpng.decode(png, threads=2)), content.frame)
        best: dict[int, list[float]] = {}
        for _ in range(5):
            for threads in (1, 2):
                medians = common.medians_wall_cpu_own(
                    lambda: bufpng.decode(png, threads=threads), max(3, int(budget * 10))
                )
                kept = best.setdefault(threads, medians)
                best[threads] = [min(a, b) for a, b in zip(kept, medians)]
        (wall1, cpu1, _), (wall2, cpu2, own2) = best[1], best[2]
        critical = max(own2, cpu2 - own2)
        rows.append([content.name, f"{len(png):,}", fmt_ms(wall1 * 1e3), fmt_ms(cpu1 * 1e3),
                     fmt_ms(wall2 * 1e3), fmt_ms(cpu2 * 1e3), f"{wall1 / wall2:.2f}", f"{cpu1 / critical:.2f}"])
    return "### bufpng's own files (mARK), decode with 1 and 2 threads\n\n" + table(
        ["frame", "file bytes", "1 thread ms", "cpu ms", "2 threads ms", "cpu ms", "x wall", "x critical path"],
        rows)


PARTS = ("noise", "segments", "levels")


def run_parts(quick: bool, only: list[str] | None) -> list[str]:
    budget = 0.3 if quick else 1.0
    parts = {"noise": lambda: noise_section(budget), "segments": lambda: segments_section(budget),
             "levels": lambda: levels_section(budget, quick)}
    out = []
    for name, part in parts.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        out.append(part())
        print(f"({name}: {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """As a bench/run.py section: which parts to run (all by default)."""
    parser.add_argument("--own-files-part", action="append", choices=PARTS,
                        help="own_files_bench: run only this part (repeatable)")


def run(args: argparse.Namespace) -> common.Section:
    """The section bench/run.py runs: every part under one heading."""
    parts = run_parts(args.quick, args.own_files_part)
    intro = ("Figures only, no pass/fail (issue 14, items 3-5): decoding bufpng's noise file against a "
             "memcpy + CRC floor; the sizes and one-core CPU time of `compression=` 0-9; bufpng's own files "
             "(restart markers) decoded with 1 and 2 threads. *cpu ms* is the process's CPU time (all threads); "
             "wall-time ratios only mean something side by side in one run.")
    return common.Section("own_files", "\n\n".join(["## bufpng's own files: noise floor, levels, segments", intro,
                                                     *parts]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter timing budgets")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    args = parser.parse_args()
    for part in run_parts(args.quick, args.only):
        print(part, end="\n\n")


if __name__ == "__main__":
    main()
