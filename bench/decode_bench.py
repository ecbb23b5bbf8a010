"""Decode section: `bufpng.decode`/`read` against `cv2.imdecode`/`imread` and
Pillow on the same PNG files.

    python bench/run.py --only decode_bench [--quick]

The files are the content classes of the encode section (1080p photo,
screenshot, 16-bit photo, BGRA) as OpenCV writes them by default: PNGs from
elsewhere, not bufpng's own. Each reader is timed with common.measure; the
contenders alternate over a few rounds and each keeps its best median (the
machine is shared). `read` and `imread` read a file on disk that the page
cache holds after the first call, so they measure open + read + decode.
Every bufpng result is compared with OpenCV's before it is timed.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import Content, Section, measure, table  # noqa: E402

CLASSES = ("photo", "screenshot", "photo16", "bgra")
# The target: read no slower than cv2.imread on these.
TARGET_CLASSES = ("photo", "screenshot")


@dataclass
class Reader:
    name: str
    # Given the PNG bytes and its path, the call to time, or None when this
    # reader cannot give the same pixels (Pillow has no 16-bit RGB mode).
    prepare: Callable[[Content, bytes, str], Optional[Callable[[], object]]]


def readers() -> list[Reader]:
    import bufpng
    import cv2

    found = [
        Reader("bufpng.decode(bytes)", lambda c, png, path: lambda: bufpng.decode(png)),
        Reader("cv2.imdecode", lambda c, png, path: (
            lambda buffer: lambda: cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED))(np.frombuffer(png, np.uint8))),
        Reader("bufpng.read(path)", lambda c, png, path: lambda: bufpng.read(path)),
        Reader("cv2.imread", lambda c, png, path: lambda: cv2.imread(path, cv2.IMREAD_UNCHANGED)),
    ]
    try:
        from PIL import Image

        def pil(from_file: bool) -> Callable[[Content, bytes, str], Optional[Callable[[], object]]]:
            def prepare(c: Content, png: bytes, path: str) -> Optional[Callable[[], object]]:
                if c.frame.dtype != np.uint8:
                    return None
                # np.asarray forces the decode (Image.open only reads the header).
                if from_file:
                    return lambda: np.asarray(Image.open(path))
                return lambda: np.asarray(Image.open(io.BytesIO(png)))

            return prepare

        found.append(Reader("Pillow open+asarray (bytes)", pil(False)))
        found.append(Reader("Pillow open+asarray (path)", pil(True)))
    except ImportError:
        pass
    return found


def run(args: argparse.Namespace) -> Section:
    import bufpng
    import cv2

    cv2.setNumThreads(1)
    classes = [c for c in common.content_classes() if c.name in CLASSES]
    rounds = 1 if args.quick else 3
    budget = 0.2 if args.quick else 0.5
    parts = [
        "## Decode",
        "",
        "The same PNG files for every reader: each content class of the encode section written by "
        "`cv2.imencode('.png')` at its default. Median wall time of one call after a warm-up, best of "
        f"{rounds} alternating rounds; *cpu ms* is the calling thread's CPU time. bufpng returns a "
        "`bufpng.Frame` in OpenCV's BGR(A) layout (a buffer numpy wraps without a copy), OpenCV an "
        "ndarray, Pillow an RGB(A) array (no BGR conversion counted). *x cv2* compares with "
        "`cv2.imdecode` for bytes and `cv2.imread` for files. One thread for OpenCV "
        "(`cv2.setNumThreads(1)`).",
        "",
    ]
    summary_rows = []
    detail = []
    with tempfile.TemporaryDirectory() as tmp:
        for content in classes:
            png = cv2.imencode(".png", content.frame)[1].tobytes()
            path = os.path.join(tmp, f"{content.name}.png")
            Path(path).write_bytes(png)
            if not np.array_equal(np.asarray(bufpng.read(path)), content.frame):
                sys.exit(f"bench: bufpng.read of {content.name} differs from the frame OpenCV wrote")
            calls = [(r.name, r.prepare(content, png, path)) for r in readers()]
            best: dict[str, common.Timing] = {}
            for _ in range(rounds):
                for name, call in calls:
                    if call is None:
                        continue
                    timing = measure(call, budget_s=budget, min_runs=3 if args.quick else 7)
                    if name not in best or timing.median_s < best[name].median_s:
                        best[name] = timing
            base = {"bytes": best["cv2.imdecode"], "path": best["cv2.imread"]}
            rows = []
            for name, timing in best.items():
                against = base["path" if "path" in name or name == "cv2.imread" else "bytes"]
                ms = timing.median_s * 1e3
                rows.append([name, common.fmt_ms(ms), common.fmt_ms(timing.cpu_s * 1e3),
                             f"{content.frame.nbytes / timing.median_s / 1e6:.0f}",
                             f"{timing.median_s / against.median_s:.2f}"])
                print(f"  decode {content.name:<10} {name:<28} {ms:8.2f} ms", file=sys.stderr)
            h, w = content.frame.shape[:2]
            detail += [f"### {content.name}: {w}x{h}x{content.frame.shape[2]} {content.frame.dtype}, "
                       f"{len(png):,}-byte file ({content.note})", "",
                       table(["reader", "ms", "cpu ms", "MB/s out", "x cv2"], rows), ""]
            ours, theirs = best["bufpng.read(path)"], best["cv2.imread"]
            dec, imdec = best["bufpng.decode(bytes)"], best["cv2.imdecode"]
            ratio = ours.median_s / theirs.median_s
            target = content.name in TARGET_CLASSES
            summary_rows.append([
                content.name,
                common.fmt_ms(ours.median_s * 1e3), common.fmt_ms(theirs.median_s * 1e3),
                f"{ratio:.2f} (cpu {ours.cpu_s / theirs.cpu_s:.2f})",
                f"{dec.median_s / imdec.median_s:.2f}",
                ("yes" if ratio <= 1.0 else "**no**") if target else "-",
            ])
    parts += [
        "### Summary: `bufpng.read` against `cv2.imread` (target: no slower on photo and screenshot)",
        "",
        table(["content", "read ms", "imread ms", "x imread", "decode x imdecode", "target met"], summary_rows),
        "",
    ] + detail
    return Section("decode", "\n".join(parts).rstrip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This section's own options (none); common ones come from common.py."""
