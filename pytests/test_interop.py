"""Frames in the data ecosystem (issue 15): decoding into the caller's
buffer (out=), read_frames, numpy-style attributes and the array interface,
pickling (protocol 5 out of band), multiprocessing."""

from __future__ import annotations

import _thread
import copy
import mmap
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np
import pytest
from conftest import PNGSUITE, child_env, run_watched

import bufpng

RNG = np.random.default_rng(15)


def image(shape: tuple[int, ...], dtype: type = np.uint8) -> np.ndarray:
    top = 256 if dtype == np.uint8 else 65536
    return RNG.integers(0, top, size=shape, dtype=dtype)


@pytest.fixture
def png() -> tuple[bytes, np.ndarray]:
    pixels = image((6, 7, 3))
    return bufpng.encode(pixels), pixels


# decode/read out= ---------------------------------------------------------


def test_out_is_filled_and_returned(png: tuple[bytes, np.ndarray]) -> None:
    data, pixels = png
    out = np.zeros_like(pixels)
    assert bufpng.decode(data, out=out) is out
    np.testing.assert_array_equal(out, pixels)


def test_out_as_a_channel_last_slice_of_a_wider_array(png: tuple[bytes, np.ndarray]) -> None:
    data, pixels = png
    wide = np.full((6, 7, 5), 77, np.uint8)
    bufpng.decode(data, out=wide[:, :, 1:4])
    np.testing.assert_array_equal(wide[:, :, 1:4], pixels)
    assert (wide[:, :, 0] == 77).all() and (wide[:, :, 4] == 77).all()


def test_out_fortran_ordered_and_reversed(png: tuple[bytes, np.ndarray]) -> None:
    data, pixels = png
    fortran = np.zeros(pixels.shape, np.uint8, order="F")
    bufpng.decode(data, out=fortran)
    np.testing.assert_array_equal(fortran, pixels)
    backing = np.zeros_like(pixels)
    bufpng.decode(data, out=backing[::-1, ::-1])
    np.testing.assert_array_equal(backing[::-1, ::-1], pixels)


def test_read_into_batch_slots(tmp_path: Path) -> None:
    frames = [image((5, 4, 3)) for _ in range(3)]
    batch = np.zeros((3, 5, 4, 3), np.uint8)
    for i, frame in enumerate(frames):
        bufpng.write(tmp_path / f"{i}.png", frame)
        assert bufpng.read(tmp_path / f"{i}.png", out=batch[i]) is not None
    np.testing.assert_array_equal(batch, np.stack(frames))


def test_read_only_out_is_refused_with_the_exporters_reason(png: tuple[bytes, np.ndarray]) -> None:
    data, pixels = png
    frozen = np.zeros_like(pixels)
    frozen.flags.writeable = False
    with pytest.raises(BufferError, match="out must be a writable buffer, but this ndarray is read-only") as info:
        bufpng.decode(data, out=frozen)
    assert isinstance(info.value.__cause__, ValueError)  # numpy's own words
    with pytest.raises(BufferError, match="bytes is read-only"):
        bufpng.decode(data, out=bytes(pixels.nbytes))
    with pytest.raises(BufferError, match="read-only"):
        bufpng.decode(data, out=bufpng.Frame(pixels))


@pytest.mark.parametrize(
    "shape, dtype",
    [((6, 8, 3), np.uint8), ((7, 6, 3), np.uint8), ((6, 7, 4), np.uint8), ((6, 7), np.uint8), ((6, 7, 3), np.uint16)],
)
def test_wrong_shape_or_dtype_names_both_and_writes_nothing(
    png: tuple[bytes, np.ndarray], shape: tuple[int, ...], dtype: type
) -> None:
    data, _ = png
    out = np.full(shape, 9, dtype)
    with pytest.raises(ValueError) as info:
        bufpng.decode(data, out=out)
    message = str(info.value)
    assert f"out has shape {shape}" in message and "decodes to shape (6, 7, 3) of uint8" in message
    assert (out == 9).all()


def test_a_corrupt_file_writes_nothing(png: tuple[bytes, np.ndarray], tmp_path: Path) -> None:
    data, pixels = png
    out = np.full_like(pixels, 9)
    (tmp_path / "cut.png").write_bytes(data[:-20])
    with pytest.raises(ValueError, match="cut.png"):
        bufpng.read(tmp_path / "cut.png", out=out)
    assert (out == 9).all()


def test_flat_byte_buffers_receive_tobytes(png: tuple[bytes, np.ndarray], tmp_path: Path) -> None:
    data, pixels = png
    expected = bufpng.decode(data).tobytes()
    target = bytearray(len(expected))
    assert bufpng.decode(data, out=target) is target and target == expected
    with mmap.mmap(-1, len(expected)) as mapped:
        bufpng.decode(data, out=mapped)
        assert mapped[:] == expected
    shm = shared_memory.SharedMemory(create=True, size=len(expected))
    try:
        bufpng.decode(data, out=shm.buf)
        assert bytes(shm.buf[: len(expected)]) == expected
    finally:
        shm.close()
        shm.unlink()
    with pytest.raises(ValueError, match=f"flat byte buffer of exactly {len(expected)} bytes"):
        bufpng.decode(data, out=bytearray(len(expected) + 1))


def test_16_bit_gray_and_byte_orders() -> None:
    deep = image((5, 3), np.uint16)
    data = bufpng.encode(deep)
    for out in (np.zeros((5, 3), np.uint16), np.zeros((5, 3, 1), np.uint16), np.zeros((5, 3), ">u2")):
        bufpng.decode(data, out=out)
        np.testing.assert_array_equal(out.reshape(5, 3), deep)
    raw = bytearray(30)
    bufpng.decode(data, out=raw)
    assert raw == deep.tobytes()


def test_order_applies_to_out(png: tuple[bytes, np.ndarray]) -> None:
    data, pixels = png
    out = np.zeros_like(pixels)
    bufpng.decode(data, out=out, order="rgb")
    np.testing.assert_array_equal(out, pixels[:, :, ::-1])


def test_out_that_is_not_a_buffer(png: tuple[bytes, np.ndarray]) -> None:
    with pytest.raises(TypeError, match="expected an image buffer"):
        bufpng.decode(png[0], out=[0] * 126)


# read_frames --------------------------------------------------------------


def write_clip(directory: Path, count: int, shape: tuple[int, ...] = (24, 32, 3)) -> tuple[list[str], np.ndarray]:
    frames = np.stack([image(shape) for _ in range(count)])
    return bufpng.write_frames(frames, directory=directory), frames


@pytest.mark.parametrize("threads", [1, 2, 4, None])
def test_read_frames_keeps_order_and_matches_cv2(tmp_path: Path, threads: int | None) -> None:
    import cv2

    paths, frames = write_clip(tmp_path, 13)
    result = bufpng.read_frames(paths, threads=threads)
    assert len(result) == 13
    for frame, path, original in zip(result, paths, frames):
        np.testing.assert_array_equal(np.asarray(frame), cv2.imread(path, cv2.IMREAD_UNCHANGED))
        np.testing.assert_array_equal(np.asarray(frame), original)


def test_read_frames_pngsuite_matches_read() -> None:
    paths = sorted(str(p) for p in PNGSUITE.glob("[b-t]*.png") if not p.name.startswith("x"))
    if not paths:
        pytest.skip(f"{PNGSUITE} is missing")
    for frame, path in zip(bufpng.read_frames(paths, order="rgb", threads=2), paths):
        assert frame == bufpng.read(path, order="rgb"), path


def test_read_frames_into_a_batch(tmp_path: Path) -> None:
    paths, frames = write_clip(tmp_path, 9)
    batch = np.zeros_like(frames)
    assert bufpng.read_frames((Path(p) for p in paths), out=batch, threads=2) is batch
    np.testing.assert_array_equal(batch, frames)
    flat = bytearray(frames.nbytes)
    bufpng.read_frames(paths, out=flat, threads=3)
    assert flat == frames.tobytes()
    # A channel-last slice of a wider batch, Fortran order per frame.
    wide = np.zeros((9, 24, 32, 5), np.uint8)
    bufpng.read_frames(paths, out=wide[..., 1:4])
    np.testing.assert_array_equal(wide[..., 1:4], frames)


def test_read_frames_out_mismatches(tmp_path: Path) -> None:
    paths, frames = write_clip(tmp_path, 3)
    with pytest.raises(ValueError, match=r"one frame per path, shape \(3, height, width"):
        bufpng.read_frames(paths, out=np.zeros((4, 24, 32, 3), np.uint8))
    bufpng.write(tmp_path / "odd.png", image((24, 32, 4)))
    batch = np.zeros((4, 24, 32, 3), np.uint8)
    with pytest.raises(ValueError, match=r"paths\[3\]: out has shape \(24, 32, 3\).*odd.png decodes to shape \(24, 32, 4\)"):
        bufpng.read_frames([*paths, tmp_path / "odd.png"], out=batch, threads=1)
    np.testing.assert_array_equal(batch[:3], frames)
    assert not batch[3].any()


def test_read_frames_names_the_unreadable_file(tmp_path: Path) -> None:
    paths, _ = write_clip(tmp_path, 6)
    missing = str(tmp_path / "gone.png")
    with pytest.raises(FileNotFoundError) as info:
        bufpng.read_frames([*paths[:3], missing, *paths[3:]], threads=2)
    assert info.value.filename == missing and "paths[3]" in str(info.value)
    Path(paths[4]).write_bytes(Path(paths[4]).read_bytes()[:100])
    with pytest.raises(ValueError, match=r"paths\[4\]: .*frame_00004.png: cannot decode PNG"):
        bufpng.read_frames(paths, threads=1)


def test_read_frames_progress_and_a_failing_callback(tmp_path: Path) -> None:
    paths, _ = write_clip(tmp_path, 7)
    seen: list[tuple[int, int | None]] = []
    bufpng.read_frames(paths, threads=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(n, 7) for n in range(8)]

    class Stop(Exception):
        pass

    def stop(done: int, total: int | None) -> None:
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        bufpng.read_frames(paths, threads=2, progress=stop)


def test_read_frames_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths, _ = write_clip(tmp_path, 3)
    bufpng.read_frames(paths, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and err.endswith("\n"), err


@pytest.mark.parametrize("threads", [1, 2])
def test_read_frames_ctrl_c_stops_promptly(tmp_path: Path, threads: int) -> None:
    paths, _ = write_clip(tmp_path, 1, shape=(256, 256, 3))
    interrupted_at = 0.0

    def interrupt() -> None:
        nonlocal interrupted_at
        time.sleep(0.5)
        interrupted_at = time.monotonic()
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        bufpng.read_frames(paths * 20_000, threads=threads)
    assert interrupted_at and time.monotonic() - interrupted_at < 2.0


def test_read_frames_releases_the_gil(tmp_path: Path) -> None:
    paths, _ = write_clip(tmp_path, 1, shape=(512, 512, 3))
    result, duration, stall = run_watched(lambda: bufpng.read_frames(paths * 40, threads=2))
    assert len(result) == 40
    assert stall < max(0.5 * duration, 0.05), (stall, duration)


def test_read_frames_arguments(tmp_path: Path) -> None:
    assert bufpng.read_frames([]) == []
    paths, _ = write_clip(tmp_path, 2)

    def gen() -> Iterator[str]:
        yield from paths

    assert len(bufpng.read_frames(gen())) == 2
    with pytest.raises(TypeError, match="got a single path"):
        bufpng.read_frames(paths[0])
    with pytest.raises(TypeError, match="got a single path"):
        bufpng.read_frames(Path(paths[0]))
    with pytest.raises(TypeError, match="iterable of paths"):
        bufpng.read_frames(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"paths\[1\] must be a str, bytes or os.PathLike"):
        bufpng.read_frames([paths[0], 5])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="threads must be"):
        bufpng.read_frames(paths, threads=0)


# Frame attributes and the array interface ---------------------------------


@pytest.mark.parametrize(
    "shape, dtype, typestr",
    [((4, 5), np.uint8, "|u1"), ((4, 5, 3), np.uint8, "|u1"), ((4, 5, 4), np.uint16, "<u2" if sys.byteorder == "little" else ">u2")],
)
def test_numpy_style_attributes(shape: tuple[int, ...], dtype: type, typestr: str) -> None:
    pixels = image(shape, dtype)
    frame = bufpng.Frame(pixels)
    array = np.asarray(frame)
    assert frame.shape == array.shape == shape and frame.ndim == array.ndim
    assert np.dtype(frame.dtype) == array.dtype and frame.itemsize == array.itemsize
    assert frame.format == memoryview(frame).format
    interface = frame.__array_interface__
    assert interface["shape"] == shape and interface["typestr"] == typestr and interface["version"] == 3
    assert interface["data"] == (array.ctypes.data, True) and interface["strides"] is None
    writable = np.array(frame)
    writable[0, 0] = 1  # a copy: the Frame is untouched
    assert frame == bufpng.Frame(pixels) and writable.flags.writeable


@pytest.mark.parametrize("shape, dtype, mode", [((4, 5), np.uint8, "L"), ((4, 5, 3), np.uint8, "RGB"), ((4, 5, 4), np.uint8, "RGBA"), ((4, 5), np.uint16, "I;16")])
def test_pillow_fromarray(shape: tuple[int, ...], dtype: type, mode: str) -> None:
    from PIL import Image

    pixels = image(shape, dtype)
    frame = bufpng.decode(bufpng.encode(pixels, order="rgb"), order="rgb")
    converted = Image.fromarray(frame)
    assert converted.mode == mode and converted.size == (5, 4)
    np.testing.assert_array_equal(np.asarray(converted), pixels)


def test_pillow_fromarray_without_numpy(tmp_path: Path) -> None:
    """The array interface alone is enough: numpy is made unimportable."""
    pytest.importorskip("PIL")
    script = (
        "import sys; sys.modules['numpy'] = None\n"
        "import bufpng\n"
        "from PIL import Image\n"
        "frame = bufpng.Frame(bytes(range(24)), 4, 2, order='rgb')\n"
        "im = Image.fromarray(frame)\n"
        "assert im.mode == 'RGB' and im.size == (4, 2) and im.tobytes() == bytes(range(24)), im\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=child_env(), capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def test_frames_are_not_hashable() -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(bufpng.Frame(bytes(3), 1, 1))


# pickling -----------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize(
    "shape, dtype, order",
    [((3, 4), np.uint8, "bgr"), ((3, 4, 3), np.uint8, "rgb"), ((3, 4, 4), np.uint16, "bgr"), ((3, 4, 2), np.uint16, "rgb")],
)
def test_pickle_round_trip_is_exact(protocol: int, shape: tuple[int, ...], dtype: type, order: str) -> None:
    frame = bufpng.Frame(image(shape, dtype), order=order)  # type: ignore[arg-type]
    back = pickle.loads(pickle.dumps(frame, protocol=protocol))
    assert type(back) is bufpng.Frame and back == frame
    assert back.order == frame.order and back.tobytes() == frame.tobytes()
    assert back.shape == frame.shape and back.depth == frame.depth


def test_protocol_5_sends_the_frames_own_memory_out_of_band() -> None:
    frame = bufpng.Frame(image((64, 64, 3)))
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(frame, protocol=5, buffer_callback=buffers.append)
    assert len(buffers) == 1 and len(data) < 300
    raw = buffers[0].raw()
    # The same memory, not a copy: the address the Frame itself exports.
    assert np.frombuffer(raw, np.uint8).ctypes.data == frame.__array_interface__["data"][0]
    assert raw.nbytes == frame.nbytes and raw.readonly
    assert pickle.loads(data, buffers=buffers) == frame
    # In band, protocol 5 and 4 carry the pixels as bytes.
    assert len(pickle.dumps(frame, protocol=5)) > frame.nbytes
    assert len(pickle.dumps(frame, protocol=4)) > frame.nbytes


def test_unpickling_checks_its_input() -> None:
    frame = bufpng.Frame(bytes(12), 2, 2)
    constructor, args = frame.__reduce_ex__(4)
    assert constructor(*args) == frame
    with pytest.raises(BufferError, match="12 bytes of pixels, got 11"):
        constructor(bytes(11), *args[1:])
    with pytest.raises(ValueError, match="cannot unpickle a bufpng.Frame: bad depth"):
        constructor(args[0], 2, 2, 3, 12, "bgr", "little")


def test_pickle_and_copy_keep_info() -> None:
    png = bufpng.encode(
        image((4, 5, 3)),
        text={"Title": "kept", "Comment": "é and 漢字"},
        dpi=(300, 150),
        cicp="display-p3",
        icc_profile=(132).to_bytes(4, "big") + bytes(128),
        content_light_level=(1000, 400),
    )
    frame = bufpng.decode(png)
    assert set(frame.info) >= {"text", "dpi", "cicp", "icc_profile", "content_light_level"}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(frame, protocol=protocol))
        assert back == frame and dict(back.info) == dict(frame.info), protocol
    for duplicate in (copy.copy(frame), copy.deepcopy(frame)):
        assert dict(duplicate.info) == dict(frame.info)
    # Re-encoded from the unpickled Frame, the file has the same metadata.
    assert dict(bufpng.decode(back.encode(metadata=back.info)).info) == dict(frame.info)
    # A Frame without metadata keeps the short, older form (old pickles load).
    assert len(bufpng.Frame(image((2, 2, 3))).__reduce_ex__(4)[1]) == 7


def test_unpickling_refuses_damaged_metadata() -> None:
    frame = bufpng.decode(bufpng.encode(image((2, 2, 3)), text={"Title": "x"}))
    constructor, args = frame.__reduce_ex__(4)
    chunks = args[7]
    assert isinstance(chunks, bytes) and chunks[4:8] == b"tEXt"
    with pytest.raises(ValueError, match="cannot unpickle a bufpng.Frame: its metadata is damaged .*cut short"):
        constructor(*args[:7], chunks[:-1])
    with pytest.raises(ValueError, match="cannot unpickle a bufpng.Frame: its metadata is damaged .*CRC"):
        constructor(*args[:7], chunks[:-1] + bytes([chunks[-1] ^ 1]))
    with pytest.raises(ValueError, match="its metadata is not bytes"):
        constructor(*args[:7], "tEXt")


def test_copy_and_deepcopy() -> None:
    frame = bufpng.Frame(image((3, 4, 3)), order="rgb")
    for duplicate in (copy.copy(frame), copy.deepcopy(frame)):
        assert duplicate == frame and duplicate.order == "rgb"


def decode_in_child(png: bytes) -> bufpng.Frame:
    return bufpng.decode(png, order="rgb")


def test_frames_cross_process_boundaries() -> None:
    pixels = [image((16, 8, 3)) for _ in range(4)]
    with ProcessPoolExecutor(2) as pool:
        frames = list(pool.map(decode_in_child, [bufpng.encode(p) for p in pixels]))
        back = list(pool.map(bufpng.Frame, frames))
    for frame, copied, original in zip(frames, back, pixels):
        assert frame.order == "rgb"
        np.testing.assert_array_equal(np.asarray(frame), original[:, :, ::-1])
        assert copied == frame
