"""Fault injection: writes that fail mid-file, batches killed mid-write, and
decoding hostile PNGs with little memory.

    python reliability/faults.py fsize DIR          # child: RLIMIT_FSIZE, prints JSON
    python reliability/faults.py decode-limits      # child: RLIMIT_AS 1 GiB, prints JSON
    python reliability/faults.py batch DIR          # child: writes batches until killed
    python reliability/faults.py animation DIR      # child: writes one APNG over and over until killed
    python reliability/faults.py kill-loop N DIR [animation]
                                                    # N kills (SIGKILL, some SIGINT), then checks DIR

`pytests/test_reliability.py` runs each with a few iterations; `make faults`
runs the kill loop 200 times. The checks live here so both use the same ones.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

import bufpng

FRAMES = 40
SHAPE = (192, 256, 3)
FINAL = re.compile(r"^frame_(\d{5})\.png$")
# atomic.rs names temporaries `.<name>.bufpng-<pid>-<n>.tmp`.
TEMP = re.compile(r"^\.frame_\d{5}\.png\.bufpng-(\d+)-\d+\.tmp$")
ANIMATION = "anim.png"
# Fewer frames than a batch, so that an APNG is often complete before the kill.
ANIMATION_FRAMES = 8
ANIMATION_TEMP = re.compile(r"^\.anim\.png\.bufpng-(\d+)-\d+\.tmp$")


def frame(i: int) -> np.ndarray:
    """Frame i of every batch: the same pixels each time, so a file is either right or partial."""
    return np.random.default_rng(i).integers(0, 256, SHAPE, dtype=np.uint8)


def fsize(directory: Path) -> None:
    """With a 64 KiB file size limit, a large PNG fails mid-write: report what is left."""
    limit = 64 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    # Without this the kernel kills the process instead of failing the write.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    big = np.random.default_rng(1).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    small = np.zeros((8, 8, 3), np.uint8)
    report = {}
    for name, action in [
        ("write", lambda: bufpng.write(directory / "big.png", big)),
        # threads=1: exactly the frames before the failing one are written.
        ("write_frames", lambda: bufpng.write_frames([small, small, big, small], directory=directory / "batch", threads=1)),
        # A pool: any frames may be complete, none partial.
        ("write_frames_pool", lambda: bufpng.write_frames([small, small, big, small], directory=directory / "pool", threads=2)),
        # One file of several frames: it fails as a whole, leaving nothing.
        ("write_animation", lambda: bufpng.write_animation(directory / "anim.png", [big, big, big], threads=2)),
    ]:
        try:
            action()
            report[name] = {"raised": None}
        except OSError as error:
            report[name] = {
                "raised": type(error).__name__,
                "errno": error.errno,
                "filename": error.filename,
                "message": str(error),
            }
    report["listing"] = sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
    print(json.dumps(report))


def png_file(width: int, height: int, idat: bytes, color_type: int = 0, depth: int = 8) -> bytes:
    """A PNG with the given IHDR fields and one IDAT chunk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zeros_bomb(side: int) -> bytes:
    """A real decompression bomb: a valid side x side 8-bit gray PNG of zeros,
    about side^2/230 bytes (one compressed block of rows, repeated)."""
    rows = 100
    assert side % rows == 0
    chunk = bytes((side + 1) * rows)  # filter byte 0 + zero pixels, 100 rows
    deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, no history
    end = deflate.flush()
    adler = 1
    for _ in range(side // rows):
        adler = zlib.adler32(chunk, adler)
    stream = b"\x78\x01" + block * (side // rows) + end + struct.pack(">I", adler)
    return png_file(side, side, stream)


AS_LIMIT = 1 << 30


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: on Linux that keeps
    the parent's high-water mark across fork and exec."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def decode_limits() -> None:
    """With 1 GiB of address space, hostile PNGs must raise cleanly (no abort)
    and the refused ones before any large allocation: report what each did."""
    bomb = zeros_bomb(32_700)  # 1.07 GB of pixels in 4.6 MB, just under the 1 GiB default limit
    scenarios = [
        # 2^31-1 squared: over max_bytes, refused on the header.
        ("forged header", lambda: bufpng.decode(png_file(2**31 - 1, 2**31 - 1, zlib.compress(bytes(100)), 6, 16))),
        # 1.06 GB declared (under max_bytes) by a 74-byte file.
        ("small file, huge image", lambda: bufpng.decode(png_file(16_300, 16_300, zlib.compress(bytes(1000)), 6))),
        ("bomb, max_bytes=100 MB", lambda: bufpng.decode(bomb, max_bytes=100_000_000)),
        # Plausible and within max_bytes, but more than the address space left.
        ("bomb, default max_bytes", lambda: bufpng.decode(bomb)),
        # read_animation decodes plain PNGs too, through its own allocation.
        ("animation: small file, huge image", lambda: bufpng.read_animation(png_file(16_300, 16_300, zlib.compress(bytes(1000)), 6))),
        ("animation: bomb, default max_bytes", lambda: bufpng.read_animation(bomb)),
    ]
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    report = {"bomb bytes": len(bomb)}
    for name, action in scenarios:
        started = time.perf_counter()
        try:
            action()
            outcome = {"raised": None}
        except Exception as error:  # noqa: BLE001 - the type is what is reported
            outcome = {"raised": type(error).__name__, "message": str(error)}
        outcome["seconds"] = time.perf_counter() - started
        outcome["max_rss_mb"] = peak_rss_mb()
        report[name] = outcome
    print(json.dumps(report))


def batch(directory: Path) -> None:
    """Writes the same batch over and over until killed or interrupted."""
    frames = [frame(i) for i in range(FRAMES)]
    try:
        print("ready", flush=True)
        while True:
            # Two workers whatever the machine: the pool is what is killed.
            bufpng.write_frames(frames, directory=directory, threads=2)
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C: quietly, as a shell reports it


def animation(directory: Path) -> None:
    """Writes the same APNG over and over until killed or interrupted."""
    frames = [frame(i) for i in range(ANIMATION_FRAMES)]
    try:
        print("ready", flush=True)
        while True:
            bufpng.write_animation(directory / ANIMATION, frames, threads=2)
    except KeyboardInterrupt:
        sys.exit(130)


def check_animation(directory: Path, pid: int | None = None) -> dict[str, int]:
    """The APNG, if there, is complete with every frame; the rest are its temporaries."""

    def complete(path: Path) -> bool:
        if path.name != ANIMATION:
            return False
        frames = bufpng.read_animation(path)
        assert len(frames) == ANIMATION_FRAMES, f"{path} has {len(frames)} frames"
        for i, got in enumerate(frames):
            assert np.array_equal(np.asarray(got), frame(i)), f"{path}: frame {i} differs"
        return True

    return _check(directory, complete, ANIMATION_TEMP, pid)


def check_directory(directory: Path, pid: int | None = None) -> dict[str, int]:
    """Every final name holds a complete PNG of the right frame; the rest are bufpng temporaries."""
    import cv2

    def complete(path: Path) -> bool:
        final = FINAL.match(path.name)
        if not final:
            return False
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert image is not None, f"{path} is not a readable PNG"
        assert np.array_equal(image, frame(int(final.group(1)))), f"{path} has the wrong pixels"
        return True

    return _check(directory, complete, TEMP, pid)


def _check(directory: Path, complete: Callable[[Path], bool], temporary: re.Pattern[str], pid: int | None) -> dict[str, int]:
    """Counts the files `complete` checked and the temporaries (of `pid`, when given); anything else fails."""
    counts = {"complete": 0, "temporaries": 0}
    for path in sorted(directory.iterdir()):
        if complete(path):
            counts["complete"] += 1
            continue
        temp = temporary.match(path.name)
        assert temp, f"unexpected file {path.name}"
        assert pid is None or int(temp.group(1)) == pid, f"{path.name} is not from pid {pid}"
        counts["temporaries"] += 1
    return counts


def kill_loop(iterations: int, root: Path, seed: int | None = None, mode: str = "batch") -> dict[str, int]:
    """Starts a batch (or, mode "animation", an APNG) writer, kills it at a
    random moment, checks what it left; repeats."""
    check = check_animation if mode == "animation" else check_directory
    rng = random.Random(seed)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(bufpng.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    totals = {"kills": 0, "interrupts": 0, "complete": 0, "temporaries": 0, "slowest interrupt ms": 0}
    for n in range(iterations):
        directory = root / f"run{n}"
        directory.mkdir(parents=True)
        child = subprocess.Popen(
            [sys.executable, __file__, mode, str(directory)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.5))
        # Mostly SIGKILL (nothing runs after it); every fourth a Ctrl-C.
        interrupt = n % 4 == 3
        child.send_signal(signal.SIGINT if interrupt else signal.SIGKILL)
        sent = time.perf_counter()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            raise AssertionError("the batch writer did not stop within 30 s of the signal")
        child.stdout.close()
        counts = check(directory, child.pid)
        if interrupt:
            # write_frames checks for Ctrl-C between frames (every 50 ms at
            # most) and raises KeyboardInterrupt after joining its workers,
            # which finish the file each is writing (renamed complete, or
            # its temporary removed): no temporary is left behind.
            assert child.returncode == 130, f"the writer did not exit through KeyboardInterrupt: {child.returncode}"
            assert counts["temporaries"] == 0, counts
            totals["interrupts"] += 1
            latency_ms = round((time.perf_counter() - sent) * 1000)
            totals["slowest interrupt ms"] = max(totals["slowest interrupt ms"], latency_ms)
        else:
            totals["kills"] += 1
        totals["complete"] += counts["complete"]
        totals["temporaries"] += counts["temporaries"]
    return totals


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "fsize":
        fsize(Path(args[0]))
    elif command == "decode-limits":
        decode_limits()
    elif command == "batch":
        batch(Path(args[0]))
    elif command == "animation":
        animation(Path(args[0]))
    elif command == "kill-loop":
        mode = args[2] if len(args) > 2 else "batch"
        totals = kill_loop(int(args[0]), Path(args[1]), mode=mode)
        print(", ".join(f"{k}: {v}" for k, v in totals.items()))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
