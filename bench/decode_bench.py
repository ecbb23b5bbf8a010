"""Decode section: `bufpng.decode`/`read` against `cv2.imdecode`/`imread`,
Pillow, pyspng (libspng), imagecodecs (libpng, libspng) and pyvips
(libvips) on the same PNG files.

    python bench/run.py --only decode_bench [--quick]

The files are the content classes of the encode section (1080p photo,
screenshot, 16-bit photo, BGRA) as OpenCV writes them by default: PNGs from
elsewhere, not bufpng's own. Each reader is timed with common.measure; the
contenders alternate over a few rounds and each keeps its best median (the
machine is shared). `read` and `imread` read a file on disk that the page
cache holds after the first call, so they measure open + read + decode.
Every reader's array is compared with the frame before it is timed; the
fastest exact one is marked per file.
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

CLASSES = ("photo", "screenshot", "noise", "photo16", "bgra")
# Who wrote the files: OpenCV (libpng, a PNG from elsewhere) and bufpng's
# default (its own files, with restart markers: bufpng decodes them on every
# core, so compare them on CPU time, which adds the cores).
WRITERS = ("cv2", "bufpng")
# The target: read no slower than cv2.imread on these.
TARGET_CLASSES = ("photo", "screenshot")


@dataclass
class Reader:
    name: str
    # Given the PNG bytes and its path, the call to time, or None when this
    # reader cannot give the same pixels (Pillow has no 16-bit RGB mode).
    prepare: Callable[[Content, bytes, str], Optional[Callable[[], object]]]
    # "bgr": OpenCV's channel order, like the frame; "rgb": the file's order.
    order: str = "bgr"
    # Reads a path (open + read + decode) rather than bytes in memory.
    from_path: bool = False


def readers() -> list[Reader]:
    import bufpng
    import cv2

    found = [
        Reader("bufpng.decode(bytes)", lambda c, png, path: lambda: bufpng.decode(png)),
        Reader("cv2.imdecode", lambda c, png, path: (
            lambda buffer: lambda: cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED))(np.frombuffer(png, np.uint8))),
        Reader("bufpng.read(path)", lambda c, png, path: lambda: bufpng.read(path), from_path=True),
        Reader("cv2.imread", lambda c, png, path: lambda: cv2.imread(path, cv2.IMREAD_UNCHANGED), from_path=True),
    ]
    Image = common.optional("PIL.Image")
    if Image is not None:
        def pil(from_file: bool) -> Callable[[Content, bytes, str], Optional[Callable[[], object]]]:
            def prepare(c: Content, png: bytes, path: str) -> Optional[Callable[[], object]]:
                if c.frame.dtype != np.uint8:
                    return None
                # np.asarray forces the decode (Image.open only reads the header).
                if from_file:
                    return lambda: np.asarray(Image.open(path))
                return lambda: np.asarray(Image.open(io.BytesIO(png)))

            return prepare

        found.append(Reader("Pillow open+asarray (bytes)", pil(False), "rgb"))
        found.append(Reader("Pillow open+asarray (path)", pil(True), "rgb", from_path=True))
    pyspng = common.optional("pyspng")
    if pyspng is not None:
        found.append(Reader("pyspng.load (libspng)", lambda c, png, path: lambda: pyspng.load(png), "rgb"))
    imagecodecs = common.optional("imagecodecs")
    if imagecodecs is not None:
        found.append(Reader("imagecodecs.png_decode (libpng)",
                            lambda c, png, path: lambda: imagecodecs.png_decode(png), "rgb"))
        found.append(Reader("imagecodecs.spng_decode (libspng)",
                            lambda c, png, path: lambda: imagecodecs.spng_decode(png), "rgb"))
    pyvips = common.optional("pyvips")
    if pyvips is not None:
        # new_from_buffer only reads the header; .numpy() runs the whole
        # decode into one array. One libvips thread (VIPS_CONCURRENCY=1) and
        # no operation cache (common.optional), so each call decodes.
        found.append(Reader("pyvips new_from_buffer+numpy",
                            lambda c, png, path: lambda: pyvips.Image.new_from_buffer(png, "").numpy(), "rgb"))
    return found


def exact(content: Content, reader: Reader, output: object) -> str:
    """"yes" when the reader gave exactly the frame's pixels (in its own
    channel order), else what differs (pyspng gives 16-bit RGB as RGBA)."""
    import cv2

    want = content.frame
    if reader.order == "rgb":
        want = cv2.cvtColor(want, cv2.COLOR_BGRA2RGBA if want.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    got = np.asarray(output)
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"no: {'x'.join(map(str, got.shape))} {got.dtype}"
    return "yes" if np.array_equal(got, want) else "no: other values"


def run(args: argparse.Namespace) -> Section:
    import cv2

    cv2.setNumThreads(1)
    classes = [c for c in common.content_classes() if c.name in CLASSES]
    rounds = 1 if args.quick else 3
    budget = 0.2 if args.quick else 0.5
    parts = [
        "## Decode",
        "",
        "The same PNG files for every reader: each content class of the encode section written by "
        "`cv2.imencode('.png')` at its default (files without restart markers: every decoder here, "
        "bufpng's too, decodes them on one core) and by `bufpng.encode` at its default (bufpng's own "
        "files: with restart markers `bufpng.decode` inflates their segments on every core, so its wall "
        "time drops and its CPU time adds the cores). Median wall time of one call after a warm-up, best of "
        f"{rounds} alternating rounds; *cpu ms* is the process's CPU time over the same calls. One "
        "thread for everyone (`cv2.setNumThreads(1)`, `VIPS_CONCURRENCY=1`). bufpng returns a "
        "`bufpng.Frame` in OpenCV's BGR(A) layout (a buffer numpy wraps without a copy), OpenCV an "
        "ndarray, the others an RGB(A) ndarray (no BGR conversion counted). *exact* is whether the "
        "reader's array equals the frame (in its channel order); the fastest exact reader of bytes, on "
        "CPU time, is in bold. *x cv2* compares with `cv2.imdecode` for bytes and `cv2.imread` for files.",
        "",
    ]
    summary_rows = []
    detail = []
    fastest_counts: dict[str, int] = {}
    read_ratios = []
    import bufpng

    files = [(writer, content) for writer in WRITERS for content in classes]
    with tempfile.TemporaryDirectory() as tmp:
        for writer, content in files:
            if writer == "cv2":
                png = cv2.imencode(".png", content.frame)[1].tobytes()
            else:
                png = bufpng.encode(content.frame)
            path = os.path.join(tmp, f"{writer}-{content.name}.png")
            Path(path).write_bytes(png)
            entrants = readers()
            calls = [(r, r.prepare(content, png, path)) for r in entrants]
            good: dict[str, str] = {}
            failed: dict[str, str] = {}
            for index, (reader, call) in enumerate(calls):
                if call is None:
                    continue
                try:
                    good[reader.name] = exact(content, reader, call())
                except Exception as error:  # a reader that cannot read this file is listed, not fatal
                    failed[reader.name] = type(error).__name__
                    calls[index] = (reader, None)
                    print(f"bench: {reader.name} fails on {writer}'s {content.name} file: {error}", file=sys.stderr)
            if not (good.get("bufpng.decode(bytes)") == good.get("bufpng.read(path)") == "yes"):
                sys.exit(f"bench: bufpng's decode of {writer}'s {content.name} file differs from the frame")
            best: dict[str, common.Timing] = {}
            for _ in range(rounds):
                for reader, call in calls:
                    if call is None:
                        continue
                    timing = measure(call, budget_s=budget, min_runs=3 if args.quick else 7)
                    if reader.name not in best or timing.median_s < best[reader.name].median_s:
                        best[reader.name] = timing
            exact_bytes = [r.name for r in entrants if r.name in best and good[r.name] == "yes" and not r.from_path]
            fastest = min(exact_bytes, key=lambda name: best[name].cpu_s)
            fastest_counts[fastest] = fastest_counts.get(fastest, 0) + 1
            base = {"bytes": best["cv2.imdecode"], "path": best["cv2.imread"]}
            rows = []
            for reader in entrants:
                if reader.name in failed:
                    rows.append([reader.name, "-", "-", "-", "-", f"fails ({failed[reader.name]})"])
                    continue
                if reader.name not in best:
                    continue
                timing = best[reader.name]
                against = base["path" if reader.from_path else "bytes"]
                ms = timing.median_s * 1e3
                rows.append([f"**{reader.name}**" if reader.name == fastest else reader.name,
                             common.fmt_ms(ms), common.fmt_ms(timing.cpu_s * 1e3),
                             f"{content.frame.nbytes / timing.median_s / 1e6:.0f}",
                             f"{timing.median_s / against.median_s:.2f}",
                             good[reader.name] if good[reader.name] == "yes" else f"**{good[reader.name]}**"])
                print(f"  decode {writer:<6} {content.name:<10} {reader.name:<34} {ms:8.2f} ms", file=sys.stderr)
            h, w = content.frame.shape[:2]
            detail += [f"### {content.name}, {writer}'s file: {w}x{h}x{content.frame.shape[2]} {content.frame.dtype}, "
                       f"{len(png):,} bytes ({content.note})", "",
                       table(["reader", "ms", "cpu ms", "MB/s out", "x cv2", "exact"], rows), ""]
            ours, theirs = best["bufpng.read(path)"], best["cv2.imread"]
            dec, imdec = best["bufpng.decode(bytes)"], best["cv2.imdecode"]
            ratio = ours.median_s / theirs.median_s
            if writer == "cv2":
                read_ratios.append(ratio)
            target = content.name in TARGET_CLASSES and writer == "cv2"
            others = [name for name in exact_bytes if not name.startswith("bufpng")]
            rival = min(others, key=lambda name: best[name].cpu_s)
            summary_rows.append([
                f"{content.name} ({writer}'s file)",
                common.fmt_ms(ours.median_s * 1e3), common.fmt_ms(theirs.median_s * 1e3),
                f"{ratio:.2f} (cpu {ours.cpu_s / theirs.cpu_s:.2f})",
                f"{dec.median_s / imdec.median_s:.2f}",
                f"{rival}: {dec.cpu_s / best[rival].cpu_s:.2f}",
                ("yes" if ratio <= 1.0 else "**no**") if target else "-",
            ])
    parts += [
        "### Summary: `bufpng.read` against `cv2.imread` (target: no slower on cv2's photo and screenshot files)",
        "",
        "*decode x best other* is `bufpng.decode`'s CPU time over that of the fastest other exact reader "
        "of bytes on the same file.",
        "",
        table(["content", "read ms", "imread ms", "x imread", "decode x imdecode", "decode x best other (cpu)",
               "target met"], summary_rows),
        "",
    ] + detail
    facts = {
        "read_vs_imread": (min(read_ratios), max(read_ratios)),
        "files": len(files),
        "bufpng_fastest": fastest_counts.get("bufpng.decode(bytes)", 0),
        "fastest": fastest_counts,
    }
    return Section("decode", "\n".join(parts).rstrip(), facts=facts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This section's own options (none); common ones come from common.py."""
