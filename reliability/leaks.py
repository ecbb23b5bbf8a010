"""Leak loop: every public call, on success and on every error path, 100,000 times.

    python reliability/leaks.py [--iterations N] [--max-rss-mb MB] [--only TEXT] [--builder NAME ...]

For each case of `cases.py`: warm up, record RSS and the reference counts of
its inputs, run N calls, collect garbage, record again. Prints one line per
case and exits 1 if any RSS delta exceeds --max-rss-mb or any reference count
changed. `make leaks` runs it on the release build.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--max-rss-mb", type=float, default=4.0)
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument(
        "--builder",
        action="append",
        choices=[b.__name__ for b in cases.BUILDERS],
        help="run only the cases of this builder (repeatable)",
    )
    args = parser.parse_args()
    failures = 0
    worst = 0
    with tempfile.TemporaryDirectory(prefix="bufpng-leaks-") as scratch:
        builders = [b for b in cases.BUILDERS if not args.builder or b.__name__ in args.builder]
        selected = [c for c in cases.all_cases(Path(scratch), builders) if args.only in c.name]
        print(f"{len(selected)} cases x {args.iterations} calls; RSS limit {args.max_rss_mb} MB")
        print(f"{'case':48} {'us/call':>8} {'RSS delta KiB':>14} {'refcount delta':>15}")
        for case in selected:
            for _ in range(min(1000, args.iterations)):
                cases.run(case)
            gc.collect()
            refs = [sys.getrefcount(obj) for obj in case.inputs]
            rss = cases.rss_bytes()
            start = time.perf_counter()
            for _ in range(args.iterations):
                cases.run(case)
            elapsed = time.perf_counter() - start
            gc.collect()
            delta = cases.rss_bytes() - rss
            # Same expression as before the loop (a zip would hold one more reference).
            after = [sys.getrefcount(obj) for obj in case.inputs]
            ref_delta = [a - b for a, b in zip(after, refs)]
            # None's count moves with whatever else the interpreter does (3.11
            # has no immortal objects): a drift of one or two is noise, a
            # per-call leak or over-release shows as about `iterations`.
            ref_bad = [
                abs(d) >= max(1, args.iterations // 10) if obj is None else d != 0
                for obj, d in zip(case.inputs, ref_delta)
            ]
            bad = delta > args.max_rss_mb * 2**20 or any(ref_bad)
            failures += bad
            worst = max(worst, delta)
            print(
                f"{case.name:48} {elapsed / args.iterations * 1e6:8.1f} {delta / 1024:14.0f}"
                f" {str(ref_delta):>15}{'  FAIL' if bad else ''}",
                flush=True,
            )
    print(f"worst RSS delta: {worst / 1024:.0f} KiB; {failures} case(s) over the limit or with changed refcounts")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
