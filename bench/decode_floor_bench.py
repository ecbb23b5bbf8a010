"""Decoding where there is little to do (issue 14, items 5 and 6): figures
only, no pass/fail.

    python bench/decode_floor_bench.py [--quick] [--only floor|big|main]
                                       [--main PATH_TO_MAIN_SO]

- floor: files with little to decode (1080p noise written by bufpng,
  OpenCV and Pillow; a 1080p photo with filter None on every row, written
  by OpenCV and by hand with zlib) decoded by every decoder a Python user
  can install: bufpng (`threads=1`, BGR and RGB), pyspng and imagecodecs'
  `spng_decode` (libspng), imagecodecs' `png_decode` (libpng), pyvips
  (libvips; concurrency 1, cache off) and cv2.imdecode; against a floor of
  numpy copying the pixels plus `zlib.crc32` over the file.
- big: bufpng's own 1080p, 4K and 8K photo frames (mARK) decoded with 1
  and 2 threads (and by the `--main` build too, when given).
- main: with `--main`, another build's `_bufpng` extension (e.g. main's,
  loaded under another name) against this one on files without `mARK`
  (OpenCV's and Pillow's), alternating call by call.

Everything in one process, the contenders taking turns round by round;
*cpu ms* is the median over a round of the process's CPU time per call
(`time.process_time`), the best round kept: the steady figure on a shared
machine. Ratios are to the best decoder of the same file in the same run.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import io
import os
import struct
import sys
import time
import zlib
from pathlib import Path
from typing import Callable

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "VIPS_CONCURRENCY"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import fmt_ms, table  # noqa: E402


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def unfiltered_png(bgr: np.ndarray, level: int) -> bytes:
    """`bgr` as an RGB PNG with filter None on every row, zlib at `level`."""
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + png_chunk(b"IEND", b""))


def pillow_png(bgr: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(bgr[..., ::-1])).save(out, format="PNG")
    return out.getvalue()


BUFPNG_BGR = "bufpng.decode threads=1 (BGR)"
BUFPNG_RGB = "bufpng.decode threads=1 order='rgb'"


def decoders(bufpng) -> list[tuple[str, Callable[[bytes], object]]]:  # type: ignore[no-untyped-def]
    """(name, decode(png) -> array-like) for every decoder that imports."""
    import cv2

    cv2.setNumThreads(1)
    found: list[tuple[str, Callable[[bytes], object]]] = [
        (BUFPNG_BGR, lambda png: bufpng.decode(png, threads=1)),
        (BUFPNG_RGB, lambda png: bufpng.decode(png, threads=1, order="rgb")),
    ]
    try:
        import pyspng

        found.append(("pyspng.load (libspng, RGB)", pyspng.load))
    except ImportError:
        pass
    try:
        import imagecodecs

        if imagecodecs.SPNG.available:
            found.append(("imagecodecs.spng_decode (libspng)", imagecodecs.spng_decode))
        if imagecodecs.PNG.available:
            found.append(("imagecodecs.png_decode (libpng)", imagecodecs.png_decode))
    except ImportError:
        pass
    try:
        import pyvips

        pyvips.cache_set_max(0)
        pyvips.concurrency_set(1)
        found.append(("pyvips pngload_buffer().numpy() (libvips)",
                      lambda png: pyvips.Image.pngload_buffer(png, access="sequential").numpy()))
    except (ImportError, OSError):
        pass
    found.append(("cv2.imdecode (libpng, BGR)", lambda png: cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)))
    return found


def cpu_per_call(fn: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return sorted(times)[len(times) // 2]


def interleaved(calls: dict[str, Callable[[], object]], rounds: int, per_round: int) -> dict[str, float]:
    """Best-of-`rounds` median CPU seconds per call, the callables taking turns."""
    for fn in calls.values():
        fn()
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            best[name] = min(best[name], cpu_per_call(fn, per_round))
    return best


def to_bgr(decoded: object, rgb: bool) -> np.ndarray:
    array = np.asarray(decoded)
    return array[..., ::-1] if rgb else array


def floor_files(bufpng) -> list[tuple[str, bytes, np.ndarray]]:  # type: ignore[no-untyped-def]
    import cv2

    classes = {c.name: c.frame for c in common.content_classes()}
    noise, photo = classes["noise"], classes["photo"]
    none = [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    return [
        ("noise, bufpng (stored, filter None)", bufpng.encode(noise), noise),
        ("noise, cv2.imencode", cv2.imencode(".png", noise)[1].tobytes(), noise),
        ("noise, Pillow", pillow_png(noise), noise),
        ("photo filter None, cv2 (IMWRITE_PNG_FILTER_NONE)", cv2.imencode(".png", photo, none)[1].tobytes(), photo),
        ("photo filter None, zlib level 6 (by hand)", unfiltered_png(photo, 6), photo),
        ("photo filter None, zlib level 1 (by hand)", unfiltered_png(photo, 1), photo),
    ]


def floor_section(bufpng, rounds: int, per_round: int) -> str:  # type: ignore[no-untyped-def]
    out = []
    summary = []
    for label, png, frame in floor_files(bufpng):
        out_array = np.empty_like(frame)
        calls: dict[str, Callable[[], object]] = {
            "floor: numpy copy of the pixels + zlib.crc32 of the file":
                lambda: (np.copyto(out_array, frame), zlib.crc32(png)),
        }
        for name, decode in decoders(bufpng):
            decoded = decode(png)
            rgb = "BGR" not in name
            assert np.array_equal(to_bgr(decoded, rgb), frame), (label, name)
            calls[name] = lambda decode=decode: decode(png)  # type: ignore[misc]
        cpu = interleaved(calls, rounds, per_round)
        floor = cpu.pop(next(iter(calls)))
        best_name = min((n for n in cpu if not n.startswith("bufpng")), key=cpu.__getitem__)
        best = cpu[best_name]
        rows = [["floor: pixels copied + CRC of the file", fmt_ms(floor * 1e3), f"{floor / best:.2f}", "1.00"]]
        for name, seconds in cpu.items():
            rows.append([name, fmt_ms(seconds * 1e3), f"{seconds / best:.2f}", f"{seconds / floor:.2f}"])
        out.append(f"### {label}: {len(png):,} bytes\n\n"
                   + table(["decoder", "cpu ms", "x best other", "x floor"], rows))
        bgr, rgb = cpu[BUFPNG_BGR], cpu[BUFPNG_RGB]
        summary.append([label, f"{len(png):,}", best_name.split(" (")[0], fmt_ms(best * 1e3),
                        fmt_ms(bgr * 1e3), f"{bgr / best:.2f}", f"{rgb / best:.2f}", f"{min(bgr, rgb) / floor:.2f}"])
    head = "### Summary: bufpng (threads=1) against the best other decoder, CPU per call\n\n" + table(
        ["file", "bytes", "best other", "its cpu ms", "bufpng cpu ms (BGR)", "x best (BGR)", "x best (RGB)",
         "bufpng x floor"], summary)
    return "\n\n".join([head, *out])


def big_section(bufpng, rounds: int, per_round: int, other_path: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """bufpng's own 1080p, 4K and 8K photo frames: 1 against 2 threads
    (and the same for another build, alternating, when given)."""
    builds = [("this", bufpng)] + ([("main", load_other(other_path))] if other_path else [])
    rows = []
    for width, height in ((1920, 1080), (3840, 2160), (7680, 4320)):
        photo = common.content_classes(width, height)[0].frame
        png = bufpng.encode(photo)
        marks = png.count(b"mARK")
        count = struct.unpack(">I", png[png.index(b"mARK") + 6:png.index(b"mARK") + 10])[0] if marks else 0
        for _, module in builds:
            assert np.array_equal(np.asarray(module.decode(png, threads=2)), photo)
        best: dict[tuple[str, int], list[float]] = {}
        n = max(2, per_round * 1920 * 1080 // (width * height))
        for _ in range(rounds):
            for name, module in builds:
                for threads in (1, 2):
                    medians = common.medians_wall_cpu_own(lambda: module.decode(png, threads=threads), n)
                    kept = best.setdefault((name, threads), medians)
                    best[name, threads] = [min(a, b) for a, b in zip(kept, medians)]
        for name, _ in builds:
            (wall1, cpu1, _), (wall2, cpu2, own2) = best[name, 1], best[name, 2]
            critical = max(own2, cpu2 - own2)
            rows.append([f"{width}x{height}", name, f"{len(png):,}", str(count), fmt_ms(wall1 * 1e3),
                         fmt_ms(cpu1 * 1e3), fmt_ms(wall2 * 1e3), fmt_ms(cpu2 * 1e3), f"{wall1 / wall2:.2f}",
                         f"{cpu1 / critical:.2f}"])
    return "### bufpng's own photo frames (mARK), decode with 1 and 2 threads\n\n" + table(
        ["frame", "build", "file bytes", "segments", "1 thread ms", "cpu ms", "2 threads ms", "cpu ms", "x wall",
         "x critical path"], rows)


def load_other(path: str):  # type: ignore[no-untyped-def]
    """Another build of the extension (its PyInit__bufpng), as a module of its own."""
    loader = importlib.machinery.ExtensionFileLoader("_bufpng", path)
    spec = importlib.util.spec_from_file_location("_bufpng", path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def main_section(bufpng, other_path: str, rounds: int, per_round: int) -> str:  # type: ignore[no-untyped-def]
    import cv2

    other = load_other(other_path)
    classes = {c.name: c.frame for c in common.content_classes()}
    files = []
    for name in ("photo", "screenshot", "noise", "photo16", "bgra"):
        frame = classes[name]
        files.append((f"{name}, cv2.imencode", cv2.imencode(".png", frame)[1].tobytes()))
        if frame.dtype == np.uint8 and frame.shape[2] == 3:
            files.append((f"{name}, Pillow", pillow_png(frame)))
    rows = []
    for label, png in files:
        assert np.array_equal(np.asarray(other.decode(png)), np.asarray(bufpng.decode(png)))
        cpu = interleaved({
            "main": lambda: other.decode(png, threads=1),
            "this": lambda: bufpng.decode(png, threads=1),
        }, rounds, per_round)
        rows.append([label, f"{len(png):,}", fmt_ms(cpu["main"] * 1e3), fmt_ms(cpu["this"] * 1e3),
                     f"{cpu['this'] / cpu['main']:.2f}"])
    return f"### Files without mARK: this build against {other_path}, threads=1\n\n" + table(
        ["file", "bytes", "main cpu ms", "this cpu ms", "x main"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--only", action="append", choices=["floor", "big", "main"], help="run only this part (repeatable)")
    parser.add_argument("--main", help="path of another build's _bufpng*.so to compare against (part 'main')")
    args = parser.parse_args()
    import bufpng

    rounds, per_round = (3, 7) if args.quick else (5, 15)
    parts: dict[str, Callable[[], str]] = {
        "floor": lambda: floor_section(bufpng, rounds, per_round),
        "big": lambda: big_section(bufpng, rounds, per_round, args.main),
    }
    if args.main:
        parts["main"] = lambda: main_section(bufpng, args.main, rounds, per_round)
    for name, part in parts.items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        print(part(), end="\n\n", flush=True)
        print(f"({name}: {time.perf_counter() - started:.0f} s)\n", file=sys.stderr)


if __name__ == "__main__":
    main()
