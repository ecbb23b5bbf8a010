"""The bufpng command line: ``python -m bufpng COMMAND`` (also ``bufpng COMMAND``).

    bufpng demo   write, time and check a generated photo-like clip
    bufpng raw    raw video frames (a file or stdin, e.g. from ffmpeg) to PNG files
    bufpng npy    every frame of a saved .npy array to PNG files

raw and npy write one animated PNG instead with --apng OUT.png (--fps, --loop).

Exit codes: 0 success, 1 failure (one line on stderr; --debug for the
traceback), 2 usage error, 130 interrupted (Ctrl-C). See docs/cli.md.
"""

from __future__ import annotations

import argparse
import array
import ast
import ctypes
import importlib
import itertools
import math
import mmap
import os
import random
import stat
import struct
import sys
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO, Literal, TypeAlias

import bufpng

FrameObject: TypeAlias = "bytes | memoryview | array.array[int]"
# What the commands hand to write_frames: a clip or stream of flat frames
# (raw), or one ctypes array of frames mapped from a .npy file.
Frames: TypeAlias = "Clip | Iterator[FrameObject] | list[FrameObject] | ctypes.Array[Any]"
Order: TypeAlias = Literal["bgr", "rgb"]


class Clip:
    """Frames made on demand: `len()` gives write_frames the total for its
    progress bar while iteration stays lazy, so memory stays bounded."""

    def __init__(self, count: int, make: Callable[[int], FrameObject]) -> None:
        self.count, self.make = count, make

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[FrameObject]:
        return (self.make(i) for i in range(self.count))


SCALE = 8  # the demo's scene is drawn at 1/SCALE size, then widened
NOISE = 14  # the largest noise value added to a sample


def photo_like_clip(width: int, height: int, count: int, distinct: int = 6) -> Clip:
    """A clip of BGR frames with what makes camera frames costly to encode:
    smooth shading, hard-edged objects and sensor noise, the scene panning
    a little from frame to frame (`distinct` frames, repeated).

    Built from bytes alone, so the demo needs neither numpy nor OpenCV, and
    fast: the scene is drawn at 1/SCALE size with each pixel widened to
    SCALE, and noise is added to a whole row at once as one big integer (no
    byte carries into its neighbour because scene + noise stays below 256).
    The frames are made before the clock starts: the demo times bufpng.
    """
    rng = random.Random(19)
    cols, rows = -(-width // SCALE), -(-height // SCALE)
    discs = [
        (rng.uniform(0, cols), rng.uniform(rows / 3, rows), rng.uniform(2, rows / 4), [rng.randrange(20, 200) for _ in range(3)])
        for _ in range(40)
    ]

    def pixel(u: int, v: int) -> bytes:
        # Sky fading to ground, lit from the top left; discs cover it.
        b, g, r = 200 - 120 * v // rows, 150 - 40 * v // rows, 90 + 60 * v // rows
        for cx, cy, radius, colour in discs:
            if (u - cx) ** 2 + (v - cy) ** 2 < radius * radius:
                b, g, r = colour
                break
        light = 25 * math.sin(u / 9.0) * math.cos(v / 7.0)
        return bytes(max(0, min(255 - NOISE, int(c + light + 30 * u / cols))) for c in (b, g, r)) * SCALE

    scene = [b"".join(pixel(u, v) for u in range(cols))[: 3 * width] for v in range(rows)]
    # Noise 0..NOISE, roughly bell-shaped (the sum of two uniform 0..7).
    table = bytes((i & 7) + (i >> 5) for i in range(256))
    noise = [int.from_bytes(rng.randbytes(3 * width).translate(table), "big") for _ in range(97)]

    def frame(k: int) -> bytes:
        pan = 3 * ((24 * k) % width)
        out = []
        for y in range(height):
            row = scene[y // SCALE]
            moved = int.from_bytes(row[pan:] + row[:pan], "big")
            out.append((moved + noise[(y * 31 + 7 * k) % len(noise)]).to_bytes(3 * width, "big"))
        return b"".join(out)

    frames = [frame(k) for k in range(min(distinct, count))]
    return Clip(count, lambda i: frames[i % len(frames)])


def check_png(path: str, width: int, height: int, channels: int) -> None:
    """Checks a PNG's structure: signature, chunk CRCs, IHDR and the image data size."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG signature")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"{path}: bad CRC in {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
        if kind == b"IEND":
            break
    else:
        raise ValueError(f"{path}: truncated, no IEND")
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    if header is None or header[:2] != (width, height) or header[3] != colour_type:
        raise ValueError(f"{path}: header {header} is not {width}x{height} with {channels} channels")
    expected = height * (1 + width * channels * header[2] // 8)
    if len(zlib.decompress(idat)) != expected:
        raise ValueError(f"{path}: image data is not {expected} bytes")


def check_frame(path: str, frame: bytes, width: int, height: int) -> None:
    """Checks that the PNG at `path` is well-formed and holds exactly the BGR `frame`."""
    check_png(path, width, height, 3)
    # read() gives OpenCV's layout (BGR), the same bytes the clip was made of.
    if bytes(memoryview(bufpng.read(path))) != frame:
        raise ValueError(f"{path}: the pixels read back differ from the frame written")


# --- pixel formats ----------------------------------------------------------


class PixFmt:
    """A raw pixel format as ffmpeg names it."""

    def __init__(self, channels: int, sixteen: bool, big_endian: bool, order: Order) -> None:
        self.channels, self.sixteen, self.big_endian, self.order = channels, sixteen, big_endian, order

    def frame_bytes(self, width: int, height: int) -> int:
        return width * height * self.channels * (2 if self.sixteen else 1)

    def frame(self, data: bytes | memoryview) -> FrameObject:
        """A buffer bufpng reads as this format (flat: width/height give the shape)."""
        if not self.sixteen:
            return data
        if self.big_endian == (sys.byteorder == "big"):
            return memoryview(data).cast("H")
        # Buffers carry no byte order except through struct codes memoryview
        # cannot produce, so swap into native order (one copy).
        samples = array.array("H")
        samples.frombytes(data)  # not array("H", data): a memoryview would count as ints
        samples.byteswap()
        return samples


PIX_FMTS = {
    "gray": PixFmt(1, False, False, "bgr"),
    "gray16le": PixFmt(1, True, False, "bgr"),
    "gray16be": PixFmt(1, True, True, "bgr"),
    "rgb24": PixFmt(3, False, False, "rgb"),
    "bgr24": PixFmt(3, False, False, "bgr"),
    "rgba": PixFmt(4, False, False, "rgb"),
    "bgra": PixFmt(4, False, False, "bgr"),
    "rgb48le": PixFmt(3, True, False, "rgb"),
    "rgb48be": PixFmt(3, True, True, "rgb"),
}


class CliError(Exception):
    """A failure to report as one line and exit status 1."""


# --- commands ---------------------------------------------------------------


def demo(args: argparse.Namespace) -> int:
    width, height = args.size
    clip = photo_like_clip(width, height, args.frames)
    print(f"bufpng {bufpng.__version__}: writing {len(clip)} photo-like frames of {width}x{height} BGR to {args.output}/")
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    paths = bufpng.write_frames(clip, width, height, directory=args.output, threads=args.threads, progress=True)
    elapsed = time.perf_counter() - start
    cores_used = (_cpu_seconds() - cpu_start) / elapsed
    for path, frame in zip(paths, clip, strict=True):
        check_frame(path, bytes(frame), width, height)
    size = sum(os.path.getsize(p) for p in paths)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = args.threads or cores
    rate = len(paths) / elapsed
    print(f"wrote {len(paths)} files ({paths[0]} .. {paths[-1]}), {size / 1e6:.1f} MB in {elapsed:.2f} s: {rate:.1f} frames/s on {threads} threads")
    print("read every file back: well-formed PNG, pixels identical to the frames written")
    # The same clip on one thread: the speed-up, and the output does not
    # depend on the thread count.
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        single = bufpng.write_frames(clip, width, height, directory=scratch, threads=1)
        single_rate = len(single) / (time.perf_counter() - start)
        identical = all(_same_file(a, b) for a, b in zip(paths, single, strict=True))
    print(
        f"one thread: {single_rate:.1f} frames/s, so {threads} threads write {rate / single_rate:.2f}x as many; "
        f"the files are {'identical' if identical else 'DIFFERENT'}"
    )
    if threads > 1 and cores_used < 0.75 * threads:
        # Threads only help with idle cores; say so rather than let the ratio mislead.
        print(f"(the {threads} threads got {cores_used:.1f} cores' worth of CPU time: other processes keep this machine busy)")
    _compare_with_opencv(clip, width, height, rate, size / len(paths))
    return 0 if identical else 1


def _cpu_seconds() -> float:
    """CPU time of this process, all threads."""
    times = os.times()
    return times.user + times.system


def _compare_with_opencv(clip: Clip, width: int, height: int, rate: float, mean_size: float) -> None:
    """The loop users write without bufpng: cv2.imwrite per frame (on a few
    frames: it is the slow one), when OpenCV happens to be installed."""
    try:
        # Imported by name: neither is a dependency of bufpng.
        cv2 = importlib.import_module("cv2")
        np = importlib.import_module("numpy")
    except ImportError:
        print("OpenCV is not installed: no cv2.imwrite comparison (pip install opencv-python-headless to see one)")
        return
    frames = [np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in itertools.islice(clip, 8)]
    with tempfile.TemporaryDirectory() as scratch:
        names = [os.path.join(scratch, f"{i}.png") for i in range(len(frames))]
        start = time.perf_counter()
        for name, frame in zip(names, frames, strict=True):
            cv2.imwrite(name, frame)
        cv2_rate = len(frames) / (time.perf_counter() - start)
        cv2_size = sum(os.path.getsize(name) for name in names) / len(names)
    print(
        f"a cv2.imwrite loop (OpenCV {cv2.__version__}, its default settings): {cv2_rate:.1f} frames/s; "
        f"bufpng writes {rate / cv2_rate:.1f}x as many frames per second, files {mean_size / cv2_size:.2f}x the size"
    )


def _same_file(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def raw(args: argparse.Namespace) -> int:
    width, height = args.size
    fmt = PIX_FMTS[args.pix_fmt]
    size = fmt.frame_bytes(width, height)
    name = "stdin" if args.input == "-" else args.input
    with open(sys.stdin.fileno() if args.input == "-" else args.input, "rb", closefd=args.input != "-") as stream:

        def partial(got: int) -> CliError:
            return CliError(
                f"{name} ends with a partial frame: {got} of {size} bytes, {size - got} bytes missing "
                f"(a {width}x{height} {args.pix_fmt} frame is {size} bytes; check --size and --pix-fmt)"
            )

        frames: Clip | Iterator[FrameObject]
        if stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            # A regular file: the count is known (so the progress bar has a
            # total) and a partial last frame is an error before any writing.
            first = stream.tell()
            count, rest = divmod(os.fstat(stream.fileno()).st_size - first, size)
            if rest:
                raise partial(rest)
            frames = Clip(count, lambda i: fmt.frame(os.pread(stream.fileno(), size, first + i * size)))
        else:
            frames = _read_frames(stream, size, fmt, partial)
        return _write(frames, width, height, fmt.order, args, name, channels=fmt.channels)


def _read_frames(stream: BinaryIO, size: int, fmt: PixFmt, partial: Callable[[int], CliError]) -> Iterator[FrameObject]:
    """Frames from a pipe, one at a time (pipes return short reads: gather them)."""
    while True:
        chunks, got = [], 0
        while got < size:
            chunk = stream.read(size - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got == 0:
            return
        if got < size:
            raise partial(got)
        yield fmt.frame(chunks[0] if len(chunks) == 1 else b"".join(chunks))


# .npy dtypes as ctypes sample types: ctypes arrays export the buffer
# protocol with shape and byte order ('>H'), which memoryview cannot.
NPY_DTYPES: dict[str, type[ctypes.c_uint8] | type[ctypes.c_uint16]] = {
    "|u1": ctypes.c_uint8,
    "<u2": ctypes.c_uint16.__ctype_le__,
    ">u2": ctypes.c_uint16.__ctype_be__,
}


def npy(args: argparse.Namespace) -> int:
    with open(args.file, "rb") as f:
        shape, sample, offset = _npy_header(f, args.file)
        if len(shape) not in (3, 4):
            raise CliError(f"{args.file}: shape {shape} is not frames of (n, height, width) or (n, height, width, 1-4 channels)")
        if args.gray_frames:
            if len(shape) != 3:
                raise CliError(f"{args.file}: --gray-frames is for 3-D arrays (n, height, width), got shape {shape}")
            shape = (*shape, 1)
        needed = offset + ctypes.sizeof(sample) * _product(shape)
        if os.fstat(f.fileno()).st_size < needed:
            raise CliError(f"{args.file} is truncated: shape {shape} needs {needed} bytes")
        if len(shape) >= 3 and shape[0] == 0:
            return _write([], None, None, args.order, args, args.file)
        # Memory-mapped copy-on-write (ctypes needs a writable buffer; nothing
        # is written): each frame is a view of the file, copied by
        # write_frames as it goes, so the array is never loaded whole. The
        # map closes when the last view goes (not in a `with`: a traceback
        # may still hold a view, and close() would then replace the error).
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    array_type: Any = sample
    for n in reversed(shape):
        array_type = array_type * n
    # Named for messages ("got one 3-dimensional .npy array"), not c_ubyte_Array_3_...
    array_type = type(".npy array", (array_type,), {})
    # write_frames decides what the shape means, by bufpng's one rule: a 3-D
    # array is gray frames only when its last axis cannot be channels.
    return _write(array_type.from_buffer(mapped, offset), None, None, args.order, args, args.file)


def _product(shape: tuple[int, ...]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def _npy_header(f: BinaryIO, name: str) -> tuple[tuple[int, ...], type[ctypes.c_uint8] | type[ctypes.c_uint16], int]:
    """Shape, ctypes sample type and data offset of a .npy file (numpy's
    format, read without numpy)."""
    magic = f.read(8)
    if magic[:6] != b"\x93NUMPY":
        raise CliError(f"{name} is not a .npy file (no \\x93NUMPY signature)")
    length_format = "<H" if magic[6] == 1 else "<I"
    (length,) = struct.unpack(length_format, f.read(struct.calcsize(length_format)))
    try:
        header = ast.literal_eval(f.read(length).decode("latin1"))
        descr, fortran, shape = header["descr"], header["fortran_order"], tuple(header["shape"])
    except (ValueError, SyntaxError, KeyError, TypeError) as e:
        raise CliError(f"{name}: unreadable .npy header ({e})") from None
    if descr not in NPY_DTYPES:
        raise CliError(f"{name}: dtype {descr!r} is not uint8 or uint16; convert with arr.astype(np.uint8) before np.save")
    if fortran:
        raise CliError(f"{name} is stored in Fortran order; save np.ascontiguousarray(arr) instead")
    return shape, NPY_DTYPES[descr], f.tell()


def _write(
    frames: Frames,
    width: int | None,
    height: int | None,
    order: Order,
    args: argparse.Namespace,
    source: str,
    channels: int | None = None,
) -> int:
    if args.apng:
        return _write_animation(frames, width, height, order, args, source, channels)
    paths = bufpng.write_frames(
        frames,
        width,
        height,
        channels=channels,
        directory=args.output,
        pattern=args.pattern,
        start=args.start,
        order=order,
        compression=args.compression,
        threads=args.threads,
        progress=not args.quiet,
        text=dict(args.text) or None,
        dpi=args.dpi,
        durable=args.durable,
    )
    if not paths:
        print(f"bufpng: {source} holds no frames: nothing written", file=sys.stderr)
    elif not args.quiet:
        print(f"wrote {len(paths)} files to {args.output}/ ({os.path.basename(paths[0])} .. {os.path.basename(paths[-1])})", file=sys.stderr)
    return 0


def _write_animation(
    frames: Frames,
    width: int | None,
    height: int | None,
    order: Order,
    args: argparse.Namespace,
    source: str,
    channels: int | None,
) -> int:
    count = [len(frames)] if isinstance(frames, (Clip, list, ctypes.Array)) else [0]
    if not isinstance(frames, (Clip, list, ctypes.Array)):
        # A pipe: look at the first frame, so no input is reported as
        # write_frames reports it ("nothing written"), not as an error; and
        # count the frames for the summary.
        first = next(frames, None)
        rest = frames if first is None else itertools.chain([first], frames)

        def counted() -> Iterator[FrameObject]:
            for frame in rest:
                count[0] += 1
                yield frame

        frames = counted() if first is not None else []
    if isinstance(frames, (Clip, list, ctypes.Array)) and len(frames) == 0:
        print(f"bufpng: {source} holds no frames: nothing written", file=sys.stderr)
        return 0
    bufpng.write_animation(
        args.apng,
        frames,
        width,
        height,
        channels=channels,
        fps=args.fps,
        loop=args.loop,
        order=order,
        compression=args.compression,
        threads=args.threads,
        progress=not args.quiet,
        text=dict(args.text) or None,
        dpi=args.dpi,
        durable=args.durable,
    )
    if not args.quiet:
        print(f"wrote {args.apng}: {count[0]} frames at {args.fps:g} fps", file=sys.stderr)
    return 0


# --- argument parsing -------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return width, height


def parse_pattern(text: str) -> str:
    # write_frames checks the pattern before anything else, and with no
    # frames does nothing else: the one place the rules live.
    try:
        bufpng.write_frames([], pattern=text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def text_entry(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    # bufpng's own check of PNG keywords: the one place the rules live.
    try:
        bufpng.encode(b"\0", 1, 1, text={key: value})
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return key, value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def above_zero(what: str) -> Callable[[str], float]:
    """An argparse type: a number above 0, `what` naming it in the error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of {what}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    return parse


def level(text: str) -> int:
    if text not in [str(n) for n in range(10)]:
        raise argparse.ArgumentTypeError(f"compression must be 0-9, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bufpng",
        description="Write image buffers and raw video frames as PNG files.",
        epilog="Exit status: 0 ok, 1 failure, 2 usage error, 130 interrupted. See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"bufpng {bufpng.__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback on failure")

    writing = argparse.ArgumentParser(add_help=False)
    writing.add_argument("-o", "--output", default=".", metavar="DIR", help="output directory, created if missing (default: .)")
    writing.add_argument("--pattern", type=parse_pattern, default="frame_%05d.png", help="file name with one integer placeholder (default: frame_%%05d.png)")
    writing.add_argument("--start", type=int, default=0, metavar="N", help="number of the first file (default: 0)")
    writing.add_argument("--threads", type=positive, metavar="N", help="worker threads (default: one per CPU core; 1 = no pool)")
    writing.add_argument("--compression", type=level, metavar="0-9", help="zlib level, as OpenCV counts it (default: bufpng's fast setting)")
    writing.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    writing.add_argument("--text", type=text_entry, action="append", default=[], metavar="KEY=VALUE", help="a text entry in every file (tEXt, or iTXt for non-Latin-1 values); repeatable")
    writing.add_argument("--dpi", type=above_zero("dots per inch"), metavar="N", help="resolution in dots per inch, stored in every file (pHYs)")
    writing.add_argument("--durable", action="store_true", help="fsync each file and the directory, so the output survives a power loss (slower)")
    writing.add_argument("--apng", metavar="OUT.png", help="write one animated PNG instead of a file per frame (-o, --pattern, --start do not apply)")
    writing.add_argument("--fps", type=above_zero("frames per second"), default=25.0, help="frames per second of the --apng animation (default: 25)")
    writing.add_argument("--loop", type=int, default=0, metavar="N", help="plays of the --apng animation, 0 = forever (default: 0)")

    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "demo",
        parents=[common],
        help="write, time and check a generated photo-like clip",
        description="Generate a photo-like 1080p clip, write it with write_frames, check every file, "
        "and compare the speed with one thread and, when OpenCV is installed, with a cv2.imwrite loop.",
    )
    p.add_argument("--frames", type=positive, default=32, metavar="N", help="number of frames (default: 32)")
    p.add_argument("--size", type=parse_size, default=(1920, 1080), metavar="WxH", help="frame size (default: 1920x1080)")
    p.add_argument("--threads", type=positive, metavar="N", help="worker threads (default: one per CPU core)")
    p.add_argument("-o", "--output", default="demo-out", metavar="DIR", help="output directory (default: demo-out)")
    p.set_defaults(run=demo)

    p = commands.add_parser(
        "raw",
        parents=[common, writing],
        help="raw video frames (file or stdin) to PNG files",
        description="Read raw frames, as `ffmpeg -i clip.mp4 -f rawvideo -pix_fmt bgr24 -` writes them, "
        "and write one PNG per frame.",
    )
    p.add_argument("input", nargs="?", default="-", metavar="FILE|-", help="raw frames (default: - for stdin)")
    p.add_argument("--size", type=parse_size, required=True, metavar="WxH", help="frame size, e.g. 1920x1080")
    p.add_argument("--pix-fmt", required=True, choices=list(PIX_FMTS), help="pixel format, as ffmpeg names it")
    p.set_defaults(run=raw)

    p = commands.add_parser(
        "npy",
        parents=[common, writing],
        help="every frame of a .npy array to PNG files",
        description="Write every frame of an array saved with np.save, shape (n, h, w, c) with c 1-4, or (n, h, w) "
        "of gray frames when w is not 1-4 (else pass --gray-frames), uint8 or uint16. The file is memory-mapped, "
        "not loaded whole. Does not need numpy.",
    )
    p.add_argument("file", metavar="FILE.npy", help="the saved array")
    p.add_argument("--order", choices=["bgr", "rgb"], default="bgr", help="channel order of 3-4 channel frames (default: bgr, OpenCV's)")
    p.add_argument(
        "--gray-frames",
        action="store_true",
        help="read a 3-D array (n, h, w) as n gray frames even when w is 1-4 (without it, such a shape is refused: it could be one colour image)",
    )
    p.set_defaults(run=npy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        if getattr(args, "apng", None):
            print(f"bufpng: interrupted; {args.apng} was not written", file=sys.stderr)
        else:
            print("bufpng: interrupted; files completed so far are kept", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 (the CLI's one-line report)
        if args.debug:
            traceback.print_exc()
        message = str(e) if isinstance(e, CliError) else f"{type(e).__name__}: {e}"
        print(f"bufpng: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
