"""Bad input gets a clear exception that names the problem and the fix, and leaks no buffer."""

from __future__ import annotations

import array

import numpy as np
import pytest

import bufpng

IMAGE = np.zeros((48, 64, 3), np.uint8)


@pytest.mark.parametrize(
    "value, needle",
    [
        (str(IMAGE), "text is not pixels"),
        (None, "cv2.imread() fail"),
        ([1, 2, 3], "list of numbers"),
        ((1, 2, 3), "tuple of numbers"),
        (42, "got int"),
        (object(), "got object"),
    ],
    ids=["str", "None", "list", "tuple", "int", "object"],
)
def test_not_a_buffer(value: object, needle: str) -> None:
    with pytest.raises(TypeError, match="expected an image buffer") as info:
        bufpng.encode(value, 64, 48)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    "dtype, needle",
    [
        (np.float32, "floating-point"),
        (np.float64, "astype(np.uint8)"),
        (np.int8, "signed 8-bit"),
        (np.int16, "signed 16-bit"),
        (np.int32, "wider than 16 bits"),
        (np.uint32, "wider than 16 bits"),
        (np.bool_, "boolean"),
    ],
)
def test_unsupported_sample_types(dtype: type, needle: str) -> None:
    with pytest.raises(TypeError, match="unsupported buffer format") as info:
        bufpng.encode(np.zeros((4, 4, 3), dtype))
    assert needle in str(info.value)


def test_character_arrays_are_not_pixels() -> None:
    with pytest.raises(TypeError, match="characters"):
        bufpng.encode(np.array([[b"a", b"b"]], dtype="S1"))


def test_swapped_width_and_height() -> None:
    with pytest.raises(ValueError, match="width and height are swapped") as info:
        bufpng.encode(IMAGE, 48, 64)
    assert "width=shape[1]=64, height=shape[0]=48" in str(info.value)


def test_wrong_frame_size() -> None:
    with pytest.raises(ValueError, match=r"do not match the array's shape \(48, 64, 3\)"):
        bufpng.encode(IMAGE, 640, 480)


def test_flat_length_mismatch_states_expected_and_actual() -> None:
    with pytest.raises(ValueError, match=r"got 9217 samples, expected 3072 \(1 channel\), 6144 \(2\), 9216 \(3\)"):
        bufpng.encode(bytes(9217), 64, 48)


def test_sixteen_bit_data_in_bytes_is_diagnosed() -> None:
    with pytest.raises(ValueError, match="16-bit 3-channel data in an 8-bit buffer"):
        bufpng.encode(np.zeros((48, 64, 3), np.uint16).tobytes(), 64, 48)


def test_flat_buffer_without_size() -> None:
    with pytest.raises(ValueError, match="pass width= and height="):
        bufpng.encode(bytes(12))


def test_channels_first_array() -> None:
    with pytest.raises(ValueError, match="channels-first"):
        bufpng.encode(np.zeros((3, 48, 64), np.uint8))


def test_too_many_channels() -> None:
    with pytest.raises(ValueError, match="has 5 channels"):
        bufpng.encode(np.zeros((48, 64, 5), np.uint8))


def test_batch_passed_to_encode() -> None:
    with pytest.raises(ValueError, match="batch of 7 frames"):
        bufpng.encode(np.zeros((7, 4, 4, 3), np.uint8))


def test_scalar_and_empty_images() -> None:
    with pytest.raises(ValueError, match="0-dimensional"):
        bufpng.encode(np.uint8(3))
    with pytest.raises(ValueError, match="empty image"):
        bufpng.encode(np.zeros((0, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="buffer is empty"):
        bufpng.encode(b"", 4, 4)


@pytest.mark.parametrize(
    "width, height, error, needle",
    [
        (0, 4, ValueError, "positive"),
        (-4, 4, ValueError, "positive"),
        (4.0, 4, TypeError, "width must be an int, got float"),
        ("4", 4, TypeError, "width must be an int, got str"),
        (2**31, 1, ValueError, "PNG's limit"),
        (2**70, 1, OverflowError, "far too large"),
    ],
)
def test_bad_sizes(width: object, height: object, error: type, needle: str) -> None:
    with pytest.raises(error, match=needle):
        bufpng.encode(bytes(16), width, height)


def test_size_overflowing_memory_is_an_error_not_an_allocation() -> None:
    with pytest.raises(ValueError):
        bufpng.encode(bytes(16), 2**31 - 1, 2**31 - 1)


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        ({"order": "bgra"}, ValueError, 'order must be "bgr"'),
        ({"order": 1}, TypeError, "order must be a str"),
        ({"compression": 10}, ValueError, "compression must be 0-9"),
        ({"compression": -1}, ValueError, "compression must be 0-9"),
        ({"compression": "best"}, TypeError, "compression must be an int"),
    ],
)
def test_bad_options(kwargs: dict[str, object], error: type, needle: str) -> None:
    with pytest.raises(error, match=needle):
        bufpng.encode(IMAGE, **kwargs)


def test_argument_errors_match_cpython() -> None:
    with pytest.raises(TypeError, match=r"encode\(\) missing required argument 'image' \(pos 1\)"):
        bufpng.encode()
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        bufpng.encode(IMAGE, colour="rgb")
    with pytest.raises(TypeError, match="takes at most 3 positional arguments"):
        bufpng.encode(IMAGE, 64, 48, "rgb")
    with pytest.raises(TypeError, match="multiple values for argument 'image'"):
        bufpng.encode(IMAGE, image=IMAGE)


def test_suboffsets_are_refused_clearly() -> None:
    from _testbuffer import ND_PIL, ndarray

    pil_style = ndarray(list(range(48)), shape=[4, 4, 3], format="B", flags=ND_PIL)
    with pytest.raises(BufferError, match="suboffsets"):
        bufpng.encode(pil_style)


def test_exporter_refusal_propagates() -> None:
    from _testbuffer import ND_GETBUF_FAIL, ndarray

    refusing = ndarray(list(range(48)), shape=[4, 4, 3], format="B", flags=ND_GETBUF_FAIL)
    with pytest.raises(BufferError):
        bufpng.encode(refusing)


@pytest.mark.parametrize(
    "call",
    [
        lambda b: bufpng.encode(b, 7, 7),  # wrong length
        lambda b: bufpng.encode(b, 0, 4),  # bad width
        lambda b: bufpng.encode(b, 4, 4, order="xyz"),
        lambda b: bufpng.encode(b, 4, 4, compression=99),
        lambda b: bufpng.write("/no/such/dir/x.png", b, 4, 4),
        lambda b: bufpng.write_frames([b, b"x"], 4, 4),
    ],
    ids=["length", "width", "order", "compression", "oserror", "write_frames"],
)
def test_buffer_is_released_after_errors(call) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(48)
    view = memoryview(data)
    with pytest.raises((ValueError, OSError)):
        call(view)
    view.release()  # raises BufferError if bufpng still held an export
    data.extend(b"more")  # likewise for the bytearray itself
    assert len(data) == 52


def test_buffer_is_released_after_success() -> None:
    data = bytearray(48)
    bufpng.encode(data, 4, 4)
    data.append(0)
    holder = array.array("B", bytes(48))
    bufpng.encode(holder, 4, 4)
    holder.append(1)
