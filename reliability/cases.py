"""Every public bufpng call on its success path and on each error path.

The leak loop (`leaks.py`), the fast refcount test and the concurrency test
in `pytests/test_reliability.py` all run this one catalogue. To cover a new
public function, write a builder that returns its `Case`s and add it to
`BUILDERS`.
"""

from __future__ import annotations

import array
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bufpng

try:
    import _testbuffer
except ImportError:  # a CPython built without its test modules
    _testbuffer = None


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[], object]
    # The exception the call must raise, or None for success.
    raises: type[BaseException] | None
    # Objects passed in, whose reference counts must not change.
    inputs: tuple[object, ...] = ()


def images() -> dict[str, object]:
    """Valid inputs of every kind of exporter and layout (small: loops run them 100,000 times)."""
    rng = np.random.default_rng(8)
    bgr = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    return {
        "bgr uint8": bgr,
        "bgra uint8": rng.integers(0, 256, (12, 16, 4), dtype=np.uint8),
        "gray uint16": rng.integers(0, 65536, (12, 16), dtype=np.uint16),
        "rgb big-endian uint16": rng.integers(0, 65536, (12, 16, 3)).astype(">u2"),
        "strided crop": bgr[1:-1:2, ::3],
        "upside down": bgr[::-1],
        "fortran order": np.asfortranarray(bgr),
        "broadcast": np.broadcast_to(np.uint8(9), (12, 16, 3)),
        "bytes": bytes(range(256)) * 3,
        "bytearray": bytearray(range(256)) * 3,
        "memoryview": memoryview(bytes(range(192))).cast("B"),
        "array.array H": array.array("H", range(192)),
    }


FLAT = {"width": 16, "height": 12}
FLAT_KINDS = {"bytes", "bytearray", "memoryview", "array.array H"}


def _size(kind: str) -> dict[str, int]:
    return FLAT if kind in FLAT_KINDS else {}


def hostile() -> list[tuple[str, object, type[BaseException]]]:
    """Exporters that must be refused, with the exception each must raise."""
    bgr = np.zeros((4, 4, 3), np.uint8)
    out: list[tuple[str, object, type[BaseException]]] = [
        ("None", None, TypeError),
        ("str", "not pixels", TypeError),
        ("list", [1, 2, 3], TypeError),
        ("float64", np.zeros((4, 4)), TypeError),
        ("int8", np.zeros((4, 4), np.int8), TypeError),
        ("4-D batch", np.zeros((2, 4, 4, 3), np.uint8), ValueError),
        ("5 channels", np.zeros((4, 4, 5), np.uint8), ValueError),
        ("zero-sized", np.zeros((0, 4, 3), np.uint8), ValueError),
        ("scalar", np.uint8(3), ValueError),
        ("broadcast too large", np.broadcast_to(np.uint8(1), (2**20, 2**20, 4)), MemoryError),
        ("flat without size", bytes(48), ValueError),
    ]
    if _testbuffer is not None:
        nd = _testbuffer.ndarray
        items = list(range(48))
        out += [
            ("suboffsets (PIL-style)", nd(items, shape=[4, 4, 3], format="B", flags=_testbuffer.ND_PIL), BufferError),
            ("getbuffer raises", nd(items, shape=[4, 4, 3], format="B", flags=_testbuffer.ND_GETBUF_FAIL), BufferError),
            ("zero-sized shape", nd([1], shape=[0, 4, 3], format="B"), ValueError),
            # len does not match the shape (the product overflows): refused before planning.
            ("huge claimed shape", nd([1, 2], shape=[2**62, 2**62], strides=[0, 0], format="B"), BufferError),
            ("huge broadcast shape", nd([1], shape=[2**20, 2**20, 4], strides=[0, 0, 0], format="B"), MemoryError),
            ("signed format", nd(items, shape=[4, 4, 3], format="b"), TypeError),
            ("wide format", nd(items, shape=[4, 4, 3], format="Q"), TypeError),
            ("struct format", nd([(1, 2)] * 16, shape=[4, 4], format="BB"), TypeError),
        ]
    return out


def hostile_valid() -> dict[str, object]:
    """Unusual exporters that are valid images."""
    if _testbuffer is None:
        return {}
    nd = _testbuffer.ndarray
    items = list(range(48))
    return {
        "testbuffer readonly": nd(items, shape=[4, 4, 3], format="B"),
        "testbuffer writable": nd(items, shape=[4, 4, 3], format="B", flags=_testbuffer.ND_WRITABLE),
        "testbuffer fortran": nd(items, shape=[4, 4, 3], format="B", flags=_testbuffer.ND_FORTRAN),
        "testbuffer negative strides": nd(items, shape=[4, 4, 3], strides=[-12, 3, 1], offset=36, format="B"),
        "testbuffer uint16": nd(items, shape=[4, 4, 3], format="<H"),
        "testbuffer no strides": nd(items, shape=[48], format="B"),
    }


def encode_cases(workdir: Path) -> list[Case]:
    cases = []
    for kind, image in {**images(), **hostile_valid()}.items():
        size = _size(kind) or ({"width": 4, "height": 4} if kind == "testbuffer no strides" else {})
        cases.append(Case(f"encode {kind}", lambda i=image, s=size: bufpng.encode(i, **s), None, (image,)))
    bgr = images()["bgr uint8"]
    cases.append(Case("encode rgb, level 9", lambda: bufpng.encode(bgr, order="rgb", compression=9), None, (bgr,)))
    for kind, image, error in hostile():
        cases.append(Case(f"encode {kind}", lambda i=image: bufpng.encode(i), error, (image,)))
    for name, kwargs, error in [
        ("bad order", {"order": "bgrx"}, ValueError),
        ("order not str", {"order": 3}, TypeError),
        ("compression 10", {"compression": 10}, ValueError),
        ("width float", {"width": 1.5}, TypeError),
        ("width huge", {"width": 2**70}, OverflowError),
        ("width negative", {"width": -1}, ValueError),
        ("transposed size", {"width": 12, "height": 16}, ValueError),
        ("size of another frame", {"width": 15, "height": 12}, ValueError),
        ("unknown keyword", {"colour": 1}, TypeError),
    ]:
        cases.append(Case(f"encode {name}", lambda k=kwargs: bufpng.encode(bgr, **k), error, (bgr,)))
    short = bgr.tobytes()[:-1]
    cases.append(Case("encode wrong length", lambda: bufpng.encode(short, 16, 12), ValueError, (short,)))
    cases.append(Case("encode no arguments", lambda: bufpng.encode(), TypeError))
    return cases


def write_cases(workdir: Path) -> list[Case]:
    bgr = images()["bgr uint8"]
    flat = images()["bytearray"]
    path = workdir / "write.png"
    (workdir / "a-directory").mkdir(exist_ok=True)
    (workdir / "a-file").write_bytes(b"")
    return [
        Case("write array", lambda: bufpng.write(path, bgr), None, (bgr, path)),
        Case("write str path, flat", lambda: bufpng.write(str(path), flat, 16, 12), None, (flat,)),
        # 250 bytes: the file system takes it, so the temporary name must fit too.
        Case("write 250-byte name", lambda: bufpng.write(workdir / ("n" * 246 + ".png"), bgr), None, (bgr,)),
        Case("write missing directory", lambda: bufpng.write(workdir / "no" / "x.png", bgr), FileNotFoundError, (bgr,)),
        Case("write onto a directory", lambda: bufpng.write(workdir / "a-directory", bgr), IsADirectoryError, (bgr,)),
        Case("write under a file", lambda: bufpng.write(workdir / "a-file" / "x.png", bgr), NotADirectoryError, (bgr,)),
        Case("write empty path", lambda: bufpng.write("", bgr), ValueError, (bgr,)),
        Case("write path not a path", lambda: bufpng.write(3.5, bgr), TypeError, (bgr,)),
        Case("write bad image", lambda: bufpng.write(path, "pixels"), TypeError, (path,)),
    ]


def write_frames_cases(workdir: Path) -> list[Case]:
    rng = np.random.default_rng(9)
    frames = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(3)]
    batch = np.stack(frames)
    mixed = [frames[0], "oops", frames[1]]
    out = workdir / "frames"
    (workdir / "a-file").write_bytes(b"")
    return [
        Case("write_frames list", lambda: bufpng.write_frames(frames, directory=out), None, tuple(frames)),
        Case("write_frames 4-D array", lambda: bufpng.write_frames(batch, directory=out, start=5), None, (batch,)),
        Case("write_frames generator", lambda: bufpng.write_frames((f for f in frames), directory=out), None, tuple(frames)),
        Case("write_frames empty", lambda: bufpng.write_frames([], directory=out), None),
        Case("write_frames single frame", lambda: bufpng.write_frames(frames[0], directory=out), TypeError, (frames[0],)),
        Case("write_frames bad frame", lambda: bufpng.write_frames(mixed, directory=out), TypeError, (mixed, *frames)),
        Case("write_frames bad pattern", lambda: bufpng.write_frames(frames, directory=out, pattern="%s.png"), ValueError, tuple(frames)),
        Case("write_frames not iterable", lambda: bufpng.write_frames(42, directory=out), TypeError),
        Case("write_frames directory is a file", lambda: bufpng.write_frames(frames, directory=workdir / "a-file"), FileExistsError, tuple(frames)),
        Case("write_frames into a file's child", lambda: bufpng.write_frames(frames, directory=workdir / "a-file" / "x"), NotADirectoryError, tuple(frames)),
    ]


def animation_cases(workdir: Path) -> list[Case]:
    rng = np.random.default_rng(10)
    frames = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(3)]
    odd = [*frames, frames[0][:4]]
    durations = [0.1, 0.2, 0.3]
    path = workdir / "anim.png"
    bufpng.write_animation(path, frames)
    data = path.read_bytes()
    return [
        Case("write_animation list", lambda: bufpng.write_animation(path, frames, threads=2), None, (*frames, path)),
        Case("write_animation generator", lambda: bufpng.write_animation(path, (f for f in frames), durations=durations), None, (*frames, durations)),
        Case("write_animation mismatched frame", lambda: bufpng.write_animation(workdir / "x.png", odd), ValueError, (odd, *frames)),
        Case("write_animation no frames", lambda: bufpng.write_animation(workdir / "x.png", []), ValueError),
        Case("write_animation bad durations", lambda: bufpng.write_animation(workdir / "x.png", frames, durations=[0.1]), ValueError, (*frames,)),
        Case("write_animation missing directory", lambda: bufpng.write_animation(workdir / "no" / "x.png", frames), FileNotFoundError, (*frames,)),
        Case("read_animation path", lambda: bufpng.read_animation(path), None, (path,)),
        Case("read_animation bytes", lambda: bufpng.read_animation(data), None, (data,)),
        Case("read_animation truncated", lambda: bufpng.read_animation(data[:-20]), ValueError, (data,)),
        Case("read_animation not a path", lambda: bufpng.read_animation(3.5), TypeError),
    ]


# Add a builder here for each new public function (decode, describe, Frame, ...).
BUILDERS: list[Callable[[Path], list[Case]]] = [encode_cases, write_cases, write_frames_cases, animation_cases]


def all_cases(workdir: Path) -> list[Case]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [case for build in BUILDERS for case in build(workdir)]


def run(case: Case) -> object:
    """Runs a case once; returns its result or the expected exception, raises on anything else."""
    if case.raises is None:
        return case.call()
    try:
        case.call()
    except case.raises as error:
        return error
    raise AssertionError(f"{case.name}: expected {case.raises.__name__}, got success")


def rss_bytes() -> int:
    """Resident set size of this process, from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
