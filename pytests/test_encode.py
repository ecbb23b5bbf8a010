"""encode(): every kind of input buffer, round-tripped exactly through OpenCV and Pillow."""

from __future__ import annotations

import array
import mmap

import numpy as np
import pytest

import bufpng
from conftest import cv2_decode, pil_decode

RNG = np.random.default_rng(20261125)


def noise(shape: tuple[int, ...], dtype: type = np.uint8) -> np.ndarray:
    high = 256 if dtype == np.uint8 else 65536
    return RNG.integers(0, high, size=shape, dtype=dtype)


def as_stored(image: np.ndarray, order: str) -> np.ndarray:
    """What OpenCV (BGR) decodes from bufpng's PNG of `image` passed with `order`."""
    if order == "rgb" and image.ndim == 3 and image.shape[2] >= 3:
        swapped = image.copy()
        swapped[..., [0, 2]] = image[..., [2, 0]]
        return swapped
    return image


SHAPES = {
    "gray2d": (37, 53),
    "gray1": (37, 53, 1),
    "gray_alpha": (37, 53, 2),
    "bgr": (37, 53, 3),
    "bgra": (37, 53, 4),
}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.dtype(">u2")], ids=["u8", "u16", "u16be"])
@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_round_trip_through_opencv(dtype: np.dtype, kind: str, order: str) -> None:
    image = noise(SHAPES[kind], np.uint16 if dtype != np.uint8 else np.uint8).astype(dtype)
    decoded = cv2_decode(bufpng.encode(image, order=order))
    expected = as_stored(image, order)
    if kind == "gray1":
        expected = expected[..., 0]
    if kind == "gray_alpha":
        # OpenCV has no gray+alpha: it expands to BGRA. Check gray and alpha.
        assert decoded.shape == (37, 53, 4)
        assert np.array_equal(decoded[..., 0], image[..., 0])
        assert np.array_equal(decoded[..., 3], image[..., 1])
        return
    assert decoded.dtype == np.dtype(dtype).newbyteorder("=")
    assert decoded.shape == expected.shape
    assert np.array_equal(decoded, expected)


@pytest.mark.parametrize("kind", ["gray2d", "gray_alpha", "bgr", "bgra"])
def test_round_trip_through_pillow(kind: str) -> None:
    image = noise(SHAPES[kind])
    decoded = pil_decode(bufpng.encode(image, order="rgb"))
    assert np.array_equal(decoded, image)


def test_sixteen_bit_gray_through_pillow() -> None:
    image = noise((20, 30), np.uint16)
    assert np.array_equal(pil_decode(bufpng.encode(image)).astype(np.uint16), image)


VIEWS = {
    "crop": lambda a: a[5:30, 7:45],
    "step": lambda a: a[::2, ::3],
    "flipped_rows": lambda a: a[::-1],
    "flipped_both": lambda a: a[::-1, ::-1],
    "fortran": lambda a: np.asfortranarray(a),
    "channel_slice": lambda a: a[..., :3],
    "channels_reversed": lambda a: a[..., ::-1],
    "transposed": lambda a: a.transpose(1, 0, 2),
}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("view", list(VIEWS))
def test_non_contiguous_views(view: str, dtype: type) -> None:
    base = noise((40, 50, 4), dtype)
    image = VIEWS[view](base)
    assert np.array_equal(cv2_decode(bufpng.encode(image)), image)


def test_photo_round_trip(photo: np.ndarray) -> None:
    assert np.array_equal(cv2_decode(bufpng.encode(photo)), photo)


def test_input_is_not_modified(photo: np.ndarray) -> None:
    before = photo.copy()
    bufpng.encode(photo, order="rgb")
    assert np.array_equal(photo, before)


EXPORTERS = ["bytes", "bytearray", "memoryview", "array.array", "mmap", "numpy_flat"]


def flat_exporter(kind: str, data: bytes) -> object:
    if kind == "mmap":
        buffer = mmap.mmap(-1, len(data))
        buffer.write(data)
        return buffer
    return {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "array.array": array.array("B", data),
        "numpy_flat": np.frombuffer(data, np.uint8),
    }[kind]


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("exporter", EXPORTERS)
def test_flat_buffers_infer_channels_from_length(exporter: str, channels: int) -> None:
    """1 and 3 bytes a pixel have one reading; 2 and 4 need channels=
    (docs/api.md, "How a buffer is read"), with which every exporter works."""
    image = noise((21, 17, channels))
    flat = flat_exporter(exporter, image.tobytes())
    expected = bufpng.encode(image if channels > 1 else image[..., 0])
    if channels in (2, 4):
        with pytest.raises(ValueError, match=f"pass channels={channels}"):
            bufpng.encode(flat, 17, 21)
    else:
        assert bufpng.encode(flat, 17, 21) == expected
    assert bufpng.encode(flat, 17, 21, channels=channels) == expected


def test_flat_sixteen_bit_array_and_cast_memoryview() -> None:
    image = noise((9, 11, 3), np.uint16)
    expected = bufpng.encode(image)
    assert bufpng.encode(array.array("H", image.tobytes()), 11, 9) == expected
    assert bufpng.encode(memoryview(image.tobytes()).cast("H"), 11, 9) == expected


def test_strided_flat_memoryview() -> None:
    data = bytes(range(256)) * 2
    view = memoryview(data)[::2]
    assert bufpng.encode(view, 16, 16) == bufpng.encode(bytes(view), 16, 16)


def test_width_and_height_matching_the_array_are_accepted() -> None:
    image = noise((12, 34, 3))
    assert bufpng.encode(image, 34, 12) == bufpng.encode(image)
    assert bufpng.encode(image, width=34) == bufpng.encode(image)


def test_numpy_integers_are_accepted_as_sizes() -> None:
    image = noise((12, 34, 3))
    assert bufpng.encode(image.tobytes(), np.int64(34), np.uint16(12)) == bufpng.encode(image)


@pytest.mark.parametrize("level", range(10))
def test_every_compression_level_round_trips(level: int, photo: np.ndarray) -> None:
    assert np.array_equal(cv2_decode(bufpng.encode(photo, compression=level)), photo)


def test_level_zero_is_stored_and_level_nine_smallest(photo: np.ndarray) -> None:
    sizes = {level: len(bufpng.encode(photo, compression=level)) for level in (0, 1, 9)}
    assert sizes[0] > photo.nbytes  # stored: raw size plus filter bytes and framing
    assert sizes[9] < sizes[1] < sizes[0]


def test_order_is_ignored_for_gray() -> None:
    image = noise((10, 10, 2))
    assert bufpng.encode(image, order="rgb") == bufpng.encode(image, order="bgr")


def test_one_pixel_image() -> None:
    image = np.array([[[1, 2, 3]]], np.uint8)
    assert np.array_equal(cv2_decode(bufpng.encode(image)), image)


def test_signature_is_introspectable() -> None:
    import inspect

    assert (
        str(inspect.signature(bufpng.encode))
        == "(image, width=None, height=None, *, channels=None, stride=None, order=None, compression=None, "
        "threads=None, text=None, dpi=None, srgb=None, gamma=None, icc_profile=None, cicp=None, "
        "mastering_display=None, content_light_level=None, metadata=None)"
    )
    assert "path, image" in str(inspect.signature(bufpng.write))
    assert bufpng.__version__.count(".") == 2


def test_pngcheck_accepts_every_kind(tmp_path, pngcheck) -> None:  # type: ignore[no-untyped-def]
    paths = []
    for dtype in (np.uint8, np.uint16):
        for kind, shape in SHAPES.items():
            for level in (None, 0, 1, 9):
                path = tmp_path / f"{kind}-{np.dtype(dtype).name}-{level}.png"
                path.write_bytes(bufpng.encode(noise(shape, dtype), compression=level))
                paths.append(path)
    for path in paths:
        pngcheck(path)
