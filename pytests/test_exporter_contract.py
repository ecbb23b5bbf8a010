"""bufpng.Frame as a buffer exporter, to the letter of Doc/c-api/buffer.rst.

CPython's own exporters are the reference: a memoryview (Objects/
memoryobject.c) and `_testbuffer.ndarray` (Modules/_testbuffer.c) holding the
same pixels with the same shape and format. For every combination of the
request bits that mean something, all three must either refuse (with the
same exception type) or fill in the same fields.
"""

from __future__ import annotations

import itertools
from typing import Any

import _testbuffer
import pytest

import bufpng

# The request bits; composite flags (STRIDES = 0x10 | ND...) are the OR of
# their own bit and these, so every request is some subset of them.
BITS = {
    "WRITABLE": 0x0001,
    "FORMAT": 0x0004,
    "ND": 0x0008,
    "STRIDES": 0x0010,
    "C_CONTIGUOUS": 0x0020,
    "F_CONTIGUOUS": 0x0040,
    "ANY_CONTIGUOUS": 0x0080,
    "INDIRECT": 0x0100,
}
REQUESTS = [
    sum(chosen)
    for n in range(len(BITS) + 1)
    for chosen in itertools.combinations(BITS.values(), n)
]

# (shape, depth): gray 2-D and colour 3-D, 8 and 16 bits, and shapes that are
# C- and Fortran-contiguous at once (a single pixel, a single row).
FRAMES = [
    ((3, 2, 3), 8),
    ((2, 5), 16),
    ((4, 3, 4), 16),
    ((1, 1), 8),
    ((1, 4), 16),
    ((1, 1, 2), 8),
]


def exporters(shape: tuple[int, ...], depth: int) -> dict[str, Any]:
    fmt = "B" if depth == 8 else "H"
    count = 1
    for n in shape:
        count *= n
    items = [(i * 37) % (256 if depth == 8 else 65536) for i in range(count)]
    nd = _testbuffer.ndarray(items, shape=list(shape), format=fmt)  # read-only
    raw = nd.tobytes()
    frame = bufpng.Frame(nd)
    mv = memoryview(raw).cast(fmt, list(shape))
    assert frame.tobytes() == raw and mv.tobytes() == raw
    return {"Frame": frame, "memoryview": mv, "_testbuffer": nd}


def outcome(obj: Any, flags: int) -> Any:
    try:
        return bufpng.describe(obj, flags)
    except BufferError:
        return BufferError
    except SystemError:
        # From 3.13 PyObject_GetBuffer itself refuses 0x100 alone (the value
        # of PyBUF_READ) before asking any exporter: the same for all three.
        return SystemError


def test_every_request_is_covered() -> None:
    assert len(REQUESTS) == 2 ** len(BITS) == len(set(REQUESTS))


@pytest.mark.parametrize(("shape", "depth"), FRAMES, ids=[f"{s}-{d}bit" for s, d in FRAMES])
def test_frame_answers_every_request_as_cpythons_exporters(
    shape: tuple[int, ...], depth: int
) -> None:
    objects = exporters(shape, depth)
    mismatches = []
    for flags in REQUESTS:
        seen = {name: outcome(obj, flags) for name, obj in objects.items()}
        if not seen["memoryview"] == seen["_testbuffer"]:
            # The two references agree everywhere, or this test means nothing.
            raise AssertionError(f"references differ for {flags:#x}: {seen}")
        if seen["Frame"] != seen["memoryview"]:
            names = [k for k, v in BITS.items() if flags & v]
            mismatches.append((flags, names, seen["Frame"], seen["memoryview"]))
    assert not mismatches, "\n".join(map(str, mismatches[:10]))


def test_refusals_are_buffer_errors_that_say_why() -> None:
    frame = bufpng.Frame(bytes(24), 4, 2)
    with pytest.raises(BufferError, match="format"):
        bufpng.describe(frame, BITS["FORMAT"])
    with pytest.raises(BufferError, match="read-only"):
        bufpng.describe(frame, BITS["WRITABLE"] | BITS["ND"])
