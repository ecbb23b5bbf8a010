"""The bufpng command line: ``python -m bufpng COMMAND`` (also ``bufpng COMMAND``)."""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
import zlib
from collections.abc import Sequence

import bufpng


def test_pattern(width: int, height: int, count: int) -> list[bytes]:
    """A clip of BGR frames: colour gradients that scroll one step per frame.

    Built from bytes alone so the demo needs neither numpy nor OpenCV.
    """
    rows = []
    for y in range(height):
        row = bytearray(3 * width)
        for x in range(width):
            row[3 * x] = (255 * x) // max(width - 1, 1)  # blue ramps left to right
            row[3 * x + 1] = (255 * y) // max(height - 1, 1)  # green top to bottom
            row[3 * x + 2] = (x ^ y) & 0xFF  # red: a fine pattern that compresses differently
        rows.append(bytes(row))
    frames = []
    for i in range(count):
        shift = 3 * ((4 * i) % width)
        frames.append(b"".join(row[shift:] + row[:shift] for row in rows))
    return frames


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


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return width, height


def demo(args: argparse.Namespace) -> int:
    width, height = args.size
    frames = test_pattern(width, height, args.frames)
    print(f"bufpng {bufpng.__version__}: writing {len(frames)} test-pattern frames of {width}x{height} BGR to {args.output}/")
    start = time.perf_counter()
    paths = bufpng.write_frames(frames, width, height, directory=args.output)
    elapsed = time.perf_counter() - start
    for path in paths:
        check_png(path, width, height, 3)
    megabytes = sum(os.path.getsize(p) for p in paths) / 1e6
    print(f"wrote {len(paths)} files ({paths[0]} .. {paths[-1]}), {megabytes:.1f} MB in {elapsed:.2f} s ({len(paths) / elapsed:.0f} frames/s)")
    print("checked every file: PNG signature, chunk CRCs, header and image data size")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bufpng", description="Write image buffers as PNG files.")
    parser.add_argument("--version", action="version", version=f"bufpng {bufpng.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="write, and check, a generated test-pattern clip")
    p.add_argument("--frames", type=int, default=48, help="number of frames (default 48)")
    p.add_argument("--size", type=parse_size, default=(320, 240), help="frame size WxH (default 320x240)")
    p.add_argument("-o", "--output", default="demo-out", help="output directory (default demo-out)")
    p.set_defaults(run=demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
