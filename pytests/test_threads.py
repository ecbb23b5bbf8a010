"""The GIL is released while encoding, so other Python threads keep running."""

from __future__ import annotations

import threading

import numpy as np

import bufpng
from conftest import run_watched


def test_other_threads_run_during_a_large_encode() -> None:
    image = np.random.default_rng(1).integers(0, 256, size=(1500, 1500, 3), dtype=np.uint8)
    # slow: hundreds of milliseconds
    _, duration, longest_stall = run_watched(lambda: bufpng.encode(image, compression=9))
    assert duration > 0.1, f"encode took only {duration:.3f} s: too short to tell"
    assert longest_stall < duration / 2, f"another thread stalled {longest_stall:.3f} s of a {duration:.3f} s encode"


def test_concurrent_encodes_match_serial_results() -> None:
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8) for _ in range(8)]
    expected = [bufpng.encode(im) for im in images]
    results: list[bytes | None] = [None] * len(images)

    def work(i: int) -> None:
        results[i] = bufpng.encode(images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected
