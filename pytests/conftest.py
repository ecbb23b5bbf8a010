"""Shared fixtures and helpers for the bufpng test suite.

numpy, OpenCV, Pillow and pngcheck are test-only dependencies.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

T = TypeVar("T")

# The Ctrl-C tests need Python's SIGINT handler, in this process and in the
# children it starts. A shell that runs the suite as a background job without
# job control (`make test &` in a script, `nohup make test &`) starts it with
# SIGINT ignored, and Python then installs no handler: put it back.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
# Real PNG files nobody on this project wrote (sources and licences: data/README.md).
TESTDATA = Path(__file__).resolve().parent / "data"
PNGSUITE = TESTDATA / "pngsuite"
PHOTOS = TESTDATA / "photos"
CORRUPT = TESTDATA / "corrupt"


def child_env() -> dict[str, str]:
    """The environment for a Python subprocess that must import the same
    bufpng as the tests: the installed package (make test) or a source-tree
    build (PYTHONPATH=python), whichever this process imported."""
    import bufpng

    where = str(Path(bufpng.__file__).resolve().parents[1])
    return dict(os.environ, PYTHONPATH=os.pathsep.join([where, os.environ.get("PYTHONPATH", "")]))


def newer_python(version: str, scratch: Path) -> tuple[str, dict[str, str]]:
    """A CPython `version` ("3.12", "3.13") and an environment in which it
    imports the bufpng under test: the cp311-abi3 extension loads on any
    later CPython, so the package directory is copied beside nothing else
    (not the 3.11 site-packages, whose numpy would not load). Skips the test,
    saying why, when that interpreter is not installed."""
    import bufpng

    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    on_path = shutil.which(f"python{version}")
    if on_path and "shims" in Path(on_path).parts:
        on_path = None  # a pyenv shim fails unless that version is selected
    found = next(
        (str(p) for p in sorted(pyenv.glob(f"versions/{version}.*/bin/python{version}"))), on_path
    )
    if found is None:
        pytest.skip(f"Python {version} is not installed (looked in {pyenv}/versions and on PATH)")
    site = scratch / f"site-{version}"
    shutil.copytree(
        Path(bufpng.__file__).parent, site / "bufpng", ignore=shutil.ignore_patterns("__pycache__")
    )
    return found, dict(os.environ, PYTHONPATH=str(site))


def run_watched(call: Callable[[], T]) -> tuple[T, float, float]:
    """Runs `call` while another Python thread watches for stalls.

    Returns (result, duration, longest stall of the watcher). If `call` held
    the GIL, the watcher could not run at all and its longest stall would be
    about the whole duration; released, it stays far below.
    """
    longest_stall = 0.0
    stop = threading.Event()

    def watch() -> None:
        nonlocal longest_stall
        last = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            longest_stall = max(longest_stall, now - last)
            last = now

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        time.sleep(0.05)
        started = time.perf_counter()
        result = call()
        duration = time.perf_counter() - started
    finally:
        stop.set()
        watcher.join()
    return result, duration, longest_stall


def cv2_decode(png: bytes) -> np.ndarray:
    """Decodes PNG bytes with OpenCV, exactly as stored (no conversion)."""
    import cv2

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, "OpenCV could not decode the PNG"
    return image


def pil_decode(png: bytes) -> np.ndarray:
    """Decodes PNG bytes with Pillow, in RGB(A) order."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image)


def run_pngcheck(path: Path) -> None:
    """Fails the test unless pngcheck accepts the file.

    pngcheck 3.0.3 stops at any public chunk it does not know, and the PNG
    Restart Marker proposal's `mARK` (which bufpng writes for frames over
    1 MiB) is not registered yet: for such a file the mARK chunk must be
    pngcheck's only complaint, and the file without it must pass (every
    other chunk, the zlib stream, the filter types)."""
    result = subprocess.run(["pngcheck", "-q", str(path)], capture_output=True, text=True)
    if result.returncode != 0 and "chunk mARK" in result.stdout:
        complaints = [line for line in result.stdout.splitlines() if "ERROR" not in line]
        assert len(complaints) == 1 and "unknown, public chunk" in complaints[0], result.stdout
        stripped = path.with_name(path.stem + ".without-mARK.png")
        stripped.write_bytes(without_chunk(path.read_bytes(), b"mARK"))
        return run_pngcheck(stripped)
    assert result.returncode == 0, f"pngcheck rejected {path}: {result.stdout}{result.stderr}"


def without_chunk(png: bytes, kind: bytes) -> bytes:
    """`png` without its chunks of type `kind`."""
    out, at = bytearray(png[:8]), 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        if png[at + 4 : at + 8] != kind:
            out += png[at : at + length + 12]
        at += length + 12
    return bytes(out)


@pytest.fixture(scope="session")
def pngcheck() -> object:
    """pngcheck as a callable; skips where the tool is missing (`make test`
    installs it only where it can: as root with apt-get)."""
    if shutil.which("pngcheck") is None:
        pytest.skip("pngcheck is not installed: `apt-get install pngcheck` (Debian/Ubuntu) or `brew install pngcheck` (macOS)")
    return run_pngcheck


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real 768x512 BGR photo (Kodak kodim23) from pytests/data."""
    import cv2

    return cv2.imread(str(PHOTOS / "kodim23.png"), cv2.IMREAD_UNCHANGED)
