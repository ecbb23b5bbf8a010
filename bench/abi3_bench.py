"""Per-call times of the abi3 build, to compare with a version-specific build.

Prints the best time per call of a large encode (where the C API does not
matter) and of tiny calls (where per-call C API overhead would show). Build
both variants in separate copies of the tree (the second with
`features = ["abi3-py311"]` removed from pyo3-ffi in Cargo.toml and
`py_limited_api` removed from setup.py, both `setup.py build_rust --inplace
--release`) and run this alternately against each with PYTHONPATH; compare
the minima (see docs/packaging.md for the figures).
"""

import sys
import timeit

import numpy as np
import bufpng
print(bufpng._bufpng.__file__.rsplit("/", 1)[1], file=sys.stderr)
rng = np.random.default_rng(1)
big = np.zeros((1080, 1920, 3), np.uint8); big[:] = np.linspace(0, 255, 1920, dtype=np.uint8)[None, :, None]
big[::7] = rng.integers(0, 255, big[::7].shape, dtype=np.uint8)
tiny = np.zeros((2, 2, 3), np.uint8)
tiny_png = bufpng.encode(tiny)
cases = {
    "encode 1080p": (lambda: bufpng.encode(big), 10),
    "encode 2x2": (lambda: bufpng.encode(tiny), 20000),
    "Frame 2x2": (lambda: bufpng.Frame(tiny), 50000),
    "decode 2x2": (lambda: bufpng.decode(tiny_png), 20000),
    "describe bytes": (lambda: bufpng.describe(b"abc"), 50000),
}
for name, (f, n) in cases.items():
    best = min(timeit.repeat(f, number=n, repeat=5)) / n
    print(f"{name}\t{best*1e6:.3f}")
