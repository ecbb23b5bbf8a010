"""PNG Restart Markers (issue 14, item 5): bufpng writes its strips as
mARK segments, every other decoder reads the files as ordinary PNGs, and
bufpng.decode/read decode them on several threads, falling back to the
ordinary decoder whenever the mARK chunk does not match the data."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

import bufpng
from conftest import cv2_decode, pil_decode


def chunks(png: bytes) -> list[tuple[int, bytes, bytes]]:
    """(offset of the chunk header, type, data) for each chunk."""
    found, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        found.append((at, png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += length + 12
    return found


def with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """`png` with its `kind` chunk's data replaced (CRC recomputed)."""
    at, _, old = next(c for c in chunks(png) if c[1] == kind)
    new = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return png[:at] + new + png[at + len(old) + 12 :]


@pytest.fixture(scope="module")
def photo_1080p(photo: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(photo, (1920, 1080), interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def frames(photo_1080p: np.ndarray) -> dict[str, np.ndarray]:
    import cv2

    return {
        "photo": photo_1080p,
        "bgra": cv2.cvtColor(photo_1080p, cv2.COLOR_BGR2BGRA),
        "gray": cv2.cvtColor(photo_1080p, cv2.COLOR_BGR2GRAY),
        "photo16": photo_1080p[:540].astype(np.uint16) * 257,
        "noise": np.random.default_rng(3).integers(0, 256, (600, 800, 3), dtype=np.uint8),
    }


def test_bufpng_writes_a_mark_chunk_before_the_first_idat(photo_1080p: np.ndarray) -> None:
    png = bufpng.encode(photo_1080p)
    kinds = [kind for _, kind, _ in chunks(png)]
    assert kinds.index(b"mARK") + 1 == kinds.index(b"IDAT")
    mark = next(data for _, kind, data in chunks(png) if kind == b"mARK")
    method, kind, count = struct.unpack(">BBI", mark[:6])
    assert (method, kind) == (0, 0)
    assert count == kinds.count(b"IDAT") > 1
    # Small frames are one strip: no mARK.
    assert b"mARK" not in [kind for _, kind, _ in chunks(bufpng.encode(photo_1080p[:64, :64]))]


@pytest.mark.parametrize("name", ["photo", "bgra", "gray", "photo16", "noise"])
@pytest.mark.parametrize("compression", [None, 0, 1, 3])
def test_other_decoders_read_the_segmented_files(
    frames: dict[str, np.ndarray], name: str, compression: int | None, pngcheck, tmp_path
) -> None:
    frame = frames[name]
    png = bufpng.encode(frame, compression=compression)
    assert b"mARK" in [kind for _, kind, _ in chunks(png)]
    assert np.array_equal(cv2_decode(png), frame)
    rgb = rgb_order(frame)
    if frame.dtype == np.uint8:
        assert np.array_equal(pil_decode(png), rgb)
    path = tmp_path / "segmented.png"
    path.write_bytes(png)
    pngcheck(path)
    try:
        import pyspng
    except ImportError:
        return
    spng = pyspng.load(png)
    if spng.ndim == 3 and spng.shape[2] == 4 and rgb.shape[2] == 3:
        # pyspng gives 16-bit RGB as RGBA, opaque (cv2's own files too).
        assert (spng[..., 3] == 65535).all()
        spng = spng[..., :3]
    assert np.array_equal(spng, rgb), "libspng"


def rgb_order(frame: np.ndarray) -> np.ndarray:
    """BGR(A) to RGB(A), as Pillow and libspng return pixels."""
    if frame.ndim == 2:
        return frame
    return np.ascontiguousarray(frame[..., [2, 1, 0, 3][: frame.shape[2]]])


@pytest.mark.parametrize("name", ["photo", "bgra", "gray", "photo16", "noise"])
def test_threads_decode_the_same_pixels(frames: dict[str, np.ndarray], name: str, tmp_path) -> None:
    frame = frames[name]
    png = bufpng.encode(frame)
    for threads in (None, 1, 2, 3, 8):
        assert np.array_equal(np.asarray(bufpng.decode(png, threads=threads)), frame), threads
    rgb = np.asarray(bufpng.decode(png, order="rgb", threads=2))
    assert np.array_equal(rgb, np.asarray(bufpng.decode(png, order="rgb", threads=1)))
    path = tmp_path / "f.png"
    path.write_bytes(png)
    assert np.array_equal(np.asarray(bufpng.read(path, threads=2)), frame)


def test_a_mark_that_misdescribes_the_data_falls_back(photo_1080p: np.ndarray) -> None:
    png = bufpng.encode(photo_1080p)
    mark = next(data for _, kind, data in chunks(png) if kind == b"mARK")
    count = struct.unpack(">I", mark[2:6])[0]
    forged = [
        mark[:2] + struct.pack(">I", count + 1) + mark[6:],
        mark[:2] + struct.pack(">I", 1) + mark[6:],
        mark[:6] + struct.pack(">I", 12) + mark[10:],
        mark[:6] + struct.pack(">I", 0xFFFFFFFF) + mark[10:],
        mark[:6] + mark[10:14] + mark[6:10] + mark[14:],
        b"\x00\x01" + mark[2:],
        b"\x01" + mark[1:],
        mark[:-1],
        b"",
    ]
    for data in forged:
        for threads in (1, 2):
            decoded = bufpng.decode(with_chunk(png, b"mARK", data), threads=threads)
            assert np.array_equal(np.asarray(decoded), photo_1080p), (data[:14], threads)
    # A corrupt segment is an error either way, never different pixels.
    at, _, data = [c for c in chunks(png) if c[1] == b"IDAT"][3]
    broken = bytearray(data)
    broken[len(broken) // 2] ^= 0xFF
    idat = struct.pack(">I", len(broken)) + b"IDAT" + broken + struct.pack(">I", zlib.crc32(b"IDAT" + broken))
    corrupt = png[:at] + idat + png[at + len(data) + 12 :]
    outcomes = []
    for threads in (1, 2):
        try:
            outcomes.append(np.asarray(bufpng.decode(corrupt, threads=threads)).tobytes())
        except ValueError as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]


def test_metadata_chunks_come_before_mark_and_keep_it_valid(photo_1080p: np.ndarray) -> None:
    png = bufpng.encode(photo_1080p, dpi=300, gamma=0.45455, text={"Title": "restart"})
    kinds = [kind for _, kind, _ in chunks(png)]
    assert kinds.index(b"pHYs") < kinds.index(b"mARK") == kinds.index(b"IDAT") - 1
    for threads in (1, 2):
        decoded = bufpng.decode(png, threads=threads)
        assert np.array_equal(np.asarray(decoded), photo_1080p)
    assert bufpng.decode(png, threads=2).info == bufpng.decode(png, threads=1).info


def test_decode_threads_are_checked() -> None:
    png = bufpng.encode(np.zeros((4, 4, 3), np.uint8))
    for bad in (0, -1, 1025):
        with pytest.raises(ValueError, match="threads must be 1-1024"):
            bufpng.decode(png, threads=bad)
    with pytest.raises(TypeError):
        bufpng.decode(png, threads="2")  # type: ignore[arg-type]


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_segments_convert_each_row_in_either_order(photo_1080p: np.ndarray, channels: int, dtype: type) -> None:
    """The segment workers unfilter each row in PNG's layout and convert it
    into the output (the next row's filter needs it unconverted): an odd
    width, so rows end inside the BGR kernel's blocks, every filter in use,
    mARK present, BGR(A) and RGB(A) on 1 and 2 threads."""
    import cv2

    frame = photo_1080p[:800, :1333]
    if channels == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
        frame[..., 3] = frame[..., 1] // 2 + 64
    frame = np.ascontiguousarray(frame).astype(dtype) * (257 if dtype == np.uint16 else 1)
    png = bufpng.encode(frame)
    assert b"mARK" in png
    rgb = frame[..., [2, 1, 0, 3][:channels]]
    for threads in (1, 2):
        assert np.array_equal(np.asarray(bufpng.decode(png, threads=threads)), frame), threads
        assert np.array_equal(np.asarray(bufpng.decode(png, threads=threads, order="rgb")), rgb), threads
