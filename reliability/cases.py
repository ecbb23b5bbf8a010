"""Every public bufpng call on its success path and on each error path.

The leak loop (`leaks.py`), the fast refcount test and the concurrency test
in `pytests/test_reliability.py` all run this one catalogue. To cover a new
public function, write a builder that returns its `Case`s and add it to
`BUILDERS`.
"""

from __future__ import annotations

import array
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bufpng
from faults import png_file  # reliability/ is on sys.path wherever cases is imported

try:
    import _testbuffer
except ImportError:  # a CPython built without its test modules
    _testbuffer = None


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[], object]
    # The exception the call must raise, or None for success.
    raises: type[BaseException] | None
    # Objects passed in, whose reference counts must not change.
    inputs: tuple[object, ...] = ()


def images() -> dict[str, object]:
    """Valid inputs of every kind of exporter and layout (small: loops run them 100,000 times)."""
    rng = np.random.default_rng(8)
    bgr = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    return {
        "bgr uint8": bgr,
        "bgra uint8": rng.integers(0, 256, (12, 16, 4), dtype=np.uint8),
        "gray uint16": rng.integers(0, 65536, (12, 16), dtype=np.uint16),
        "rgb big-endian uint16": rng.integers(0, 65536, (12, 16, 3)).astype(">u2"),
        "strided crop": bgr[1:-1:2, ::3],
        "upside down": bgr[::-1],
        "fortran order": np.asfortranarray(bgr),
        "broadcast": np.broadcast_to(np.uint8(9), (12, 16, 3)),
        "bytes": bytes(range(256)) * 3,
        "bytearray": bytearray(range(256)) * 3,
        "memoryview": memoryview(bytes(range(192))).cast("B"),
        "array.array H": array.array("H", range(192)),
    }


FLAT = {"width": 16, "height": 12}
FLAT_KINDS = {"bytes", "bytearray", "memoryview", "array.array H"}
# 4 bytes a pixel: BGRA, 16-bit gray+alpha or padded gray rows; channels= says which.
FOUR_BYTES_A_PIXEL = {"bytes", "bytearray"}


def _size(kind: str) -> dict[str, int]:
    if kind in FOUR_BYTES_A_PIXEL:
        return {**FLAT, "channels": 4}
    return FLAT if kind in FLAT_KINDS else {}


def hostile() -> list[tuple[str, object, type[BaseException]]]:
    """Exporters that must be refused, with the exception each must raise."""
    bgr = np.zeros((4, 4, 3), np.uint8)
    out: list[tuple[str, object, type[BaseException]]] = [
        ("None", None, TypeError),
        ("str", "not pixels", TypeError),
        ("list", [1, 2, 3], TypeError),
        ("float64", np.zeros((4, 4)), TypeError),
        ("int8", np.zeros((4, 4), np.int8), TypeError),
        ("4-D batch", np.zeros((2, 4, 4, 3), np.uint8), ValueError),
        ("5 channels", np.zeros((4, 4, 5), np.uint8), ValueError),
        ("zero-sized", np.zeros((0, 4, 3), np.uint8), ValueError),
        ("scalar", np.uint8(3), ValueError),
        ("broadcast too large", np.broadcast_to(np.uint8(1), (2**20, 2**20, 4)), MemoryError),
        ("flat without size", bytes(48), ValueError),
    ]
    if _testbuffer is not None:
        nd = _testbuffer.ndarray
        items = list(range(48))
        out += [
            ("suboffsets (PIL-style)", nd(items, shape=[4, 4, 3], format="B", flags=_testbuffer.ND_PIL), BufferError),
            ("getbuffer raises", nd(items, shape=[4, 4, 3], format="B", flags=_testbuffer.ND_GETBUF_FAIL), BufferError),
            ("zero-sized shape", nd([1], shape=[0, 4, 3], format="B"), ValueError),
            # len does not match the shape (the product overflows): refused before planning.
            ("huge claimed shape", nd([1, 2], shape=[2**62, 2**62], strides=[0, 0], format="B"), BufferError),
            ("huge broadcast shape", nd([1], shape=[2**20, 2**20, 4], strides=[0, 0, 0], format="B"), MemoryError),
            ("signed format", nd(items, shape=[4, 4, 3], format="b"), TypeError),
            ("wide format", nd(items, shape=[4, 4, 3], format="Q"), TypeError),
            ("struct format", nd([(1, 2)] * 16, shape=[4, 4], format="BB"), TypeError),
        ]
    return out


def hostile_valid() -> dict[str, object]:
    """Unusual exporters that are valid images."""
    if _testbuffer is None:
        return {}
    nd = _testbuffer.ndarray
    items = list(range(48))
    return {
        "testbuffer readonly": nd(items, shape=[4, 4, 3], format="B"),
        "testbuffer writable": nd(items, shape=[4, 4, 3], format="B", flags=_testbuffer.ND_WRITABLE),
        "testbuffer fortran": nd(items, shape=[4, 4, 3], format="B", flags=_testbuffer.ND_FORTRAN),
        "testbuffer negative strides": nd(items, shape=[4, 4, 3], strides=[-12, 3, 1], offset=36, format="B"),
        "testbuffer uint16": nd(items, shape=[4, 4, 3], format="<H"),
        "testbuffer no strides": nd(items, shape=[48], format="B"),
    }


def encode_cases(workdir: Path) -> list[Case]:
    cases = []
    for kind, image in {**images(), **hostile_valid()}.items():
        size = _size(kind) or ({"width": 4, "height": 4} if kind == "testbuffer no strides" else {})
        cases.append(Case(f"encode {kind}", lambda i=image, s=size: bufpng.encode(i, **s), None, (image,)))
    bgr = images()["bgr uint8"]
    cases.append(Case("encode rgb, level 9", lambda: bufpng.encode(bgr, order="rgb", compression=9), None, (bgr,)))
    for kind, image, error in hostile():
        cases.append(Case(f"encode {kind}", lambda i=image: bufpng.encode(i), error, (image,)))
    for name, kwargs, error in [
        ("bad order", {"order": "bgrx"}, ValueError),
        ("order not str", {"order": 3}, TypeError),
        ("compression 10", {"compression": 10}, ValueError),
        ("threads 2", {"threads": 2}, None),
        ("threads 0", {"threads": 0}, ValueError),
        ("threads str", {"threads": "2"}, TypeError),
        ("width float", {"width": 1.5}, TypeError),
        ("width huge", {"width": 2**70}, OverflowError),
        ("width negative", {"width": -1}, ValueError),
        ("transposed size", {"width": 12, "height": 16}, ValueError),
        ("size of another frame", {"width": 15, "height": 12}, ValueError),
        ("unknown keyword", {"colour": 1}, TypeError),
    ]:
        cases.append(Case(f"encode {name}", lambda k=kwargs: bufpng.encode(bgr, **k), error, (bgr,)))
    short = bgr.tobytes()[:-1]
    cases.append(Case("encode wrong length", lambda: bufpng.encode(short, 16, 12), ValueError, (short,)))
    cases.append(Case("encode no arguments", lambda: bufpng.encode(), TypeError))
    return cases


def write_cases(workdir: Path) -> list[Case]:
    bgr = images()["bgr uint8"]
    flat = images()["bytearray"]
    path = workdir / "write.png"
    (workdir / "a-directory").mkdir(exist_ok=True)
    (workdir / "a-file").write_bytes(b"")
    return [
        Case("write array", lambda: bufpng.write(path, bgr), None, (bgr, path)),
        Case("write str path, flat", lambda: bufpng.write(str(path), flat, 16, 12, channels=4), None, (flat,)),
        # 250 bytes: the file system takes it, so the temporary name must fit too.
        Case("write 250-byte name", lambda: bufpng.write(workdir / ("n" * 246 + ".png"), bgr), None, (bgr,)),
        Case("write missing directory", lambda: bufpng.write(workdir / "no" / "x.png", bgr), FileNotFoundError, (bgr,)),
        Case("write onto a directory", lambda: bufpng.write(workdir / "a-directory", bgr), IsADirectoryError, (bgr,)),
        Case("write under a file", lambda: bufpng.write(workdir / "a-file" / "x.png", bgr), NotADirectoryError, (bgr,)),
        Case("write empty path", lambda: bufpng.write("", bgr), ValueError, (bgr,)),
        Case("write path not a path", lambda: bufpng.write(3.5, bgr), TypeError, (bgr,)),
        Case("write bad image", lambda: bufpng.write(path, "pixels"), TypeError, (path,)),
    ]


def write_frames_cases(workdir: Path) -> list[Case]:
    rng = np.random.default_rng(9)
    frames = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(3)]
    batch = np.stack(frames)
    mixed = [frames[0], "oops", frames[1]]
    out = workdir / "frames"
    (workdir / "a-file").write_bytes(b"")
    return [
        Case("write_frames list", lambda: bufpng.write_frames(frames, directory=out), None, tuple(frames)),
        Case("write_frames 4-D array", lambda: bufpng.write_frames(batch, directory=out, start=5), None, (batch,)),
        Case("write_frames generator", lambda: bufpng.write_frames((f for f in frames), directory=out), None, tuple(frames)),
        Case("write_frames empty", lambda: bufpng.write_frames([], directory=out), None),
        Case("write_frames single frame", lambda: bufpng.write_frames(frames[0], directory=out), TypeError, (frames[0],)),
        Case("write_frames bad frame", lambda: bufpng.write_frames(mixed, directory=out), TypeError, (mixed, *frames)),
        Case("write_frames bad pattern", lambda: bufpng.write_frames(frames, directory=out, pattern="%s.png"), ValueError, tuple(frames)),
        Case("write_frames not iterable", lambda: bufpng.write_frames(42, directory=out), TypeError),
        Case("write_frames directory is a file", lambda: bufpng.write_frames(frames, directory=workdir / "a-file"), FileExistsError, tuple(frames)),
        Case("write_frames into a file's child", lambda: bufpng.write_frames(frames, directory=workdir / "a-file" / "x"), NotADirectoryError, tuple(frames)),
    ]


def parallel_write_frames_cases(workdir: Path) -> list[Case]:
    """The worker pool (threads=2), lazy inputs, and the progress callback's failures."""
    rng = np.random.default_rng(10)
    frames = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(4)]
    out = workdir / "parallel"
    calls: list[tuple[int, int | None]] = []

    def record(done: int, total: int | None) -> None:
        calls.append((done, total))
        del calls[:-1]  # keep one: a growing list would read as a leak

    def fail(done: int, total: int | None) -> None:
        if done == 2:
            raise ValueError("progress callback failed")

    def interrupt(done: int, total: int | None) -> None:
        if done == 1:
            raise KeyboardInterrupt

    def broken_generator():  # noqa: ANN202
        yield frames[0]
        raise ValueError("generator failed")

    two = {"directory": out, "threads": 2}
    return [
        Case("write_frames threads=2", lambda: bufpng.write_frames(frames, **two), None, tuple(frames)),
        Case("write_frames threads=1", lambda: bufpng.write_frames(frames, directory=out, threads=1), None, tuple(frames)),
        Case("write_frames threads=2 generator", lambda: bufpng.write_frames((f for f in frames), **two), None, tuple(frames)),
        Case("write_frames threads=2 progress", lambda: bufpng.write_frames(frames, progress=record, **two), None, (*frames, record)),
        Case("write_frames progress raises", lambda: bufpng.write_frames(frames, progress=fail, **two), ValueError, (*frames, fail)),
        Case("write_frames progress Ctrl-C", lambda: bufpng.write_frames(frames, progress=interrupt, **two), KeyboardInterrupt, (*frames, interrupt)),
        Case("write_frames generator raises", lambda: bufpng.write_frames(broken_generator(), **two), ValueError, (frames[0],)),
        Case("write_frames threads=0", lambda: bufpng.write_frames(frames, directory=out, threads=0), ValueError, tuple(frames)),
        Case("write_frames progress not callable", lambda: bufpng.write_frames(frames, directory=out, progress=3), TypeError, tuple(frames)),
    ]


def animation_cases(workdir: Path) -> list[Case]:
    rng = np.random.default_rng(10)
    frames = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(3)]
    odd = [*frames, frames[0][:4]]
    durations = [0.1, 0.2, 0.3]
    path = workdir / "anim.png"
    bufpng.write_animation(path, frames)
    data = path.read_bytes()
    return [
        Case("write_animation list", lambda: bufpng.write_animation(path, frames, threads=2), None, (*frames, path)),
        Case("write_animation generator", lambda: bufpng.write_animation(path, (f for f in frames), durations=durations), None, (*frames, durations)),
        Case("write_animation mismatched frame", lambda: bufpng.write_animation(workdir / "x.png", odd), ValueError, (odd, *frames)),
        Case("write_animation no frames", lambda: bufpng.write_animation(workdir / "x.png", []), ValueError),
        Case("write_animation bad durations", lambda: bufpng.write_animation(workdir / "x.png", frames, durations=[0.1]), ValueError, (*frames,)),
        Case("write_animation missing directory", lambda: bufpng.write_animation(workdir / "no" / "x.png", frames), FileNotFoundError, (*frames,)),
        Case("read_animation path", lambda: bufpng.read_animation(path), None, (path,)),
        Case("read_animation bytes", lambda: bufpng.read_animation(data), None, (data,)),
        Case("read_animation truncated", lambda: bufpng.read_animation(data[:-20]), ValueError, (data,)),
        Case("read_animation not a path", lambda: bufpng.read_animation(3.5), TypeError),
    ]


def decode_cases(workdir: Path) -> list[Case]:
    """decode and read: valid PNGs of each layout, and each way a file can be bad."""
    rng = np.random.default_rng(11)
    pngs = {
        "bgr": bufpng.encode(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)),
        "bgra": bufpng.encode(rng.integers(0, 256, (12, 16, 4), dtype=np.uint8)),
        "gray16": bufpng.encode(rng.integers(0, 65536, (12, 16), dtype=np.uint16)),
    }
    good = pngs["bgr"]
    flipped = bytearray(good)
    flipped[40] ^= 0xFF  # inside IDAT: its CRC no longer matches
    corrupt = bytes(flipped)
    truncated = good[: len(good) // 2]
    forged = png_file(2**31 - 1, 2**31 - 1, zlib.compress(bytes(100)), 6, 16)
    too_small = png_file(16_300, 16_300, zlib.compress(bytes(1000)), 6)
    path = workdir / "decode.png"
    path.write_bytes(good)
    (workdir / "corrupt.png").write_bytes(corrupt)
    strided = np.frombuffer(good * 2, np.uint8)[::2]
    cases = [Case(f"decode {k}", lambda d=d: bufpng.decode(d), None, (d,)) for k, d in pngs.items()]
    memory = bytearray(good)
    cases += [
        Case("decode rgb order", lambda: bufpng.decode(good, order="rgb"), None, (good,)),
        Case("decode bytearray", lambda: bufpng.decode(memory), None, (memory,)),
        Case("decode max_bytes just enough", lambda: bufpng.decode(good, max_bytes=12 * 16 * 3), None, (good,)),
        Case("read", lambda: bufpng.read(path), None, (path,)),
        Case("read str path, rgb", lambda: bufpng.read(str(path), order="rgb"), None),
        Case("decode corrupt", lambda: bufpng.decode(corrupt), ValueError, (corrupt,)),
        Case("decode truncated", lambda: bufpng.decode(truncated), ValueError, (truncated,)),
        Case("decode max_bytes exceeded", lambda: bufpng.decode(good, max_bytes=12 * 16 * 3 - 1), ValueError, (good,)),
        Case("decode forged header", lambda: bufpng.decode(forged), ValueError, (forged,)),
        Case("decode small file, huge image", lambda: bufpng.decode(too_small), ValueError, (too_small,)),
        Case("decode empty", lambda: bufpng.decode(b""), ValueError),
        Case("decode not a PNG", lambda: bufpng.decode(bytes(100)), ValueError),
        Case("decode str", lambda: bufpng.decode("photo.png"), TypeError),
        Case("decode None", lambda: bufpng.decode(None), TypeError),
        Case("decode not contiguous", lambda: bufpng.decode(strided), BufferError, (strided,)),
        Case("decode max_bytes negative", lambda: bufpng.decode(good, max_bytes=-1), ValueError, (good,)),
        Case("decode bad order", lambda: bufpng.decode(good, order="rgba"), ValueError, (good,)),
        Case("read corrupt", lambda: bufpng.read(workdir / "corrupt.png"), ValueError),
        Case("read missing file", lambda: bufpng.read(workdir / "missing.png"), FileNotFoundError),
        Case("read a directory", lambda: bufpng.read(workdir), IsADirectoryError),
    ]
    return cases


def frame_cases(workdir: Path) -> list[Case]:
    """bufpng.Frame: construction, properties, methods, buffer export, equality."""
    rng = np.random.default_rng(12)
    bgr = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    gray16 = rng.integers(0, 65536, (12, 16), dtype=np.uint16)
    flat = bytes(range(192))
    frame = bufpng.Frame(bgr)
    same_rgb = bufpng.Frame(np.ascontiguousarray(bgr[..., ::-1]), order="rgb")
    other = bufpng.Frame(gray16)
    path = workdir / "frame.png"

    def properties() -> tuple[object, ...]:
        return (frame.width, frame.height, frame.channels, frame.depth, frame.order, frame.nbytes, repr(frame))

    def view_outlives_frame() -> bytes:
        # The view holds the only reference to its Frame.
        view = memoryview(bufpng.Frame(bgr)).cast("B")
        return bytes(view[100:116])

    def numpy_view_outlives_frame() -> int:
        return int(np.asarray(bufpng.Frame(gray16)).sum())

    return [
        Case("Frame from array", lambda: bufpng.Frame(bgr), None, (bgr,)),
        Case("Frame from uint16", lambda: bufpng.Frame(gray16), None, (gray16,)),
        Case("Frame from flat bytes", lambda: bufpng.Frame(flat, 16, 4), None, (flat,)),
        Case("Frame from Frame", lambda: bufpng.Frame(frame), None, (frame,)),
        Case("Frame rgb order", lambda: bufpng.Frame(bgr, order="rgb"), None, (bgr,)),
        Case("Frame properties", properties, None, (frame,)),
        Case("Frame encode", lambda: frame.encode(compression=1), None, (frame,)),
        Case("Frame write", lambda: frame.write(path), None, (frame, path)),
        Case("Frame tobytes", lambda: frame.tobytes(), None, (frame,)),
        Case("Frame memoryview", lambda: memoryview(frame).tobytes(), None, (frame,)),
        Case("Frame numpy view", lambda: np.asarray(other).sum(), None, (other,)),
        Case("Frame view outlives frame", view_outlives_frame, None, (bgr,)),
        Case("Frame numpy view outlives frame", numpy_view_outlives_frame, None, (gray16,)),
        Case("Frame equality", lambda: (frame == same_rgb, frame != other, frame == "pixels"), None, (frame, same_rgb, other)),
        Case("Frame str", lambda: bufpng.Frame("pixels"), TypeError),
        Case("Frame bad order", lambda: bufpng.Frame(bgr, order="bgrx"), ValueError, (bgr,)),
        Case("Frame flat without size", lambda: bufpng.Frame(flat), ValueError, (flat,)),
        Case("Frame writable request", lambda: bufpng.describe(frame, "writable"), BufferError, (frame,)),
        Case("Frame Fortran request", lambda: bufpng.describe(frame, "f_contiguous"), BufferError, (frame,)),
        Case("Frame encode compression 10", lambda: frame.encode(compression=10), ValueError, (frame,)),
        Case("Frame write missing directory", lambda: frame.write(workdir / "no" / "x.png"), FileNotFoundError, (frame,)),
        Case("Frame tobytes argument", lambda: frame.tobytes(1), TypeError, (frame,)),
    ]


def out_cases(workdir: Path) -> list[Case]:
    """decode/read into the caller's buffer (out=), and read_frames. Every
    `out` is filled with the pixels it will receive beforehand, so running a
    case changes no input and inputs' reference counts can be compared."""
    rng = np.random.default_rng(15)
    pixels = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    png = bufpng.encode(pixels)
    path = workdir / "out.png"
    path.write_bytes(png)
    (workdir / "out-corrupt.png").write_bytes(png[:-30])
    out = pixels.copy()
    wide = np.zeros((12, 16, 5), np.uint8)
    wide[..., 1:4] = pixels
    fortran = np.asfortranarray(pixels)
    flat = bytearray(pixels.tobytes())
    frozen = pixels.copy()
    frozen.flags.writeable = False
    wrong = np.zeros((12, 15, 3), np.uint8)
    paths = [path] * 3
    batch = np.stack([pixels] * 3)
    flat_batch = bytearray(batch.tobytes())
    short_batch = np.zeros((2, 12, 16, 3), np.uint8)
    calls: list[int] = []

    def record(done: int, total: int | None) -> None:
        calls.append(done)
        del calls[:-1]

    def fail(done: int, total: int | None) -> None:
        if done == 1:
            raise ValueError("progress callback failed")

    return [
        Case("decode out=array", lambda: bufpng.decode(png, out=out) is out, None, (png, out)),
        Case("decode out=channel-last slice", lambda: bufpng.decode(png, out=wide[..., 1:4]).base is wide, None, (png, wide)),
        Case("decode out=Fortran array", lambda: bufpng.decode(png, out=fortran) is fortran, None, (png, fortran)),
        Case("decode out=bytearray", lambda: bufpng.decode(png, out=flat) is flat, None, (png, flat)),
        Case("read out=array", lambda: bufpng.read(path, out=out) is out, None, (path, out)),
        Case("decode out=read-only", lambda: bufpng.decode(png, out=frozen), BufferError, (png, frozen)),
        Case("decode out=bytes", lambda: bufpng.decode(png, out=png), BufferError, (png,)),
        Case("decode out=wrong shape", lambda: bufpng.decode(png, out=wrong), ValueError, (png, wrong)),
        Case("decode out=not a buffer", lambda: bufpng.decode(png, out=3), TypeError, (png,)),
        Case("read out=, corrupt file", lambda: bufpng.read(workdir / "out-corrupt.png", out=out), ValueError, (out,)),
        Case("read out=, missing file", lambda: bufpng.read(workdir / "missing.png", out=out), FileNotFoundError, (out,)),
        Case("read_frames list", lambda: bufpng.read_frames(paths, threads=1), None, (paths,)),
        Case("read_frames threads=2", lambda: bufpng.read_frames(paths, threads=2, progress=record), None, (paths, record)),
        Case("read_frames generator", lambda: bufpng.read_frames(p for p in paths), None),
        Case("read_frames out=batch", lambda: bufpng.read_frames(paths, out=batch, threads=2) is batch, None, (paths, batch)),
        Case("read_frames out=flat", lambda: bufpng.read_frames(paths, out=flat_batch) is flat_batch, None, (paths, flat_batch)),
        Case("read_frames empty", lambda: bufpng.read_frames([]), None),
        Case("read_frames out=too few", lambda: bufpng.read_frames(paths, out=short_batch), ValueError, (paths, short_batch)),
        Case("read_frames missing file", lambda: bufpng.read_frames([path, workdir / "missing.png"], threads=2), FileNotFoundError),
        Case("read_frames corrupt file", lambda: bufpng.read_frames([workdir / "out-corrupt.png", path]), ValueError),
        Case("read_frames progress raises", lambda: bufpng.read_frames(paths, threads=2, progress=fail), ValueError, (paths, fail)),
        Case("read_frames single path", lambda: bufpng.read_frames(path), TypeError, (path,)),
        Case("read_frames threads=0", lambda: bufpng.read_frames(paths, threads=0), ValueError, (paths,)),
    ]


def interop_cases(workdir: Path) -> list[Case]:
    """Frame's numpy-style attributes, array interface and pickling."""
    import pickle

    rng = np.random.default_rng(16)
    frame = bufpng.Frame(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    deep = bufpng.Frame(rng.integers(0, 65536, (12, 16, 4), dtype=np.uint16), order="rgb")
    constructor, args = frame.__reduce_ex__(4)

    def attributes() -> tuple[object, ...]:
        return (frame.shape, frame.ndim, frame.dtype, frame.itemsize, frame.format, frame.__array_interface__["shape"])

    def out_of_band() -> bool:
        buffers: list[pickle.PickleBuffer] = []
        data = pickle.dumps(deep, protocol=5, buffer_callback=buffers.append)
        return bool(pickle.loads(data, buffers=buffers) == deep)

    return [
        Case("Frame numpy attributes", attributes, None, (frame,)),
        Case("Frame array interface via numpy", lambda: int(np.array(deep).sum()), None, (deep,)),
        Case("pickle protocol 5 in band", lambda: pickle.loads(pickle.dumps(frame, protocol=5)) == frame, None, (frame,)),
        Case("pickle protocol 5 out of band", out_of_band, None, (deep,)),
        Case("pickle protocol 4", lambda: pickle.loads(pickle.dumps(deep, protocol=4)) == deep, None, (deep,)),
        Case("unpickle short pixels", lambda: constructor(bytes(11), *args[1:]), BufferError),
        Case("unpickle bad depth", lambda: constructor(args[0], 16, 12, 3, 12, "bgr", "little"), ValueError),
        Case("unpickle bad byteorder", lambda: constructor(*args[:-1], "middle"), ValueError),
        Case("Frame hash", lambda: hash(frame), TypeError, (frame,)),
    ]


REQUEST_NAMES = [
    "simple", "writable", "format", "nd", "strides", "c_contiguous", "f_contiguous", "any_contiguous",
    "indirect", "contig", "contig_ro", "strided", "strided_ro", "records", "records_ro", "full", "full_ro",
]  # fmt: skip


def describe_cases(workdir: Path) -> list[Case]:
    """describe: every request name on a writable array, and every kind of refusal."""
    array2d = np.arange(48, dtype=np.uint8).reshape(6, 8)
    column = np.zeros((6, 1), np.uint8)  # C and Fortran contiguous at once
    readonly = bytes(48)
    cases = [Case(f"describe {name}", lambda n=name: bufpng.describe(column, n), None, (column,)) for name in REQUEST_NAMES]
    cases += [
        Case("describe default request", lambda: bufpng.describe(array2d), None, (array2d,)),
        Case("describe int flags", lambda: bufpng.describe(array2d, 0x1C), None, (array2d,)),
        Case("describe bytes writable", lambda: bufpng.describe(readonly, "writable"), BufferError, (readonly,)),
        # numpy refuses with ValueError; describe passes the exporter's exception on.
        Case("describe strided as contiguous", lambda: bufpng.describe(array2d[:, ::2], "c_contiguous"), ValueError, (array2d,)),
        Case("describe not an exporter", lambda: bufpng.describe(42), TypeError),
        Case("describe unknown name", lambda: bufpng.describe(array2d, "bogus"), ValueError, (array2d,)),
        Case("describe request float", lambda: bufpng.describe(array2d, 1.5), TypeError, (array2d,)),
        Case("describe request negative", lambda: bufpng.describe(array2d, -1), ValueError, (array2d,)),
        Case("describe request too large", lambda: bufpng.describe(array2d, 2**40), ValueError, (array2d,)),
    ]
    if _testbuffer is not None:
        pil = _testbuffer.ndarray(list(range(48)), shape=[4, 4, 3], format="B", flags=_testbuffer.ND_PIL)
        failing = _testbuffer.ndarray(list(range(48)), shape=[4, 4, 3], format="B", flags=_testbuffer.ND_GETBUF_FAIL)
        cases += [
            Case("describe suboffsets, full_ro", lambda: bufpng.describe(pil, "full_ro"), None, (pil,)),
            Case("describe suboffsets, simple", lambda: bufpng.describe(pil, "simple"), BufferError, (pil,)),
            Case("describe getbuffer raises", lambda: bufpng.describe(failing), BufferError, (failing,)),
        ]
    return cases


def metadata_cases(workdir: Path) -> list[Case]:
    """Metadata keywords, Frame.info, file objects and encode_animation."""
    import io

    bgr = np.random.default_rng(12).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    profile = (128).to_bytes(4, "big") + bytes(124)
    display = {"primaries": ((0.708, 0.292), (0.17, 0.797), (0.131, 0.046)), "white_point": (0.3127, 0.329),
               "max_luminance": 1000.0, "min_luminance": 0.0001}
    every = {"text": {"Source": "clip", "Title": "映像", "Log": "x" * 2000}, "dpi": (300, 150), "gamma": 0.45455,
             "icc_profile": profile, "cicp": "bt2100-pq", "mastering_display": display,
             "content_light_level": (1000, 400)}
    tagged = bufpng.encode(bgr, **every)  # type: ignore[arg-type]
    frame = bufpng.decode(tagged)
    info = frame.info
    bad_clli = tagged[:33] + b"\0\0\0\x07cLLI" + bytes(7) + zlib.crc32(b"cLLI" + bytes(7)).to_bytes(4, "big") + tagged[33:]
    out = workdir / "metadata"
    path = workdir / "tagged.png"
    path.write_bytes(tagged)

    class Failing(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

        def read(self, size: int = -1) -> bytes:
            raise OSError(5, "Input/output error")

    failing = Failing()

    def text_raises(index: int) -> dict[str, str]:
        raise KeyError(index)

    def per_frame(index: int) -> dict[str, str]:
        return {"Frame": str(index)}

    frames = [bgr, bgr]
    return [
        Case("encode every metadata kind", lambda: bufpng.encode(bgr, **every), None, (bgr, *every.values())),  # type: ignore[arg-type]
        Case("decode with metadata, info", lambda: dict(bufpng.decode(tagged).info), None, (tagged,)),
        Case("encode metadata=info", lambda: bufpng.encode(frame, metadata=info, text={"a": "b"}), None, (frame, info)),
        Case("decode corrupt cLLI, skipped", lambda: bufpng.decode(bad_clli).info, None, (bad_clli,)),
        Case("decode corrupt cLLI, strict", lambda: bufpng.decode(bad_clli, strict=True), ValueError, (bad_clli,)),
        Case("encode bad text key", lambda: bufpng.encode(bgr, text={" k": "v"}), ValueError, (bgr,)),
        Case("encode text value not str", lambda: bufpng.encode(bgr, text={"k": 1}), TypeError, (bgr,)),
        Case("encode srgb and icc", lambda: bufpng.encode(bgr, srgb=True, icc_profile=profile), ValueError, (bgr, profile)),
        Case("encode bad cicp", lambda: bufpng.encode(bgr, cicp=(1, 13, 1, 1)), ValueError, (bgr,)),
        Case("encode bad mastering display", lambda: bufpng.encode(bgr, mastering_display={"primaries": 1}), TypeError, (bgr,)),
        Case("encode unknown metadata key", lambda: bufpng.encode(bgr, metadata={"dpu": 1}), ValueError, (bgr,)),
        Case("write_frames text callable", lambda: bufpng.write_frames(frames, directory=out, text=per_frame), None, (bgr, per_frame)),
        Case("write_frames text list", lambda: bufpng.write_frames(frames, directory=out, text=[None, {"a": "b"}]), None, (bgr,)),
        Case("write_frames text raises", lambda: bufpng.write_frames(frames, directory=out, text=text_raises), KeyError, (bgr, text_raises)),
        Case("write to BytesIO", lambda: bufpng.write(io.BytesIO(), bgr, dpi=72), None, (bgr,)),
        Case("write to a failing file", lambda: bufpng.write(failing, bgr), OSError, (bgr, failing)),
        Case("read a file object", lambda: bufpng.read(io.BytesIO(tagged)), None, (tagged,)),
        Case("read a failing file", lambda: bufpng.read(failing), OSError, (failing,)),
        Case("read path with metadata", lambda: bufpng.read(path).info, None, (path,)),
        Case("encode_animation", lambda: bufpng.encode_animation(frames, text={"a": "b"}), None, (bgr,)),
        Case("encode_animation no frames", lambda: bufpng.encode_animation([]), ValueError),
        Case("write_animation to a failing file", lambda: bufpng.write_animation(failing, frames), OSError, (bgr, failing)),
    ]


BUILDERS: list[Callable[[Path], list[Case]]] = [
    encode_cases,
    write_cases,
    write_frames_cases,
    parallel_write_frames_cases,
    decode_cases,
    frame_cases,
    describe_cases,
    animation_cases,
    out_cases,
    interop_cases,
    metadata_cases,
]


def all_cases(workdir: Path, builders: list[Callable[[Path], list[Case]]] | None = None) -> list[Case]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [case for build in builders or BUILDERS for case in build(workdir)]


def run(case: Case) -> object:
    """Runs a case once; returns its result or the expected exception, raises on anything else."""
    if case.raises is None:
        return case.call()
    try:
        case.call()
    except case.raises as error:
        return error
    raise AssertionError(f"{case.name}: expected {case.raises.__name__}, got success")


def rss_bytes() -> int:
    """Resident set size of this process, from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
