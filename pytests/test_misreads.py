"""Issue 18: every input becomes the PNG the user meant, or an error that
names the fix, with the Python type the docs promise.

One test per case of the issue (each failed on the main of that time), the
rows of docs/errors.md, and a seeded property test of the buffer rule.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import bufpng
from conftest import ROOT, child_env

GRAY = np.arange(8 * 10, dtype=np.uint8).reshape(10, 8)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(bufpng.decode(png))


# --- case 1: a 3-D .npy is frames only when its last axis cannot be channels


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bufpng", *args], capture_output=True, text=True, env=child_env(), cwd=cwd, timeout=120
    )


def test_npy_of_one_colour_image_is_refused_not_written_as_gray_frames(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.zeros((12, 40, 3), np.uint8))
    result = run_cli("npy", "one.npy", "-o", "out", "-q", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "one 40x12 image with 3 channels, or 12 gray frames of 3x40" in result.stderr
    assert "--gray-frames" in result.stderr
    assert not (tmp_path / "out").exists()
    # write_frames says the same words.
    with pytest.raises(TypeError, match=r"one 40x12 image with 3 channels, or 12 gray frames of 3x40"):
        bufpng.write_frames(np.zeros((12, 40, 3), np.uint8), directory=tmp_path / "py")


def test_npy_gray_frames_flag_and_unambiguous_stacks(tmp_path: Path) -> None:
    stack = np.random.default_rng(1).integers(0, 256, (3, 5, 4), dtype=np.uint8)
    np.save(tmp_path / "s.npy", stack)
    result = run_cli("npy", "s.npy", "-o", "out", "-q", "--gray-frames", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for i in range(3):
        assert np.array_equal(np.asarray(bufpng.read(tmp_path / "out" / f"frame_{i:05d}.png")), stack[i])
    # (n, h, w) with w > 4 cannot be channels: gray frames, no flag needed,
    # in the CLI and in write_frames (which used to say "use write()").
    wide = np.random.default_rng(2).integers(0, 256, (4, 6, 9), dtype=np.uint8)
    np.save(tmp_path / "w.npy", wide)
    assert run_cli("npy", "w.npy", "-o", "cli", "-q", cwd=tmp_path).returncode == 0
    paths = bufpng.write_frames(wide, directory=tmp_path / "py")
    assert len(paths) == 4
    for i, path in enumerate(paths):
        assert np.array_equal(np.asarray(bufpng.read(path)), wide[i])
        assert (tmp_path / "cli" / os.path.basename(path)).read_bytes() == Path(path).read_bytes()


def test_npy_big_endian_16_bit_keeps_its_values(tmp_path: Path) -> None:
    frames = np.random.default_rng(3).integers(0, 65536, (2, 3, 5, 3), dtype=np.uint16)
    np.save(tmp_path / "be.npy", frames.astype(">u2"))
    result = run_cli("npy", "be.npy", "-o", "out", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(bufpng.read(tmp_path / "out" / "frame_00001.png")), frames[1])


# --- case 2: flat buffers are not guessed where two readings fit


def test_two_bytes_a_pixel_is_refused_with_the_readings() -> None:
    with pytest.raises(ValueError) as raised:
        bufpng.encode(bytes(160), width=8, height=10)
    message = str(raised.value)
    for reading in ["channels=2", "memoryview(data).cast('H')", "channels=1, stride=16"]:
        assert reading in message
    assert "\n" not in message
    with pytest.raises(ValueError, match=r"channels=4.*with channels=2"):
        bufpng.encode(bytes(4 * 80), width=8, height=10)


def test_a_padded_gray_plane_is_read_with_stride() -> None:
    padded = np.zeros((10, 16), np.uint8)
    padded[:, :8] = GRAY
    padded[:, 8:] = 255  # the padding must not show
    png = bufpng.encode(padded.tobytes(), width=8, height=10, channels=1, stride=16)
    assert np.array_equal(pixels(png), GRAY)
    # The same plane as a 2-D array of rows (PyAV's to_ndarray of a plane).
    assert np.array_equal(pixels(bufpng.encode(padded, width=8, channels=1)), GRAY)
    # And the explicit readings of 2 bytes a pixel.
    assert bufpng.decode(bufpng.encode(bytes(160), width=8, height=10, channels=2)).channels == 4  # gray+alpha reads as BGRA
    assert bufpng.decode(bufpng.encode(memoryview(bytes(160)).cast("H"), width=8, height=10)).depth == 16


def test_every_entry_point_takes_channels_and_stride(tmp_path: Path) -> None:
    padded = np.full((10, 16), 255, np.uint8)
    padded[:, :8] = GRAY
    plane = padded.tobytes()
    geometry: dict[str, Any] = {"width": 8, "height": 10, "channels": 1, "stride": 16}
    assert np.array_equal(np.asarray(bufpng.Frame(plane, **geometry)), GRAY)
    bufpng.write(tmp_path / "w.png", plane, **geometry)
    (path,) = bufpng.write_frames([plane], directory=tmp_path / "f", **geometry)
    bufpng.write_animation(tmp_path / "a.png", [plane, plane], **geometry)
    for written in (tmp_path / "w.png", path):
        assert np.array_equal(np.asarray(bufpng.read(written)), GRAY)
    assert all(np.array_equal(np.asarray(f), GRAY) for f in bufpng.read_animation(tmp_path / "a.png"))
    # The CLI's raw frames of 4 bytes a pixel say their channels (rgba).
    (tmp_path / "rgba.raw").write_bytes(bytes(range(4 * 6 * 2)))
    result = run_cli("raw", "rgba.raw", "--size", "6x2", "--pix-fmt", "rgba", "-o", "raw", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert bufpng.read(tmp_path / "raw" / "frame_00000.png").channels == 4


def test_one_and_three_bytes_a_pixel_still_need_no_channels() -> None:
    seed = bytes(range(256)) * 9  # 3 * 32 * 24
    assert bufpng.decode(bufpng.encode(seed[: 3 * 32 * 24], width=32, height=24)).channels == 3
    assert bufpng.decode(bufpng.encode(seed[: 32 * 24], width=32, height=24)).channels == 1


# --- case 3: hints where users come from


def test_pil_image_hint_names_asarray_and_rgb() -> None:
    image = Image.new("RGB", (4, 3), (255, 0, 0))
    with pytest.raises(TypeError, match=r"np\.asarray\(img\) with order='rgb'.*convert"):
        bufpng.encode(image)  # type: ignore[arg-type]
    # The fix it names gives the right colours: red stays red.
    frame = bufpng.decode(bufpng.encode(np.asarray(image), order="rgb"))
    assert np.asarray(frame)[0, 0].tolist() == [0, 0, 255]  # BGR of red


def test_array_interface_only_objects_get_the_asarray_hint() -> None:
    class Interface:
        __array_interface__ = np.zeros((2, 2), np.uint8).__array_interface__

    class ArrayMethod:
        def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
            return np.zeros((2, 2), np.uint8)

    for obj in (Interface(), ArrayMethod()):
        with pytest.raises(TypeError, match=r"np\.asarray\(obj\)"):
            bufpng.encode(obj)  # type: ignore[arg-type]


# --- case 4: write("x.jpg")


@pytest.mark.parametrize("name", ["x.jpg", "x.JPEG", "x.webp", "x.tiff"])
def test_other_image_suffixes_are_refused(tmp_path: Path, name: str) -> None:
    image = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(ValueError, match=r"bufpng writes PNG only: name it \.png"):
        bufpng.write(tmp_path / name, image)
    with pytest.raises(ValueError, match="PNG only"):
        bufpng.Frame(image).write(tmp_path / name)
    with pytest.raises(ValueError, match="PNG only"):
        bufpng.write_animation(tmp_path / name, [image])
    with pytest.raises(ValueError, match="PNG only"):
        bufpng.write_frames([image], directory=tmp_path, pattern="f%d." + name.split(".")[1])
    assert os.listdir(tmp_path) == []
    # Names that say nothing of another format are the caller's business.
    bufpng.write(tmp_path / "x.apng", image)
    bufpng.write(tmp_path / "noext", image)


# --- case 5: write_animation's I/O errors are OSErrors naming the file


def test_write_animation_into_a_file_is_an_oserror_without_frame_context(tmp_path: Path) -> None:
    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(NotADirectoryError) as raised:
        bufpng.write_animation(tmp_path / "afile" / "x.png", [np.zeros((2, 2), np.uint8)] * 2)
    error = raised.value
    assert error.errno == errno.ENOTDIR and error.strerror
    assert error.filename == str(tmp_path / "afile" / "x.png")
    assert "frames[" not in str(error)


# --- case 6: misleading diagnoses


def test_stack_of_gray_frames_is_written_by_write_frames(tmp_path: Path) -> None:
    paths = bufpng.write_frames(np.zeros((10, 48, 64), np.uint8), directory=tmp_path)
    assert len(paths) == 10 and bufpng.read(paths[0]).width == 64


def test_five_samples_a_pixel_is_not_called_channels_first() -> None:
    with pytest.raises(ValueError) as raised:
        bufpng.encode(np.zeros((4, 4, 5), np.uint8))
    assert "moveaxis" not in str(raised.value)
    assert "write_frames" in str(raised.value)
    # A real channels-first image still gets the hint.
    with pytest.raises(ValueError, match=r"np\.moveaxis\(img, 0, -1\)"):
        bufpng.encode(np.zeros((3, 48, 64), np.uint8))


def test_an_extra_unit_axis_is_not_called_a_batch() -> None:
    with pytest.raises(ValueError) as raised:
        bufpng.encode(np.zeros((480, 640, 3, 1), np.uint8))
    assert "batch" not in str(raised.value)
    assert "img[..., 0]" in str(raised.value)


def test_read_of_png_bytes_points_to_decode() -> None:
    png = bufpng.encode(GRAY)
    with pytest.raises(TypeError, match=r"bufpng\.decode\(data\)"):
        bufpng.read(png)
    with pytest.raises(TypeError, match=r"bufpng\.decode\(data\)"):
        bufpng.read(bytearray(png))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["threads", "compression"])
def test_bools_are_not_ints(name: str) -> None:
    with pytest.raises(TypeError, match=f"{name} must be an int, got bool"):
        bufpng.encode(GRAY, **{name: True})
    with pytest.raises(TypeError, match="width must be an int, got bool"):
        bufpng.encode(bytes(80), width=True, height=80)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="durable must be True or False, got int"):
        bufpng.write("x.png", GRAY, durable=1)  # type: ignore[arg-type]


def test_order_is_case_insensitive() -> None:
    bgr = np.random.default_rng(4).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    assert bufpng.encode(bgr, order="RGB") == bufpng.encode(bgr, order="rgb")  # type: ignore[arg-type]
    assert bufpng.decode(bufpng.encode(bgr), order="Rgb").order == "rgb"  # type: ignore[arg-type]


# --- a still decode of an APNG ignores damaged animation chunks


def apng_with(damage: str, tmp_path: Path) -> tuple[bytes, np.ndarray]:
    """An APNG written by bufpng, with its fdAT sequence numbers damaged."""
    frames = [np.full((4, 5, 3), 40 * i, np.uint8) for i in range(4)]
    bufpng.write_animation(tmp_path / "a.png", frames)
    data = (tmp_path / "a.png").read_bytes()
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append([data[at + 4 : at + 8], bytearray(data[at + 8 : at + 8 + length])])
        at += 12 + length
    fdat = [i for i, (kind, _) in enumerate(chunks) if kind == b"fdAT"]
    if damage == "gap":
        chunks[fdat[1]][1][:4] = struct.pack(">I", 100)
    elif damage == "repeat":
        chunks[fdat[1]][1][:4] = chunks[fdat[0]][1][:4]
    elif damage == "reordered":
        for i in (-1, 0):  # swap two frames' fcTL and fdAT
            chunks[fdat[0] + i], chunks[fdat[1] + i] = chunks[fdat[1] + i], chunks[fdat[0] + i]
    out = bytearray(data[:8])
    for kind, body in chunks:
        out += struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return bytes(out), frames[0]


@pytest.mark.parametrize("damage", ["gap", "repeat", "reordered"])
def test_decode_of_an_apng_with_broken_animation_chunks_gives_the_default_image(tmp_path: Path, damage: str) -> None:
    data, default = apng_with(damage, tmp_path)
    assert np.array_equal(np.asarray(bufpng.decode(data)), default)
    (tmp_path / "d.png").write_bytes(data)
    assert np.array_equal(np.asarray(bufpng.read(tmp_path / "d.png")), default)
    with pytest.raises(ValueError, match="cannot decode PNG"):
        bufpng.read_animation(data)


# --- durable=True: fsync of the file and its directory


def strace_fsyncs(tmp_path: Path, code: str) -> list[str]:
    log = tmp_path / "strace.log"
    subprocess.run(
        ["strace", "-f", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-o", str(log), sys.executable, "-c", code],
        check=True,
        env=child_env(),
        cwd=tmp_path,
        timeout=120,
    )
    return [line for line in log.read_text().splitlines() if "fsync" in line or "rename" in line]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed: `apt-get install strace` (Linux; make test installs it when run as root)")
@pytest.mark.parametrize(
    "call",
    [
        "bufpng.write('out/a.png', img, durable=True)",
        "bufpng.Frame(img).write('out/a.png', durable=True)",
        "bufpng.write_frames([img], directory='out', pattern='a%d.png', durable=True)",
        "bufpng.write_animation('out/a.png', [img, img], durable=True)",
        "import numpy; numpy.save('f.npy', numpy.zeros((1, 4, 4, 3), numpy.uint8)); "
        "bufpng.__main__.main(['npy', 'f.npy', '-o', 'out', '-q', '--durable'])",
    ],
)
def test_durable_fsyncs_the_file_then_the_directory(tmp_path: Path, call: str) -> None:
    (tmp_path / "out").mkdir()
    code = f"import bufpng, bufpng.__main__, numpy as np; img = np.zeros((4, 4, 3), np.uint8); {call}"
    calls = strace_fsyncs(tmp_path, code)
    kinds = [("rename" if "rename" in line else "fsync") for line in calls if "resumed" not in line]
    # fsync(file), rename, fsync(directory): in that order.
    assert kinds[-3:] == ["fsync", "rename", "fsync"], calls
    # Without durable there is no fsync at all.
    plain = strace_fsyncs(tmp_path, code.replace("durable=True", "durable=False").replace(", '--durable'", ""))
    assert not [line for line in plain if "fsync" in line], plain


# --- the rule, fuzzed: accepted inputs read as numpy reads them


def reference(flat: np.ndarray, width: int, height: int, channels: int, stride_items: int) -> np.ndarray:
    """What the bytes mean, read by numpy: rows stride_items apart, the first width*channels samples of each."""
    rows = np.lib.stride_tricks.as_strided(
        flat, shape=(height, width * channels), strides=(stride_items * flat.itemsize, flat.itemsize)
    )
    image = rows.reshape(height, width, channels)
    return image[:, :, 0] if channels == 1 else image


def opencv_layout(image: np.ndarray) -> np.ndarray:
    """What decode gives for an image written in bgr: gray+alpha as BGRA."""
    if image.ndim == 3 and image.shape[2] == 2:
        gray, alpha = image[:, :, 0], image[:, :, 1]
        return np.dstack([gray, gray, gray, alpha])
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    return image


def documented_rule(length: int, itemsize: int, width: int, height: int, channels: int | None, stride: int | None) -> tuple[int, int] | None:
    """docs/api.md's rule for a flat buffer, written out independently:
    (channels, samples from row to row), or None where it must be refused."""
    if channels is not None and not 1 <= channels <= 4:
        return None
    if stride is not None:
        if stride <= 0 or stride % itemsize:
            return None
        row = stride // itemsize
        fits = [c for c in ([channels] if channels else range(1, 5)) if width * c <= row]
        if len(fits) != 1 or not row * (height - 1) + width * fits[0] <= length <= row * height:
            return None
        return fits[0], row
    if length == 0 or length % (width * height):
        return None
    per = length // (width * height)
    if channels is not None:
        return (channels, width * channels) if per == channels else None
    if per in (1, 3) or (itemsize == 2 and per in (2, 4)):
        return per, width * per
    return None


def test_property_flat_buffers_read_as_numpy_reads_them() -> None:
    """Random flat buffers (8/16-bit, padded or not, truncated or not) with
    random channels=/stride=: accepted exactly where the documented rule
    reads them, with the pixels numpy reads; refused otherwise, with a message."""
    rng = random.Random(18)
    accepted = refused = 0
    for _ in range(2000):
        dtype = rng.choice([np.uint8, np.uint16])
        itemsize = np.dtype(dtype).itemsize
        width, height = rng.randint(1, 9), rng.randint(1, 6)
        true_channels = rng.randint(1, 4)
        padding = rng.choice([0, 0, rng.randint(1, 12)])
        row = width * true_channels + padding
        length = row * height - rng.choice([0, 0, padding, rng.randint(0, row)]) + rng.choice([0, 0, 0, rng.randint(-3, 3)])
        data = np.random.default_rng(rng.randint(0, 1 << 30)).integers(0, np.iinfo(dtype).max + 1, max(length, 0), dtype=dtype)
        channels = rng.choice([None, None, true_channels, true_channels, rng.randint(0, 5)])
        stride = rng.choice([None, None, row * itemsize, row * itemsize, rng.randint(-1, 3 * row * itemsize)])
        if padding and rng.random() < 0.5:
            stride = row * itemsize
        kwargs: dict[str, Any] = {"width": width, "height": height, "channels": channels, "stride": stride}
        reading = documented_rule(len(data), itemsize, width, height, channels, stride)
        try:
            png = bufpng.encode(data, **kwargs)
        except (TypeError, ValueError) as error:
            assert reading is None, (kwargs, len(data), dtype, error)
            assert str(error) and "\n" not in str(error)
            refused += 1
            continue
        assert reading is not None, (kwargs, len(data), dtype)
        expected = opencv_layout(reference(data, width, height, *reading))
        assert np.array_equal(np.asarray(bufpng.decode(png)), expected), (kwargs, len(data), dtype)
        accepted += 1
    assert accepted > 300 and refused > 300, (accepted, refused)


def test_property_arrays_read_as_their_shape() -> None:
    rng = random.Random(1818)
    for _ in range(400):
        dtype = rng.choice([np.uint8, np.uint16, np.int8, np.float32])
        shape = tuple(rng.randint(1, 6) for _ in range(rng.randint(1, 4)))
        base = np.random.default_rng(rng.randint(0, 1 << 30)).integers(0, 200, (*shape[:-1], shape[-1] * 2)).astype(dtype)
        array = base[..., ::2] if rng.random() < 0.3 else base[..., : shape[-1]]
        kwargs: dict[str, Any] = {}
        if rng.random() < 0.3:
            kwargs["channels"] = rng.randint(1, 4)
        try:
            png = bufpng.encode(array, **kwargs)
        except (TypeError, ValueError) as error:
            assert str(error)
            continue
        assert array.dtype in (np.uint8, np.uint16) and array.ndim in (2, 3)
        channels = 1 if array.ndim == 2 else array.shape[2]
        assert kwargs.get("channels", channels) == channels
        assert np.array_equal(np.asarray(bufpng.decode(png)), opencv_layout(array)), (array.shape, kwargs)


# --- docs/errors.md: each row of the table is a test


def errors_table() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in (ROOT / "docs" / "errors.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) == 4 and all(cell.startswith("`") for cell in cells[1:]):
            misuse, call, raises, says = cells
            rows.append((misuse, call.strip("`"), raises.strip("`"), says.strip("`")))
    return rows


@pytest.mark.parametrize(("misuse", "call", "raises", "says"), errors_table(), ids=[row[0] for row in errors_table()])
def test_errors_table_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, misuse: str, call: str, raises: str, says: str) -> None:
    monkeypatch.chdir(tmp_path)
    img = np.zeros((480, 640, 3), np.uint8)
    namespace = {"np": np, "bufpng": bufpng, "Image": Image, "img": img, "png": bufpng.encode(img)}
    with pytest.raises(BaseException) as raised:
        exec(call, namespace)  # noqa: S102 - the documented call, verbatim
    assert type(raised.value).__name__ == raises, (misuse, raised.value)
    assert says in str(raised.value), (misuse, str(raised.value))
    assert "\n" not in str(raised.value)
    assert os.listdir(tmp_path) in ([], ["afile"]), "a refused call wrote something"


def test_the_errors_table_has_its_rows() -> None:
    assert len(errors_table()) >= 25
