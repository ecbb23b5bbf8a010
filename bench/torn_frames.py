"""How often a copy races a writer that runs without the GIL.

One thread rewrites a 2000x2000x3 array with np.copyto, which releases the
GIL while it copies; the main thread takes bufpng.Frame(a) copies. A copy
that holds the GIL is still torn when the writer does not need the GIL:
the figure docs/design.md quotes. Prints figures, asserts nothing.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

import bufpng

SHAPE = (2000, 2000, 3)
COPIES = 200


def main() -> None:
    a = np.zeros(SHAPE, np.uint8)
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            np.copyto(a, 255)
            np.copyto(a, 0)

    thread = threading.Thread(target=writer)
    thread.start()
    torn = 0
    try:
        for _ in range(COPIES):
            pixels = np.asarray(bufpng.Frame(a))
            low, high = pixels.min(), pixels.max()
            torn += int(low != high)
    finally:
        stop.set()
        thread.join()
    print(f"bufpng {bufpng.__version__}, Python {sys.version.split()[0]}, numpy {np.__version__}")
    print(f"{torn} of {COPIES} bufpng.Frame(a) copies of a {SHAPE} array were torn")
    print("(a mix of the writer's 0 and 255) while another thread ran np.copyto on it")


if __name__ == "__main__":
    main()
