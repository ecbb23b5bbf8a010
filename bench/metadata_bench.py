"""What metadata costs on the default encode of a 1080p frame: figures only.

    python bench/metadata_bench.py [--main PATH/_bufpng.abi3.so] [--rounds N]

Times, interleaved in one run (the machine is shared and noisy, so the
ratios measured side by side are what to read, not the absolute times):

- this build without metadata, and with a few text entries, or every kind;
- decode of the 1080p file without and with metadata (the chunk walk);
- with --main, the same encode and decode by another build of the extension (e.g. the
  one `pip install .` made from main before metadata existed), loaded under
  another name in the same process: "no metadata" against "no metadata code".

Build the extension in release mode first (`pip install .` or
`python setup.py build_ext --inplace`); debug timings mean nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TEXT = {"Source": "clip.mov", "Frame": "1234", "Timestamp": "00:00:49.360", "Software": "bufpng"}


def load_other(path: str) -> object:
    """Another build of the native module, under a name of its own (the init
    function is found by the last component, `_bufpng`)."""
    spec = importlib.util.spec_from_file_location("bufpng_other._bufpng", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interleaved(cases: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each case, the cases taking turns round by round."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for call in cases.values():
        call()  # warm up
    for _ in range(rounds):
        for name, call in cases.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--main", help="another build's _bufpng.abi3.so to compare against")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    import bufpng

    photo = next(c.frame for c in common.content_classes() if c.name == "photo")
    profile = np.frombuffer(bytes(4) + bytes(124), np.uint8).copy()
    profile[:4] = np.frombuffer((128).to_bytes(4, "big"), np.uint8)
    everything = dict(
        text=TEXT, dpi=300, gamma=0.45455, icc_profile=profile.tobytes(), cicp="srgb",
        content_light_level=(1000, 400),
    )
    for label, frame in (("1080p photo", photo), ("32x32 crop", np.ascontiguousarray(photo[:32, :32]))):
        cases: dict[str, Callable[[], object]] = {
            "no metadata": lambda f=frame: bufpng.encode(f, threads=1),
            "4 text entries": lambda f=frame: bufpng.encode(f, threads=1, text=TEXT),
            "every kind": lambda f=frame: bufpng.encode(f, threads=1, **everything),
        }
        if args.main:
            other = load_other(args.main)
            cases["main, no metadata"] = lambda f=frame: other.encode(f, threads=1)  # type: ignore[attr-defined]
        rounds = args.rounds if frame.nbytes > 1e6 else args.rounds * 50
        medians = interleaved(cases, rounds)
        base = medians["no metadata"]
        print(f"{label}, default compression, threads=1, median of {rounds} interleaved rounds:")
        for name, seconds in medians.items():
            print(f"  {name:<18} {seconds * 1e3:9.4f} ms   x{seconds / base:.3f}   {(seconds - base) * 1e3:+.4f} ms")
    plain = bufpng.encode(photo)
    tagged = bufpng.encode(photo, **everything)
    cases = {
        "no metadata": lambda: bufpng.decode(plain),
        "every kind": lambda: bufpng.decode(tagged),
    }
    if args.main:
        other = load_other(args.main)
        cases["main, no metadata"] = lambda: other.decode(plain)  # type: ignore[attr-defined]
    medians = interleaved(cases, args.rounds)
    base = medians["no metadata"]
    print(f"decode of the 1080p photo's PNG, median of {args.rounds} interleaved rounds:")
    for name, seconds in medians.items():
        print(f"  {name:<18} {seconds * 1e3:9.4f} ms   x{seconds / base:.3f}   {(seconds - base) * 1e3:+.4f} ms")
    print(f"bufpng {bufpng.__version__} ({bufpng.__file__}); {common.machine()}")


if __name__ == "__main__":
    main()
