"""bufpng.Frame: an owned copy that exports the buffer protocol itself."""

from __future__ import annotations

import array
import gc
import inspect
import sys

import _testbuffer
import numpy as np
import pytest

import bufpng
from conftest import cv2_decode

RNG = np.random.default_rng(5)


def image(shape: tuple[int, ...], dtype: type = np.uint8) -> np.ndarray:
    high = 256 if dtype == np.uint8 else 65536
    return RNG.integers(0, high, size=shape, dtype=dtype)


@pytest.mark.parametrize(
    "shape, dtype, order",
    [
        ((3, 5), np.uint8, "gray"),
        ((3, 5, 2), np.uint8, "gray"),
        ((3, 5, 3), np.uint8, "bgr"),
        ((3, 5, 4), np.uint8, "bgr"),
        ((3, 5), np.uint16, "gray"),
        ((3, 5, 3), np.uint16, "bgr"),
        ((3, 5, 4), np.uint16, "bgr"),
    ],
)
def test_attributes_and_zero_copy_view(shape: tuple[int, ...], dtype: type, order: str) -> None:
    source = image(shape, dtype)
    frame = bufpng.Frame(source)
    assert (frame.height, frame.width) == shape[:2]
    assert frame.channels == (shape[2] if len(shape) == 3 else 1)
    assert frame.depth == 8 * np.dtype(dtype).itemsize
    assert frame.order == order
    assert frame.nbytes == source.nbytes
    view = np.asarray(frame)
    assert view.shape == source.shape and view.dtype == source.dtype
    np.testing.assert_array_equal(view, source)
    # Zero copy: two views share the frame's memory, and it is not the source's.
    assert np.shares_memory(view, np.asarray(frame))
    assert not np.shares_memory(view, source)
    assert frame.tobytes() == source.tobytes()


def test_buffer_is_read_only_and_c_contiguous() -> None:
    frame = bufpng.Frame(image((4, 6, 3)))
    view = np.asarray(frame)
    assert not view.flags.writeable and view.flags.c_contiguous
    with pytest.raises(ValueError, match="read-only"):
        view[0, 0, 0] = 1
    m = memoryview(frame)
    assert m.readonly and m.obj is frame
    assert (m.format, m.itemsize, m.shape, m.strides) == ("B", 1, (4, 6, 3), (18, 3, 1))
    with pytest.raises(BufferError, match="read-only"):
        bufpng.describe(frame, "writable")
    with pytest.raises(BufferError, match="read-only"):
        _testbuffer.ndarray(frame, getbuf=_testbuffer.PyBUF_FULL)


def test_sixteen_bit_export_is_native_uint16() -> None:
    big_endian = image((3, 4, 3), np.uint16).astype(">u2")
    frame = bufpng.Frame(big_endian)
    m = memoryview(frame)
    assert (m.format, m.itemsize, m.strides) == ("H", 2, (24, 6, 2))
    view = np.asarray(frame)
    assert view.dtype == np.dtype("=u2")
    np.testing.assert_array_equal(view, big_endian)


@pytest.mark.parametrize(
    "flags",
    [
        "PyBUF_SIMPLE",
        "PyBUF_ND",
        "PyBUF_STRIDES",
        "PyBUF_C_CONTIGUOUS",
        "PyBUF_ANY_CONTIGUOUS",
        "PyBUF_INDIRECT",
        "PyBUF_CONTIG_RO",
        "PyBUF_STRIDED_RO",
        "PyBUF_RECORDS_RO",
        "PyBUF_FULL_RO",
    ],
)
def test_export_matches_what_testbuffer_reads(flags: str) -> None:
    source = image((2, 3, 4), np.uint16)
    frame = bufpng.Frame(source)
    nd = _testbuffer.ndarray(frame, getbuf=getattr(_testbuffer, flags))
    assert nd.readonly and nd.obj is frame
    assert nd.tobytes() == source.tobytes()
    info = bufpng.describe(frame, flags.removeprefix("PyBUF_").lower())
    assert info["len"] == source.nbytes and info["itemsize"] == 2
    asks_format = flags in ("PyBUF_RECORDS_RO", "PyBUF_FULL_RO")
    assert info["format"] == ("H" if asks_format else None)
    if flags == "PyBUF_SIMPLE":
        assert (info["ndim"], info["shape"], info["strides"]) == (1, None, None)
    else:
        assert info["shape"] == (2, 3, 4)
        has_strides = flags not in ("PyBUF_ND", "PyBUF_CONTIG_RO")
        assert info["strides"] == ((24, 8, 2) if has_strides else None)


def test_fortran_requests_are_refused_unless_the_frame_is_also_fortran() -> None:
    with pytest.raises(BufferError, match="Fortran"):
        bufpng.describe(bufpng.Frame(image((3, 4))), "f_contiguous")
    # A single row is both C and Fortran contiguous, as for numpy.
    row = bufpng.Frame(image((1, 4)))
    assert bufpng.describe(row, "f_contiguous")["f_contiguous"]
    assert np.asarray(row).flags.f_contiguous


def test_the_frame_outlives_its_views() -> None:
    source = image((8, 9, 3))
    frame = bufpng.Frame(source)
    before = sys.getrefcount(frame)
    view = np.asarray(frame)
    m = memoryview(frame)
    assert sys.getrefcount(frame) > before
    del frame
    gc.collect()
    # Allocate and free a lot so freed memory would be reused.
    for _ in range(20):
        bytearray(source.nbytes)
    np.testing.assert_array_equal(view, source)
    assert m.tobytes() == source.tobytes()
    frame = m.obj
    m.release()
    del view
    gc.collect()
    assert sys.getrefcount(frame) == before


def test_copies_flat_buffers_with_width_and_height() -> None:
    data = bytes(range(24))
    for flat in (data, bytearray(data), memoryview(data), array.array("B", data)):
        frame = bufpng.Frame(flat, 4, 2)
        assert (frame.width, frame.height, frame.channels) == (4, 2, 3)
        assert frame.tobytes() == data
    with pytest.raises(ValueError):
        bufpng.Frame(data, 5, 2)


def test_order_is_kept_and_used_by_encode() -> None:
    bgr = image((5, 7, 3))
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    frame = bufpng.Frame(rgb, order="rgb")
    assert frame.order == "rgb"
    np.testing.assert_array_equal(np.asarray(frame), rgb)  # stored as given
    expected = bufpng.encode(bgr)
    assert bufpng.encode(frame) == expected
    assert frame.encode() == expected
    np.testing.assert_array_equal(cv2_decode(frame.encode()), bgr)
    # A Frame made from a Frame keeps its order; order= relabels the pixels.
    assert bufpng.Frame(frame).order == "rgb"
    assert bufpng.Frame(frame) == frame
    relabelled = bufpng.Frame(frame, order="bgr")
    assert relabelled.order == "bgr" and relabelled.tobytes() == frame.tobytes()
    # An explicit order in the call wins over the frame's, as for any buffer.
    assert bufpng.encode(frame, order="bgr") == bufpng.encode(rgb)


def test_frames_are_accepted_by_write_and_write_frames(tmp_path) -> None:  # noqa: ANN001
    bgr = image((4, 6, 3))
    frame = bufpng.Frame(np.ascontiguousarray(bgr[..., ::-1]), order="rgb")
    bufpng.write(tmp_path / "a.png", frame)
    frame.write(tmp_path / "b.png", compression=9)
    paths = bufpng.write_frames([frame, bufpng.Frame(bgr)], directory=tmp_path)
    for path in [tmp_path / "a.png", tmp_path / "b.png", *paths]:
        np.testing.assert_array_equal(cv2_decode(open(path, "rb").read()), bgr)
    assert bufpng.read(tmp_path / "a.png") == frame


def test_sixteen_bit_frames_encode_like_their_arrays() -> None:
    source = image((6, 5, 4), np.uint16)
    frame = bufpng.Frame(source)
    assert frame.encode() == bufpng.encode(source)
    np.testing.assert_array_equal(cv2_decode(frame.encode(compression=1)), source)


def test_repr() -> None:
    assert repr(bufpng.Frame(np.zeros((1080, 1920, 3), np.uint8))) == "<bufpng.Frame 1920x1080 bgr 8-bit>"
    assert repr(bufpng.Frame(np.zeros((2, 3), np.uint16))) == "<bufpng.Frame 3x2 gray 16-bit>"
    assert repr(bufpng.Frame(np.zeros((2, 3, 2), np.uint8))) == "<bufpng.Frame 3x2 graya 8-bit>"
    assert repr(bufpng.Frame(np.zeros((2, 3, 4), np.uint8), order="rgb")) == "<bufpng.Frame 3x2 rgba 8-bit>"


def test_equality_compares_the_picture() -> None:
    bgr = image((3, 4, 3))
    frame = bufpng.Frame(bgr)
    assert frame == bufpng.Frame(bgr.copy())
    # The same picture stored in the other channel order is equal.
    assert frame == bufpng.Frame(np.ascontiguousarray(bgr[..., ::-1]), order="rgb")
    # The same bytes read as the other order are a different picture.
    assert frame != bufpng.Frame(bgr, order="rgb")
    changed = bgr.copy()
    changed[2, 3, 1] ^= 1
    assert frame != bufpng.Frame(changed)
    assert frame != bufpng.Frame(bgr[:, :3])  # another size
    assert frame != bufpng.Frame(bgr.astype(np.uint16))  # another depth
    assert bufpng.Frame(bgr[..., 0]) == bufpng.Frame(bgr[..., 0], order="rgb")  # gray has no order
    assert frame != bgr.tobytes() and not (frame == bgr.tobytes())
    with pytest.raises(TypeError):
        hash(frame)


def test_frame_is_immutable_and_final() -> None:
    frame = bufpng.Frame(image((2, 2)))
    with pytest.raises(AttributeError):
        frame.width = 3  # type: ignore[misc]
    with pytest.raises(TypeError):

        class Sub(bufpng.Frame):  # type: ignore[misc]
            pass

    assert str(inspect.signature(bufpng.Frame)) == "(image, width=None, height=None, *, channels=None, stride=None, order=None)"
    assert bufpng.Frame.__module__ == "bufpng"


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="text is not pixels"):
        bufpng.Frame("not pixels")
    with pytest.raises(TypeError, match="missing required argument 'image'"):
        bufpng.Frame()
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        bufpng.Frame(image((2, 2)), colour="bgr")
    with pytest.raises(ValueError, match="order must be"):
        bufpng.Frame(image((2, 2, 3)), order="bgra")
    with pytest.raises(TypeError, match="float"):
        bufpng.Frame(np.zeros((2, 2), np.float32))
