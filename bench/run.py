"""Runs the benchmark sections and updates docs/benchmarks.md and the chart.

    python bench/run.py [--quick] [--no-write] [--only encode_bench]

Each section is a module in bench/ with ``add_arguments(parser)`` and
``run(args) -> common.Section``, listed in SECTIONS. Each section
rewrites only its own marked block of the docs file, so the hand-written
prose around the blocks is kept. When every section README's speed text
quotes ran (a plain ``make bench``), its marked block in README.md is
rewritten from the same run's figures (``speed_block``), so every number
there comes from one run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

# numpy's OpenBLAS keeps worker threads that busy-wait after each BLAS call;
# on 2 shared cores they steal time from whichever contender runs next
# (perf showed 6% of a bufpng run in blas_thread_server). No contender uses
# BLAS, so one thread: set before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SECTIONS = ["encode_bench", "batch_bench", "decode_bench", "animation_bench", "read_frames_bench", "own_files_bench"]
# The sections README's speed block quotes: rewritten only when all ran.
README_SECTIONS = ("encode", "decode", "batch", "animation", "read_frames")
# The contenders' distributions (the `bench` extra), for the versions line.
DISTRIBUTIONS = ["numpy", "opencv-python-headless", "pillow", "fpng", "imagecodecs", "pyspng", "pyvips",
                 "pyvips-binary", "pyoxipng", "pypng", "matplotlib"]


def machine_section(load: float) -> common.Section:
    import bufpng

    pyvips = common.optional("pyvips")
    libvips = "" if pyvips is None else f" (libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)})"
    lines = [
        "## Machine and versions",
        "",
        f"- Machine: {common.machine()}; 1-minute load average {load:.1f} when the run started",
        f"- bufpng {bufpng.__version__}; " + common.dist_versions(DISTRIBUTIONS) + libvips,
        f"- Run {time.strftime('%Y-%m-%d', time.gmtime())}. Numbers are from one run; rerun with `make bench`.",
    ]
    return common.Section("machine", "\n".join(lines))


CONTENT_NAMES = {"photo": "photo", "screenshot": "screenshot", "noise": "noise", "photo16": "16-bit photo",
                 "bgra": "BGRA", "tiny": "32x32 (per call)"}


def speed_block(facts: dict[str, dict[str, Any]], load: float, quick: bool) -> common.Section:
    """README's speed table and the figures after it, from one run's facts."""
    encode, decode = facts["encode"], facts["decode"]
    rows = []
    for name, f in encode.items():
        fpng = ("no 16-bit in fpng" if f["cpu1_vs_fpng"] is None
                else f"{f['cpu1_vs_fpng']:.2f}x, {f['size_vs_fpng']:.2f}x")
        if f["anchor"] is None:
            anchor = "none in this run"
        else:
            writer, times = f["anchor"]
            anchor = f"{writer}: {times:.1f}x" if times < 10 else f"{writer}: {times:.0f}x"
        rows.append([CONTENT_NAMES.get(name, name), f"{f['wall_vs_cv2']:.2f}x ({f['cpu1_vs_cv2']:.2f}x)",
                     f"{f['size_vs_cv2']:.2f}x", fpng, anchor])
    low, high = decode["read_vs_imread"]
    apng = facts["animation"]["others_vs_bufpng"].values()
    batch, back = facts["batch"], facts["read_frames"]
    intro = (
        "One 1920x1080 frame with the default settings against OpenCV (`cv2.imencode`, one thread), "
        f"fpng and the fastest writer of a file no larger, in one run of `make bench` "
        f"({time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores shared with other jobs, load "
        f"average {load:.1f} at the start{'; a --quick smoke run' if quick else ''}; the run in "
        "[docs/benchmarks.md](docs/benchmarks.md)). Ratios, lower is better. *time* is wall time of "
        "the default, which codes a large frame's strips on every core; in brackets bufpng on one core "
        "(`threads=1`), on CPU time. The last two columns are one-core CPU time: bufpng's `threads=1` "
        "against fpng (which trades size for speed), and how many times bufpng's CPU time the fastest "
        "other writer whose file is no larger takes (any library, level or filter measured: libpng, "
        "zlib, libspng, libvips, oxipng)."
    )
    table = common.table(
        ["content", "time vs `cv2.imencode`", "size vs `cv2.imencode`", "one core vs fpng (CPU, size)",
         "fastest no-larger writer, x bufpng CPU"], rows)
    figures = (
        f"Decoding: `bufpng.read` takes {low:.2f}-{high:.2f}x the time of `cv2.imread` on the same files, "
        f"and `bufpng.decode` is the fastest exact decoder (on CPU time) on {decode['bufpng_fastest']} of "
        f"{decode['files']} files against OpenCV, Pillow, pyspng, imagecodecs and pyvips. Batches: "
        f"`write_frames` writes 1080p frames {batch['vs_cv2_loop']:.1f}x as fast as a Python loop of "
        f"`cv2.imwrite` on {os.cpu_count()} cores, with memory flat in the number of frames; an APNG of "
        f"{facts['animation']['frames']} frames is written {min(apng):.0f}-{max(apng):.0f}x faster than with "
        f"Pillow or `cv2.imwriteanimation`. Reading back, `read_frames` decodes 1080p PNGs with "
        f"{back['cpu_vs_cv2_pool']:.1f}x less CPU per frame than `cv2.imread` ({back['speed_vs_cv2_pool']:.1f}x "
        "the frames/s of a thread pool of it). Wall-time ratios move with the load of a shared machine; "
        "[benchmarks](docs/benchmarks.md) has every figure."
    )
    return common.Section("speed", "\n\n".join([intro, table, figures]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", help="run only this section (repeatable), e.g. encode_bench")
    common.add_common_arguments(parser)
    modules = [importlib.import_module(name) for name in SECTIONS]
    for module in modules:
        module.add_arguments(parser)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    started = time.perf_counter()
    sections = [machine_section(load)]
    for name, module in zip(SECTIONS, modules):
        if args.only and name not in args.only:
            continue
        began = time.perf_counter()
        sections.append(module.run(args))
        print(f"bench: {name} took {time.perf_counter() - began:.0f} s", file=sys.stderr)
    for section in sections:
        print(section.markdown, end="\n\n")
        if args.write:
            common.splice(section)
    facts = {section.key: section.facts for section in sections}
    if all(key in facts for key in README_SECTIONS):
        speed = speed_block(facts, load, args.quick)
        print(speed.markdown, end="\n\n")
        if args.write:
            common.splice(speed, common.README)
    else:
        print("bench: README.md's speed block left alone (it needs " + ", ".join(README_SECTIONS)
              + " from one run)", file=sys.stderr)
    print(f"bench: {time.perf_counter() - started:.0f} s in all", file=sys.stderr)


if __name__ == "__main__":
    main()
