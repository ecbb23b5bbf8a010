"""Shared pieces of the bufpng benchmark harness: test images, timing,
machine description, Markdown tables and the generated docs file.

Each section of the benchmark (single-frame encode, batch, decode,
animation) is a module with a ``run(args) -> Section`` function;
``bench/run.py`` runs the sections and splices each one's Markdown between
its own markers in ``docs/benchmarks.md``, so hand-written prose there
survives a rerun and a section can be rerun on its own.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

# One core for every contender that would otherwise spread itself: numpy's
# OpenBLAS keeps busy-waiting workers (no contender uses BLAS), libvips
# (pyvips) starts a thread pool per operation, oxipng a rayon pool. Set
# before any of them is imported; a caller's own setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "VIPS_CONCURRENCY", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BENCH_MD = DOCS / "benchmarks.md"
README = ROOT / "README.md"


def optional(module: str) -> Optional[Any]:
    """The module, or None with the reason printed: a contender whose package
    is missing or broken is skipped, never a crash (the `bench` extra
    installs them all; a run without one still gives the other figures)."""
    try:
        found = __import__(module)
        for part in module.split(".")[1:]:
            found = getattr(found, part)
    except Exception as error:  # ImportError, or OSError from a missing shared library
        print(f"bench: skipping {module}: {type(error).__name__}: {error}", file=sys.stderr)
        return None
    if module == "pyvips":
        # libvips caches operations by their arguments: decoding the same
        # bytes again would return the cached image, not decode it.
        found.cache_set_max(0)
    return found


def testdata() -> Path:
    """The test images: $BUFPNG_TESTDATA when set (a larger collection laid out
    the same way: photos/, pngsuite/, corrupt/), else the repository's own
    pytests/data."""
    path = Path(os.environ.get("BUFPNG_TESTDATA") or ROOT / "pytests" / "data")
    if not (path / "photos").is_dir():
        sys.exit(f"bench: no photos/ under {path}; BUFPNG_TESTDATA must name a directory laid out like pytests/data")
    return path


# ---------------------------------------------------------------- content


@dataclass
class Content:
    """One content class: a frame and what it stands for."""

    name: str
    frame: np.ndarray
    note: str

    @property
    def megabytes(self) -> float:
        return self.frame.nbytes / 1e6


def content_classes(width: int = 1920, height: int = 1080) -> list[Content]:
    """The frames every encoder is measured on (BGR/BGRA, OpenCV's layout)."""
    import cv2

    photos = testdata() / "photos"
    photo = cv2.imread(str(photos / "kodim23.png"), cv2.IMREAD_COLOR)
    photo = cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC)
    shot = cv2.imread(str(photos / "lorem_ipsum_screenshot.png"), cv2.IMREAD_COLOR)
    reps = (-(-height // shot.shape[0]), -(-width // shot.shape[1]), 1)
    screenshot = np.ascontiguousarray(np.tile(shot, reps)[:height, :width])
    noise = np.random.default_rng(6).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return [
        Content("photo", photo, "kodim23 upscaled (INTER_CUBIC), BGR 8-bit"),
        Content("screenshot", screenshot, "lorem_ipsum_screenshot tiled, BGR 8-bit"),
        Content("noise", noise, "uniform random bytes (incompressible worst case), BGR 8-bit"),
        Content("photo16", photo.astype(np.uint16) * 257, "the photo as 16-bit (x257), BGR"),
        Content("bgra", cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA), "the photo with an opaque alpha channel, BGRA 8-bit"),
        Content("tiny", np.ascontiguousarray(photo[500:532, 900:932]), "32x32 crop of the photo: per-call overhead"),
    ]


# ---------------------------------------------------------------- timing


@dataclass
class Timing:
    median_s: float  # wall time
    cpu_s: float  # the process's CPU time (every thread): steadier than wall time on a busy machine
    runs: int
    output: object


def measure(fn: Callable[[], object], budget_s: float = 0.6, min_runs: int = 5, max_runs: int = 41,
            quick: bool = False) -> Timing:
    """Median wall (and process CPU) time of ``fn()`` after one warm-up call.

    Runs at least ``min_runs`` times and keeps going (up to ``max_runs``)
    while the total stays under ``budget_s``; very slow contenders (over a
    second a call) get three runs, over three seconds two. With ``quick``
    a call over 0.3 s is timed once, the warm-up being the measurement (a
    smoke test places it; it does not rank it). Returns the last call's
    output too.
    """
    start, start_cpu = time.perf_counter(), time.process_time()
    output = fn()
    first = time.perf_counter() - start
    if quick and first > 0.3:
        return Timing(first, time.process_time() - start_cpu, 1, output)
    if first > 3.0:
        wanted = 2
    elif first > 1.0:
        wanted = 3
    else:
        wanted = max(min_runs, min(max_runs, int(budget_s / max(first, 1e-7))))
    walls, cpus = [], []
    for _ in range(wanted):
        start, start_cpu = time.perf_counter(), time.process_time()
        output = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return Timing(statistics.median(walls), statistics.median(cpus), wanted, output)


def medians_wall_cpu_own(fn: Callable[[], object], runs: int) -> list[float]:
    """Medians over `runs` calls of wall, process CPU and calling-thread CPU
    time (s): with several threads, process CPU over the calling thread's
    tells how much ran elsewhere."""
    walls, cpus, own = [], [], []
    for _ in range(runs):
        wall, cpu, mine = time.perf_counter(), time.process_time(), time.thread_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        own.append(time.thread_time() - mine)
    return [sorted(v)[len(v) // 2] for v in (walls, cpus, own)]


def output_size(output: object) -> int:
    if isinstance(output, np.ndarray):
        return output.nbytes
    return len(output)  # type: ignore[arg-type]


# ---------------------------------------------------------------- reporting


def machine() -> str:
    """One line naming the CPU, core count, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def versions(modules: list[str]) -> str:
    """`name version` for each importable module, comma separated."""
    found = []
    for name in modules:
        try:
            module = __import__(name)
        except Exception:  # ImportError, or OSError from a missing shared library
            found.append(f"{name} (not installed)")
            continue
        found.append(f"{name} {getattr(module, '__version__', getattr(module, 'VERSION', '?'))}")
    return ", ".join(found)


def dist_versions(dists: list[str]) -> str:
    """`distribution version` for each installed distribution, comma separated."""
    from importlib import metadata

    found = []
    for name in dists:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def fmt_ms(ms: float) -> str:
    """Milliseconds with three decimals below 1 ms, one above."""
    return f"{ms:.3f}" if ms < 1 else f"{ms:.1f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; numeric-looking columns are right-aligned."""
    aligns = ["---:" if i else ":---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def add_common_arguments(parser) -> None:  # type: ignore[no-untyped-def]
    """Options every section understands."""
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke test, noisy)")
    parser.add_argument("--no-write", dest="write", action="store_false", help="print only; leave docs/ alone")


@dataclass
class Section:
    """One benchmark section's output: its marker key and Markdown body."""

    key: str
    markdown: str
    extra_files: list[Path] = field(default_factory=list)
    # Figures other blocks quote (README's speed table, bench/run.py), by
    # name; each section documents its own keys where it fills them.
    facts: dict[str, Any] = field(default_factory=dict)


def splice(section: Section, path: Path = BENCH_MD) -> None:
    """Replaces the text between this section's markers in ``path``
    (appending the markers when absent), leaving everything else alone."""
    begin = f"<!-- bench:{section.key}:begin (generated by `make bench`; edits here are overwritten) -->"
    end = f"<!-- bench:{section.key}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{section.markdown.strip()}\n{end}"
    head, sep, rest = text.partition(f"<!-- bench:{section.key}:begin")
    if sep:
        _, sep2, tail = rest.partition(end)
        if not sep2:
            sys.exit(f"bench: {path} has a begin marker for {section.key} but no end marker")
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
