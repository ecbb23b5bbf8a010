"""decode and read: conformance with OpenCV, and every kind of bad input."""

from __future__ import annotations

import array
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import bufpng
from conftest import CORRUPT, PHOTOS, PNGSUITE, run_watched

VALID = sorted(p for p in PNGSUITE.glob("*.png") if not p.name.startswith("x"))
BROKEN = sorted(PNGSUITE.glob("x*.png")) + sorted(CORRUPT.glob("*.png"))


def test_the_test_data_is_there() -> None:
    # The parametrized tests below would silently shrink to nothing without it.
    assert len(VALID) >= 160 and len(BROKEN) >= 20, f"test data missing under {PNGSUITE.parent}"
    assert len(list(PHOTOS.glob("*.png"))) >= 6, f"test photos missing under {PHOTOS}"


@pytest.mark.parametrize("path", VALID + sorted(PHOTOS.glob("*.png")), ids=lambda p: p.name)
def test_decodes_like_opencv_imread_unchanged(path: Path) -> None:
    import cv2

    expected = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    got = np.asarray(bufpng.read(path))
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "name, channels",
    [
        ("basn3p04.png", 3),  # palette
        ("tbbn3p08.png", 4),  # palette + tRNS: alpha
        ("tbrn2c08.png", 4),  # RGB + tRNS: alpha
        ("tbbn0g04.png", 1),  # gray + tRNS: OpenCV ignores the tRNS
        ("basn4a08.png", 4),  # gray + alpha: gray, gray, gray, alpha
        ("basn0g01.png", 1),  # 1-bit gray scaled to 0/255
    ],
)
def test_channel_counts_of_the_special_cases(name: str, channels: int) -> None:
    assert bufpng.read(PNGSUITE / name).channels == channels


def test_one_bit_gray_is_scaled_to_full_range() -> None:
    values = np.unique(np.asarray(bufpng.read(PNGSUITE / "basn0g01.png")))
    assert values.tolist() == [0, 255]


def test_rgb_order_and_frame_attributes() -> None:
    path = PNGSUITE / "basn6a16.png"
    bgr = bufpng.read(path)
    rgb = bufpng.read(path, order="rgb")
    assert (bgr.order, rgb.order, rgb.depth, rgb.channels) == ("bgr", "rgb", 16, 4)
    np.testing.assert_array_equal(np.asarray(rgb), np.asarray(bgr)[..., [2, 1, 0, 3]])
    assert bgr == rgb  # the same picture
    assert bufpng.read(PNGSUITE / "basn0g08.png").order == "gray"


def test_any_bytes_like_object_decodes() -> None:
    data = (PNGSUITE / "basi2c08.png").read_bytes()
    expected = bufpng.read(PNGSUITE / "basi2c08.png")
    sources = [
        data,
        bytearray(data),
        memoryview(data),
        np.frombuffer(data, np.uint8),
        array.array("B", data),
        memoryview(data * 2)[: len(data)],
    ]
    for source in sources:
        assert bufpng.decode(source) == expected
    with pytest.raises(BufferError, match="not contiguous"):
        bufpng.decode(np.frombuffer(data * 2, np.uint8)[::2])


def test_decode_then_encode_round_trips() -> None:
    for path in VALID[::7]:
        frame = bufpng.read(path)
        assert bufpng.decode(frame.encode()) == frame, path.name


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_corrupt_files_raise_value_error(path: Path) -> None:
    with pytest.raises(ValueError, match="cannot decode PNG") as info:
        bufpng.read(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="^cannot decode PNG"):
        bufpng.decode(path.read_bytes())


@pytest.mark.parametrize("name", ["basn2c08.png", "basi0g01.png", "tbbn3p08.png", "basn4a16.png"])
def test_every_truncation_raises(name: str) -> None:
    data = (PNGSUITE / name).read_bytes()
    bufpng.decode(data)
    for end in range(len(data)):
        with pytest.raises(ValueError, match="cannot decode PNG"):
            bufpng.decode(data[:end])


def test_random_bytes_raise() -> None:
    rng = np.random.default_rng(7)
    signature = b"\x89PNG\r\n\x1a\n"
    header = (PNGSUITE / "basn2c08.png").read_bytes()[:33]
    for n in range(300):
        noise = rng.integers(0, 256, size=int(rng.integers(0, 400)), dtype=np.uint8).tobytes()
        for data in (noise, signature + noise, header + noise):
            with pytest.raises(ValueError, match="cannot decode PNG"):
                bufpng.decode(data)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_file(width: int, height: int, idat: bytes, color_type: int = 6, depth: int = 16) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_huge_declared_size_is_refused_before_allocating() -> None:
    # 2^31-1 squared 16-bit RGBA pixels: 32 EiB if anyone tried.
    forged = png_file(2**31 - 1, 2**31 - 1, zlib.compress(b"\0" * 100))
    with pytest.raises(ValueError, match=r"2147483647x2147483647 .*max_bytes") as info:
        bufpng.decode(forged)
    assert "pass a larger max_bytes" in str(info.value)


def test_a_decompression_bomb_is_stopped_by_max_bytes() -> None:
    # 10000x10000 gray: 100 MB of pixels from a file of about 100 KB.
    width = height = 10_000
    bomb = png_file(width, height, zlib.compress(bytes(height * (width + 1)), 9), color_type=0, depth=8)
    assert len(bomb) < 200_000
    with pytest.raises(ValueError, match="max_bytes=1000000"):
        bufpng.decode(bomb, max_bytes=1_000_000)
    small = (PNGSUITE / "basn2c08.png").read_bytes()
    assert bufpng.decode(small, max_bytes=32 * 32 * 3).width == 32
    with pytest.raises(ValueError, match="max_bytes"):
        bufpng.decode(small, max_bytes=32 * 32 * 3 - 1)
    assert bufpng.DEFAULT_MAX_BYTES == 2**30
    with pytest.raises(ValueError, match="max_bytes must be"):
        bufpng.decode(small, max_bytes=-1)


def test_read_errors_are_os_errors_with_the_filename(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError) as info:
        bufpng.read(missing)
    assert info.value.filename == str(missing)
    with pytest.raises(IsADirectoryError) as info:
        bufpng.read(tmp_path)
    assert info.value.filename == str(tmp_path)


def test_argument_errors() -> None:
    with pytest.raises(TypeError, match="bufpng.read"):
        bufpng.decode(str(PNGSUITE / "basn2c08.png"))
    with pytest.raises(TypeError, match="expected an image buffer"):
        bufpng.decode(None)
    with pytest.raises(ValueError, match="order must be"):
        bufpng.read(PNGSUITE / "basn2c08.png", order="rgba")
    with pytest.raises(TypeError):
        bufpng.read(PNGSUITE / "basn2c08.png", "rgb")  # order is keyword-only
    with pytest.raises(ValueError, match="empty"):
        bufpng.decode(b"")


def test_other_threads_run_during_a_large_decode(photo: np.ndarray) -> None:
    import cv2

    # Real content compresses, so decoding takes real work (tens of ms in a
    # release build); random pixels would be stored and decode too fast to
    # tell. OpenCV encodes it: fast even when bufpng is a debug build.
    image = np.ascontiguousarray(np.tile(photo, (4, 3, 1))[:2000, :2000])
    png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()
    frame, duration, longest_stall = run_watched(lambda: bufpng.decode(png))
    np.testing.assert_array_equal(np.asarray(frame), image)
    assert duration > 0.02, f"decode took only {duration:.3f} s: too short to tell"
    assert longest_stall < duration / 2, f"another thread stalled {longest_stall:.3f} s of a {duration:.3f} s decode"


def test_tolerates_what_opencv_tolerates() -> None:
    import cv2

    data = (PNGSUITE / "basn2c08.png").read_bytes()
    bad_text_crc = struct.pack(">I", 13) + b"tEXtComment\0hello" + b"\0\0\0\0"
    for variant in (data[:33] + bad_text_crc + data[33:], data + b"trailing bytes"):
        expected = cv2.imdecode(np.frombuffer(variant, np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(np.asarray(bufpng.decode(variant)), expected)


def with_bad_adler32(data: bytes) -> bytes:
    """`data` with the zlib stream's Adler-32 (the last IDAT's last 4 bytes)
    flipped and that chunk's CRC fixed: damage only the Adler-32 can see."""
    at, last = 8, None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if data[at + 4 : at + 8] == b"IDAT":
            last = (at, length)
        at += length + 12
    assert last is not None
    at, length = last
    body = bytearray(data[at + 8 : at + 8 + length])
    body[-1] ^= 1
    return data[:at] + chunk(b"IDAT", bytes(body)) + data[at + 12 + length :]


def test_a_wrong_adler32_is_refused_as_opencv_refuses_it(photo: np.ndarray) -> None:
    """The png crate skips the zlib checksum unless asked; bufpng asks, as
    libpng (OpenCV) and libspng check it, on the ordinary path and on the
    restart-marker path (which fell back to the unchecked ordinary decoder)."""
    import cv2

    stripes = np.ascontiguousarray(np.tile(photo, (3, 2, 1)))  # over 1 MiB: mARK, 2+ segments
    files = {
        "cv2": cv2.imencode(".png", photo)[1].tobytes(),
        "bufpng stored": bufpng.encode(photo, compression=0),
        "bufpng mARK": bufpng.encode(stripes),
    }
    assert b"mARK" in files["bufpng mARK"]
    for name, data in files.items():
        bad = with_bad_adler32(data)
        assert cv2.imdecode(np.frombuffer(bad, np.uint8), cv2.IMREAD_UNCHANGED) is None, name
        for threads in (1, 2):
            for order in ("bgr", "rgb"):
                bufpng.decode(data, threads=threads, order=order)
                with pytest.raises(ValueError, match="cannot decode PNG"):
                    bufpng.decode(bad, threads=threads, order=order)


def test_bytes_decode_in_place_as_other_buffers_decode(photo: np.ndarray) -> None:
    """Exact bytes are read where they are (no copy); a bytes subclass, which
    could hold anything, and a bytearray are copied first: all decode alike,
    into a new Frame or into out=."""

    class Subclass(bytes):
        pass

    data = bufpng.encode(photo, threads=1)
    expected = bufpng.decode(bytearray(data))
    for source in (data, Subclass(data), memoryview(data)):
        assert bufpng.decode(source) == expected
        out = np.zeros_like(photo)
        assert bufpng.decode(source, out=out) is out
        np.testing.assert_array_equal(out, photo)


def unfiltered_png(bgr: np.ndarray, level: int) -> bytes:
    """`bgr` (8- or 16-bit, 3 or 4 channels) as a PNG with filter None on
    every row, zlib at `level` (0: stored blocks, as bufpng writes noise)."""
    height, width, channels = bgr.shape
    rgb = np.ascontiguousarray(bgr[..., [2, 1, 0, 3][:channels]]).astype(bgr.dtype.newbyteorder(">"))
    rows = rgb.view(np.uint8).reshape(height, -1)
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)
    depth = 8 * bgr.itemsize
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 2 if channels == 3 else 6, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
            + chunk(b"IEND", b""))


# Widths around the BGR kernel's 48-byte blocks (src/swap_rb.rs: a first
# pixel on its own, whole blocks, a tail of single pixels) and odd ones.
SWAP_WIDTHS = [1, 2, 3, 16, 17, 18, 31, 33, 47, 64, 65, 641]


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_unfiltered_and_stored_files_decode_like_opencv_in_both_orders(channels: int, dtype: type) -> None:
    """Files with little to decode (stored noise, filter None on every row,
    and OpenCV's own mixed filters) take the row converter: BGR(A) as cv2
    gives it, RGB(A) the same reversed, at every width and thread count."""
    import cv2

    rng = np.random.default_rng(channels * 100 + np.dtype(dtype).itemsize)
    for width in SWAP_WIDTHS:
        frame = rng.integers(0, np.iinfo(dtype).max + 1, (7, width, channels), dtype=dtype)
        files = {
            "stored": unfiltered_png(frame, 0),
            "none, zlib 6": unfiltered_png(frame, 6),
            "cv2 default": cv2.imencode(".png", frame)[1].tobytes(),
            "cv2 none": cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE])[1].tobytes(),
            "bufpng": bufpng.encode(frame),
        }
        rgb = frame[..., [2, 1, 0, 3][:channels]]
        for name, png in files.items():
            assert np.array_equal(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED), frame)
            for threads in (1, 2):
                got = np.asarray(bufpng.decode(png, threads=threads))
                assert got.dtype == frame.dtype and np.array_equal(got, frame), (width, name, threads)
                got = np.asarray(bufpng.decode(png, threads=threads, order="rgb"))
                assert np.array_equal(got, rgb), (width, name, threads, "rgb")
