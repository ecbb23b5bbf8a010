"""examples/minimal: the smallest complete buffer consumer, tested as a user
would call it (`make test` installs it with `pip install examples/minimal`)."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bufpng_minimal

RNG = np.random.default_rng(17)
FRAME = RNG.integers(0, 256, (48, 64, 3), np.uint8)  # (height, width, RGB)


def written(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image)


def test_numpy_frame(tmp_path: Path) -> None:
    bufpng_minimal.write_png(tmp_path / "a.png", FRAME, 64, 48)
    assert np.array_equal(written(tmp_path / "a.png"), FRAME)


def test_bytes_and_path_spellings(tmp_path: Path) -> None:
    data = FRAME.tobytes()
    bufpng_minimal.write_png(str(tmp_path / "b.png"), data, 64, 48)
    bufpng_minimal.write_png(bytes(tmp_path / "c.png"), bytearray(data), 64, 48)
    assert np.array_equal(written(tmp_path / "b.png"), FRAME)
    assert np.array_equal(written(tmp_path / "c.png"), FRAME)


@pytest.mark.parametrize(
    "view",
    [
        FRAME[..., ::-1],  # OpenCV's BGR to RGB: a negative channel stride
        FRAME[5:30, 7:50],  # a crop: rows not back to back
        FRAME[::-1, ::2],  # flipped and every other column
        np.asfortranarray(FRAME),
    ],
    ids=["bgr-to-rgb", "crop", "flip-step", "fortran"],
)
def test_strided_views_are_copied_in_c_order(tmp_path: Path, view: np.ndarray) -> None:
    assert not view.flags.c_contiguous
    height, width, _ = view.shape
    bufpng_minimal.write_png(tmp_path / "s.png", view, width, height)
    assert np.array_equal(written(tmp_path / "s.png"), view)


@pytest.mark.parametrize("prefix", ["", "@", "=", "<", ">", "!"])
def test_every_spelling_of_unsigned_byte(tmp_path: Path, prefix: str) -> None:
    # memoryview.cast only makes native formats: struct spellings come from
    # exporters such as ctypes ("<B") or _testbuffer.ndarray.
    testbuffer = pytest.importorskip("_testbuffer")
    exported = testbuffer.ndarray(list(FRAME.tobytes()), shape=[FRAME.size], format=prefix + "B")
    assert memoryview(exported).format == prefix + "B"
    bufpng_minimal.write_png(tmp_path / "f.png", exported, 64, 48)
    assert np.array_equal(written(tmp_path / "f.png"), FRAME)


def test_ctypes_arrays_format_and_null_strides(tmp_path: Path) -> None:
    # uint8[48][64][3]: format "<B", and strides left NULL (C order) although requested
    pixels = (ctypes.c_ubyte * 3 * 64 * 48).from_buffer_copy(FRAME.tobytes())
    assert memoryview(pixels).format == "<B"
    bufpng_minimal.write_png(tmp_path / "ct.png", pixels, 64, 48)
    assert np.array_equal(written(tmp_path / "ct.png"), FRAME)


def test_str_frame_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"got str: text is not pixels.*pass the array itself"):
        bufpng_minimal.write_png(tmp_path / "x.png", str(FRAME), 64, 48)  # type: ignore[arg-type]
    assert not (tmp_path / "x.png").exists()


def test_wrong_length_names_both_and_releases_the_buffer(tmp_path: Path) -> None:
    data = bytearray(FRAME.tobytes())
    with pytest.raises(ValueError, match=r"width=64, height=40: got 9216 bytes, expected 3 \* width"):
        bufpng_minimal.write_png(tmp_path / "x.png", data, 64, 40)
    data.append(0)  # no BufferError: the failed call released its view
    with pytest.raises(ValueError, match="must be positive, got 0 and 48"):
        bufpng_minimal.write_png(tmp_path / "x.png", FRAME, 0, 48)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("frame", "described"),
    [(FRAME.astype(np.uint16), "format 'H' with itemsize 2"), (FRAME.astype(np.int8), "format 'b' with itemsize 1")],
)
def test_other_sample_types_are_refused(tmp_path: Path, frame: np.ndarray, described: str) -> None:
    with pytest.raises(TypeError, match=f"expected uint8 samples .*got {described}"):
        bufpng_minimal.write_png(tmp_path / "x.png", frame, 64, 48)


def test_exporter_errors_pass_through(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="bytes-like object is required, not 'list'"):
        bufpng_minimal.write_png(tmp_path / "x.png", [0] * 9216, 64, 48)  # type: ignore[arg-type]


def test_io_errors_are_oserror_subclasses_naming_the_file(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.png"
    with pytest.raises(FileNotFoundError) as raised:
        bufpng_minimal.write_png(target, FRAME, 64, 48)
    assert raised.value.filename == target


def test_references_balanced() -> None:
    before = sys.getrefcount(FRAME)
    for _ in range(50):
        with pytest.raises(ValueError):
            bufpng_minimal.write_png("/nonexistent/x.png", FRAME, 1, 1)
    assert sys.getrefcount(FRAME) == before  # each view.obj reference dropped
    assert bufpng_minimal.__version__ == "0.1.0"  # added by the Py_mod_exec slot
