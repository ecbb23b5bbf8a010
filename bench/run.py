"""Runs the benchmark sections and updates docs/benchmarks.md and the chart.

    python bench/run.py [--quick] [--no-write] [--only encode_bench]

Each section is a module in bench/ with ``add_arguments(parser)`` and
``run(args) -> common.Section``, listed in SECTIONS. Each section
rewrites only its own marked block of the docs file, so the hand-written
prose around the blocks is kept.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

# numpy's OpenBLAS keeps worker threads that busy-wait after each BLAS call;
# on 2 shared cores they steal time from whichever contender runs next
# (perf showed 6% of a bufpng run in blas_thread_server). No contender uses
# BLAS, so one thread: set before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SECTIONS = ["encode_bench", "batch_bench", "decode_bench", "animation_bench", "read_frames_bench"]


def machine_section() -> common.Section:
    import bufpng

    lines = [
        "## Machine and versions",
        "",
        f"- Machine: {common.machine()}",
        f"- bufpng {bufpng.__version__}; " + common.versions(["numpy", "cv2", "PIL", "fpng", "png", "matplotlib"]),
        "- `png` above is pypng. Numbers are from one run; rerun with `make bench`.",
    ]
    return common.Section("machine", "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", help="run only this section (repeatable), e.g. encode_bench")
    common.add_common_arguments(parser)
    modules = [importlib.import_module(name) for name in SECTIONS]
    for module in modules:
        module.add_arguments(parser)
    args = parser.parse_args()
    sections = [machine_section()]
    for name, module in zip(SECTIONS, modules):
        if args.only and name not in args.only:
            continue
        sections.append(module.run(args))
    for section in sections:
        print(section.markdown, end="\n\n")
        if args.write:
            common.splice(section)


if __name__ == "__main__":
    main()
