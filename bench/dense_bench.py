"""Screens and 16-bit photos (issue 14, item 2): bufpng's default against
the level-6 writers, side by side in one run.

Prints, per frame: bufpng's default (`bufpng.encode(frame)`, 2 threads: its
default on this machine) wall and CPU time and size, against Pillow's
default (zlib level 6, adaptive filters; 8-bit only), cv2 level 6 (libpng),
and cv2's default (the time bound: the default must take <= 0.25x it).
The targets: size <= 1.1x Pillow 6 on screens, <= 1.1x libpng 6 on 16-bit.

Frames: the benchmark's own (bench/common.py: the tiled screenshot, photo16
= the photo x257, whose low byte repeats the high byte), and frames that do
not flatter one coder: the real screenshot (not tiled), a synthetic UI
(text in varying words, panels, buttons, icons, a gradient), a 16-bit photo
resized from a 16-bit source (INTER_CUBIC, so the low byte carries
information), and the 8-bit photo (must stay with Runs: its time is
another item's).

    python bench/dense_bench.py [--quick] [--only screenshot,photo16]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import content_classes, testdata  # noqa: E402


def synthetic_ui(width: int = 1920, height: int = 1080, seed: int = 14) -> np.ndarray:
    """A desktop-like frame: title bar, sidebar with icons, a text panel of
    varying words in two fonts and sizes, buttons, a gradient header and a
    small photo thumbnail. Deterministic."""
    import cv2

    rng = np.random.default_rng(seed)
    frame = np.full((height, width, 3), (242, 240, 238), np.uint8)
    # title bar and sidebar
    frame[:36] = (60, 48, 40)
    frame[36:, :260] = (250, 246, 244)
    frame[36:, 260:262] = (200, 200, 200)
    # gradient header across the content area
    ramp = np.linspace(0, 1, width - 262, dtype=np.float32)
    for c, (a, b) in enumerate(((180, 90), (120, 60), (40, 200))):
        frame[36:120, 262:, c] = (a + (b - a) * ramp).astype(np.uint8)
    words = [
        "".join(chr(rng.integers(97, 123)) for _ in range(rng.integers(2, 10)))
        for _ in range(400)
    ]
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(frame, "bufpng - Document.txt", (12, 25), font, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    # sidebar entries with coloured "icons"
    for i in range(30):
        y = 60 + i * 32
        colour = tuple(int(v) for v in rng.integers(40, 220, 3))
        cv2.rectangle(frame, (14, y - 14), (32, y + 4), colour, -1)
        text = " ".join(rng.choice(words, 2))
        cv2.putText(frame, text, (42, y), font, 0.45, (50, 50, 50), 1, cv2.LINE_AA)
    # body text: justified-ish lines of random words, two fonts
    y = 150
    while y < height - 140:
        x = 290
        scale = 0.5 if (y // 200) % 2 == 0 else 0.6
        face = font if (y // 300) % 2 == 0 else cv2.FONT_HERSHEY_DUPLEX
        while x < width - 520:
            word = str(rng.choice(words))
            (w, _), _ = cv2.getTextSize(word, face, scale, 1)
            cv2.putText(frame, word, (x, y), face, scale, (30, 30, 30), 1, cv2.LINE_AA)
            x += w + 9
        y += 22 if scale == 0.5 else 26
    # a right-hand panel: a thumbnail photo and buttons
    photo = cv2.imread(str(testdata() / "photos" / "kodim07.png"), cv2.IMREAD_COLOR)
    thumb = cv2.resize(photo, (400, 266), interpolation=cv2.INTER_AREA)
    frame[150:416, width - 470 : width - 70] = thumb
    for i in range(8):
        y0 = 450 + i * 56
        cv2.rectangle(frame, (width - 470, y0), (width - 70, y0 + 40), (210, 120, 30), -1)
        cv2.putText(frame, " ".join(rng.choice(words, 2)), (width - 450, y0 + 27), font, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    # status bar
    frame[height - 28 :] = (222, 220, 218)
    cv2.putText(frame, "Ln 1, Col 1   UTF-8   LF   Plain Text", (270, height - 9), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    return frame


def frames(only: set[str] | None) -> list[tuple[str, np.ndarray, str]]:
    import cv2

    classes = {c.name: c for c in content_classes()}
    photos = testdata() / "photos"
    real_shot = cv2.imread(str(photos / "lorem_ipsum_screenshot.png"), cv2.IMREAD_COLOR)
    source16 = cv2.imread(str(photos / "kodim23.png"), cv2.IMREAD_COLOR).astype(np.uint16) * 257
    photo16_cubic = cv2.resize(source16, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    found = [
        ("screenshot", classes["screenshot"].frame, "screen"),
        ("real screenshot", real_shot, "screen"),
        ("synthetic UI", synthetic_ui(), "screen"),
        ("photo16", classes["photo16"].frame, "16-bit"),
        ("photo16 cubic", photo16_cubic, "16-bit"),
        ("photo", classes["photo"].frame, "photo"),
    ]
    return [f for f in found if only is None or f[0] in only]


def interleaved(calls: dict[str, object], rounds: int) -> dict[str, tuple[float, float, float, float, object]]:
    """Wall and CPU time of each call, alternating call by call for
    `rounds` rounds after a warm-up (a neighbour's burst hits all of them):
    (median wall, min wall, median cpu, min cpu, last output), seconds."""
    walls: dict[str, list[float]] = {name: [] for name in calls}
    cpus: dict[str, list[float]] = {name: [] for name in calls}
    outputs = {name: fn() for name, fn in calls.items()}  # type: ignore[operator]
    for _ in range(rounds):
        for name, fn in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            outputs[name] = fn()  # type: ignore[operator]
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(time.process_time() - start_cpu)
    return {
        name: (statistics.median(walls[name]), min(walls[name]), statistics.median(cpus[name]), min(cpus[name]), outputs[name])
        for name in calls
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    parser.add_argument("--only", help="comma-separated frame names")
    args = parser.parse_args()
    import cv2
    from PIL import Image

    import bufpng

    cv2.setNumThreads(1)
    rounds = 5 if args.quick else 15
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"load: {load}")
    print(f"{rounds} interleaved rounds; bufpng default = threads=None ({os.cpu_count()} cores here); times in ms")
    header = (
        f"{'frame':<15} {'WxH':>9} | {'bytes':>9} {'ref6':>9} {'x ref6':>6} | "
        f"{'wall med/min':>13} {'cpu med':>7} {'1thr cpu':>8} | {'cv2 dflt med/min':>16} | "
        f"{'x cv2 wall':>10} {'x cpu':>5} {'x 1thr':>6} | target"
    )
    print(header)
    print("-" * len(header))
    for name, frame, kind in frames(set(args.only.split(",")) if args.only else None):
        timed = interleaved(
            {
                "default": lambda: bufpng.encode(frame),
                "one": lambda: bufpng.encode(frame, threads=1),
                "cv2": lambda: cv2.imencode(".png", frame)[1],
            },
            rounds,
        )
        ours = timed["default"][4]
        assert isinstance(ours, bytes) and ours == timed["one"][4], "threads changed the bytes"
        assert np.array_equal(cv2.imdecode(np.frombuffer(ours, np.uint8), cv2.IMREAD_UNCHANGED), frame)
        # Level 6 is the size reference only: one call each.
        cv2_6 = len(cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_COMPRESSION, 6])[1])
        pillow_6 = None
        if frame.dtype == np.uint8:
            image = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            pillow_6 = len(buffer.getvalue())
        ref = pillow_6 if kind == "screen" and pillow_6 else cv2_6
        d_med, d_min, d_cpu, _, _ = timed["default"]
        _, _, one_cpu, _, _ = timed["one"]
        c_med, c_min, c_cpu, _, _ = timed["cv2"]
        x_ref = len(ours) / ref
        x_wall = d_med / c_med
        met = "" if kind == "photo" else ("met" if x_ref <= 1.1 and x_wall <= 0.25 else "NOT met")
        print(
            f"{name:<15} {frame.shape[1]:>4}x{frame.shape[0]:<4} | {len(ours):9,} {ref:9,} {x_ref:6.3f} | "
            f"{d_med * 1e3:6.1f}/{d_min * 1e3:<6.1f} {d_cpu * 1e3:7.1f} {one_cpu * 1e3:8.1f} | "
            f"{c_med * 1e3:7.1f}/{c_min * 1e3:<8.1f} | {x_wall:10.3f} {d_cpu / c_cpu:5.2f} {one_cpu / c_cpu:6.2f} | {met}",
            flush=True,
        )
    print("ref6: Pillow's default (zlib 6, adaptive filters) for screens, cv2 level 6 (libpng) for 16-bit and photo.")
    print("x cv2 wall: medians; x cpu: bufpng default's CPU (both threads) / cv2 default's CPU; x 1thr: threads=1 CPU / cv2 CPU.")
    print(f"after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
