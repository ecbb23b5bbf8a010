"""Decode speed: bufpng.decode/read against cv2.imdecode/imread, side by side.

Prints figures; asserts nothing. Run on a release build:
    python setup.py build_rust --inplace --release
    PYTHONPATH=python python bench/decode_bench.py
The machine is shared and noisy: compare the ratios, measured in alternation.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import bufpng

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "photos"
if len(sys.argv) > 1:
    PHOTOS = Path(sys.argv[1])


def best_of(fn, repeat: int = 15) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cases() -> list[tuple[str, np.ndarray]]:
    photo = cv2.imread(str(PHOTOS / "kodim23.png"), cv2.IMREAD_UNCHANGED)
    hd = np.tile(photo, (3, 3, 1))[:1080, :1920]
    return [
        ("kodim23 768x512 bgr8", photo),
        ("1920x1080 bgr8", np.ascontiguousarray(hd)),
        ("1920x1080 bgra8", np.ascontiguousarray(cv2.cvtColor(hd, cv2.COLOR_BGR2BGRA))),
        ("1920x1080 bgr16", np.ascontiguousarray(hd.astype(np.uint16) * 257)),
        ("1920x1080 gray8", np.ascontiguousarray(cv2.cvtColor(hd, cv2.COLOR_BGR2GRAY))),
    ]


def main() -> None:
    print(f"{'image':24} {'file':>8} {'bufpng ms':>10} {'cv2 ms':>8} {'ratio':>6}   (decode from bytes)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, image in cases():
            png = cv2.imencode(".png", image)[1].tobytes()
            assert (np.asarray(bufpng.decode(png)) == image).all()
            buffer = np.frombuffer(png, np.uint8)
            ours, theirs = [], []
            for _ in range(3):  # alternate to share the machine's noise
                ours.append(best_of(lambda: bufpng.decode(png)))
                theirs.append(best_of(lambda: cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)))
            a, b = min(ours), min(theirs)
            print(f"{name:24} {len(png) // 1024:>6}KB {a * 1e3:>10.2f} {b * 1e3:>8.2f} {a / b:>6.2f}")
            path = Path(tmp) / "x.png"
            path.write_bytes(png)
            a = best_of(lambda: bufpng.read(path))
            b = best_of(lambda: cv2.imread(str(path), cv2.IMREAD_UNCHANGED))
            print(f"{'  read(path)':24} {'':>8} {a * 1e3:>10.2f} {b * 1e3:>8.2f} {a / b:>6.2f}")
    image = cases()[1][1]
    frame = bufpng.Frame(image)
    a = min(best_of(lambda: bufpng.encode(frame)) for _ in range(3))
    b = min(best_of(lambda: bufpng.encode(image)) for _ in range(3))
    a = min(a, *(best_of(lambda: bufpng.encode(frame)) for _ in range(3)))
    c = best_of(lambda: np.asarray(frame))
    print(f"encode(Frame) {a * 1e3:.2f} ms vs encode(ndarray) {b * 1e3:.2f} ms (ratio {a / b:.2f}); "
          f"np.asarray(frame) {c * 1e6:.1f} us")


if __name__ == "__main__":
    main()
