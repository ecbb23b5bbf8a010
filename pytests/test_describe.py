"""describe(): what an exporter fills into a Py_buffer for one request."""

from __future__ import annotations

import array
import inspect
import sys
from typing import Any

import _testbuffer as tb
import numpy as np
import pytest

import bufpng

NAMES = [
    "simple",
    "writable",
    "format",
    "nd",
    "strides",
    "c_contiguous",
    "f_contiguous",
    "any_contiguous",
    "indirect",
    "contig",
    "contig_ro",
    "strided",
    "strided_ro",
    "records",
    "records_ro",
    "full",
    "full_ro",
]


def exporters() -> list[tuple[str, Any]]:
    base = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    items = list(range(24))
    return [
        ("ndarray", base),
        ("ndarray every other column", base[:, ::2]),
        ("ndarray upside down", base[::-1]),
        ("ndarray fortran", np.asfortranarray(base)),
        ("ndarray big-endian uint16", np.arange(6, dtype=">u2").reshape(2, 3)),
        ("ndarray 0-d", np.array(7, dtype=np.uint16)),
        ("ndarray empty", np.zeros((0, 3), np.uint8)),
        ("ndarray read-only", np.frombuffer(b"abcdef", np.uint8)),
        ("bytes", b"abcdef"),
        ("bytearray", bytearray(b"abcd")),
        ("array.array H", array.array("H", [1, 2, 3])),
        ("array.array d", array.array("d", [0.5, 1.5])),
        ("memoryview strided", memoryview(b"abcdef")[::2]),
        ("_testbuffer C", tb.ndarray(items, shape=[2, 3, 4], format="B")),
        ("_testbuffer H", tb.ndarray(items, shape=[6, 4], format="H")),
        ("_testbuffer fortran", tb.ndarray(items, shape=[2, 3, 4], format="B", flags=tb.ND_FORTRAN)),
        ("_testbuffer PIL suboffsets", tb.ndarray(items, shape=[2, 3, 4], format="B", flags=tb.ND_PIL)),
        ("_testbuffer writable", tb.ndarray(items, shape=[4, 6], format="B", flags=tb.ND_WRITABLE)),
        ("Frame", bufpng.Frame(np.arange(24, dtype=np.uint16).reshape(2, 4, 3))),
    ]


@pytest.mark.parametrize("name, obj", exporters(), ids=[n for n, _ in exporters()])
def test_full_ro_matches_memoryview(name: str, obj: Any) -> None:
    info = bufpng.describe(obj, "full_ro")
    m = memoryview(obj)
    assert info["len"] == m.nbytes
    assert info["itemsize"] == m.itemsize
    assert info["format"] == m.format
    assert info["ndim"] == m.ndim
    # A 0-d exporter may leave shape and strides NULL; memoryview shows ().
    assert info["shape"] == m.shape or (m.ndim == 0 and info["shape"] is None)
    assert info["strides"] == m.strides or (m.ndim == 0 and info["strides"] is None)
    assert (info["suboffsets"] or ()) == m.suboffsets
    assert info["readonly"] == m.readonly
    assert info["c_contiguous"] == m.c_contiguous
    assert info["f_contiguous"] == m.f_contiguous
    assert list(info) == [
        "len",
        "itemsize",
        "format",
        "ndim",
        "shape",
        "strides",
        "suboffsets",
        "readonly",
        "c_contiguous",
        "f_contiguous",
    ]


@pytest.mark.parametrize("request_name", NAMES)
def test_names_are_cpythons_flags(request_name: str) -> None:
    flags = getattr(tb, "PyBUF_" + request_name.upper())
    obj = np.arange(12, dtype=np.uint16)  # 1-D: both C and Fortran contiguous
    assert bufpng.describe(obj, request_name) == bufpng.describe(obj, flags)


def test_simple_sees_bytes_without_shape_or_format() -> None:
    info = bufpng.describe(b"abcdef", "simple")
    assert info == {
        "len": 6,
        "itemsize": 1,
        "format": None,
        "ndim": 1,
        "shape": None,
        "strides": None,
        "suboffsets": None,
        "readonly": True,
        "c_contiguous": True,
        "f_contiguous": True,
    }
    # A frame under PyBUF_SIMPLE: only a length; width, height and channels are gone.
    frame = bufpng.Frame(np.zeros((2, 3, 3), np.uint8))
    assert (bufpng.describe(frame, "simple")["shape"], bufpng.describe(frame)["shape"]) == (None, (2, 3, 3))


def test_default_request_is_records_ro() -> None:
    obj = np.zeros((2, 3), np.uint8)
    assert bufpng.describe(obj) == bufpng.describe(obj, "records_ro")
    assert str(inspect.signature(bufpng.describe)) == "(obj, request='records_ro')"


def refusal(obj: Any, flags: int) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        tb.ndarray(obj, getbuf=flags)
    return type(info.value), str(info.value)


@pytest.mark.parametrize(
    "obj, request_name",
    [
        (np.arange(12, dtype=np.uint8).reshape(3, 4)[:, ::2], "simple"),
        (np.arange(12, dtype=np.uint8).reshape(3, 4)[:, ::2], "c_contiguous"),
        (np.asfortranarray(np.zeros((3, 4), np.uint8)), "c_contiguous"),
        (b"abc", "writable"),
        (b"abc", "records"),
        (bufpng.Frame(np.zeros((3, 4), np.uint8)), "full"),
        (bufpng.Frame(np.zeros((3, 4), np.uint8)), "f_contiguous"),
        (tb.ndarray(list(range(12)), shape=[3, 4], format="B", flags=tb.ND_PIL), "strided_ro"),
    ],
)
def test_refusals_propagate_unchanged(obj: Any, request_name: str) -> None:
    flags = getattr(tb, "PyBUF_" + request_name.upper())
    kind, message = refusal(obj, flags)
    with pytest.raises(kind) as info:
        bufpng.describe(obj, request_name)
    assert type(info.value) is kind and str(info.value) == message


def test_the_buffer_is_released() -> None:
    data = bytearray(b"abcd")
    bufpng.describe(data)
    data.extend(b"ef")  # would raise BufferError while an export is held
    assert bufpng.describe(data)["len"] == 6
    # No reference to the exporter is kept, whether it accepts or refuses.
    roi = np.zeros((4, 4), np.uint8)[:, ::2]
    before = sys.getrefcount(roi)
    for _ in range(100):
        bufpng.describe(roi)
        with pytest.raises(ValueError):
            bufpng.describe(roi, "simple")
    assert sys.getrefcount(roi) == before


def test_bad_requests() -> None:
    with pytest.raises(ValueError, match='unknown request "record".*records_ro'):
        bufpng.describe(b"", "record")
    with pytest.raises(TypeError, match="request must be"):
        bufpng.describe(b"", 1.5)
    with pytest.raises(TypeError, match="a bytes-like object is required"):
        bufpng.describe("text")
