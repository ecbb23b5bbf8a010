"""The GIL is released while encoding, so other Python threads keep running."""

from __future__ import annotations

import threading
import time

import numpy as np

import bufpng


def test_other_threads_run_during_a_large_encode() -> None:
    image = np.random.default_rng(1).integers(0, 256, size=(1500, 1500, 3), dtype=np.uint8)
    longest_stall = 0.0
    stop = threading.Event()

    def watch() -> None:
        # Records the longest time this thread could not run. If encode held
        # the GIL, that stall would last as long as the encode itself.
        nonlocal longest_stall
        last = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            longest_stall = max(longest_stall, now - last)
            last = now

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        time.sleep(0.05)
        started = time.perf_counter()
        bufpng.encode(image, compression=9)  # slow: hundreds of milliseconds
        duration = time.perf_counter() - started
    finally:
        stop.set()
        watcher.join()
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
