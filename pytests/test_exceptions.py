"""Exceptions raised by the caller's code pass through bufpng unchanged.

An exception from an exporter, `__index__`, `__float__`, `__fspath__`, an
iterator or a progress callback propagates as the same object (type,
attributes, traceback, cause); bufpng adds context only as a note (PEP 678).
Only a TypeError from a conversion is replaced by bufpng's clearer
TypeError, chained to it. KeyboardInterrupt, SystemExit and MemoryError are
never replaced.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import newer_python

import bufpng

PIXELS = bytes(range(48))  # 4x4, 3 channels


class MyError(Exception):
    """Needs its arguments: rebuilding it from its class and text fails."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


class Raises:
    """An object whose conversion hooks raise a given exception."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __index__(self) -> int:
        raise self.error

    def __float__(self) -> float:
        raise self.error

    def __fspath__(self) -> str:
        raise self.error


def errors() -> list[BaseException]:
    return [MyError(7, "from user code"), KeyboardInterrupt(), SystemExit(3), MemoryError()]


CALLS = {
    "encode width (__index__)": lambda bad, tmp: bufpng.encode(PIXELS, bad, 4),
    "Frame height (__index__)": lambda bad, tmp: bufpng.Frame(PIXELS, 4, bad),
    "write path (__fspath__)": lambda bad, tmp: bufpng.write(bad, PIXELS, 4, 4),
    "write_frames directory (__fspath__)": lambda bad, tmp: bufpng.write_frames(
        [PIXELS], 4, 4, directory=bad
    ),
    "write_animation fps (__float__)": lambda bad, tmp: bufpng.write_animation(
        tmp / "a.png", [PIXELS], 4, 4, fps=bad
    ),
    "write_animation durations[0] (__float__)": lambda bad, tmp: bufpng.write_animation(
        tmp / "a.png", [PIXELS], 4, 4, durations=[bad]
    ),
    "decode max_bytes (__index__)": lambda bad, tmp: bufpng.decode(
        bufpng.encode(PIXELS, 4, 4), max_bytes=bad
    ),
    "encode threads (__index__)": lambda bad, tmp: bufpng.encode(PIXELS, 4, 4, threads=bad),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("error", errors(), ids=lambda e: type(e).__name__)
def test_conversion_hooks_raise_through(call: Any, error: BaseException, tmp_path: Path) -> None:
    with pytest.raises(type(error)) as caught:
        call(Raises(error), tmp_path)
    assert caught.value is error
    if isinstance(error, MyError):
        assert (caught.value.code, caught.value.detail) == (7, "from user code")
        assert caught.traceback[-1].name in ("__index__", "__float__", "__fspath__")


def test_keyboard_interrupt_in_index_is_not_a_type_error() -> None:
    # Was "TypeError: width must be an int".
    interrupt = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt) as caught:
        bufpng.encode(PIXELS, Raises(interrupt), 4)
    assert caught.value is interrupt


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: bufpng.encode(PIXELS, "4", 4), "width must be an int, got str"),
        (lambda: bufpng.write(3.5, PIXELS, 4, 4), "path must be a str, bytes or os.PathLike"),
        (lambda: bufpng.write_animation("x.png", [PIXELS], 4, 4, fps="fast"), "fps must be a number"),
        (lambda: bufpng.encode("pixels"), "expected an image buffer"),
        (lambda: bufpng.write_frames(5), "takes an iterable of frames"),
    ],
)
def test_type_errors_are_replaced_and_chained(call: Any, needle: str) -> None:
    with pytest.raises(TypeError, match=needle) as caught:
        call()
    cause = caught.value.__cause__
    assert isinstance(cause, TypeError) and cause is not caught.value
    assert caught.value.__suppress_context__


def test_overflow_names_the_argument_and_keeps_cpythons_error() -> None:
    with pytest.raises(OverflowError, match="width is far too large") as caught:
        bufpng.encode(PIXELS, 1 << 80, 4)
    assert isinstance(caught.value.__cause__, OverflowError)


def failing_frames(error: BaseException, good: int) -> Iterator[bytes]:
    for _ in range(good):
        yield PIXELS
    raise error


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("error", errors(), ids=lambda e: type(e).__name__)
def test_iterator_errors_raise_through_write_frames(
    error: BaseException, threads: int, tmp_path: Path
) -> None:
    with pytest.raises(type(error)) as caught:
        bufpng.write_frames(failing_frames(error, 5), 4, 4, directory=tmp_path, threads=threads)
    assert caught.value is error
    assert caught.traceback[-1].name == "failing_frames"
    # Completed frames stay (with 2 threads, queued ones are dropped, not
    # necessarily the last); none is half-written.
    left = sorted(os.listdir(tmp_path))
    assert set(left) <= {f"frame_{i:05d}.png" for i in range(5)}
    assert all(bufpng.read(tmp_path / name).tobytes() == PIXELS for name in left)


@pytest.mark.parametrize("error", errors(), ids=lambda e: type(e).__name__)
def test_progress_callback_errors_raise_through(error: BaseException, tmp_path: Path) -> None:
    def progress(done: int, total: int | None) -> None:
        if done == 2:
            raise error

    with pytest.raises(type(error)) as caught:
        bufpng.write_frames([PIXELS] * 4, 4, 4, directory=tmp_path, threads=2, progress=progress)
    assert caught.value is error


@pytest.mark.parametrize("threads", [1, 2])
def test_a_frames_own_error_gets_a_note_not_a_new_message(threads: int, tmp_path: Path) -> None:
    # _testbuffer's ND_GETBUF_FAIL exporter raises BufferError from C: the
    # same exception, with which frame in a note.
    from _testbuffer import ND_GETBUF_FAIL, ndarray

    bad = ndarray(list(PIXELS), shape=[4, 4, 3], flags=ND_GETBUF_FAIL)
    for frames in ([PIXELS, PIXELS, bad], iter([PIXELS, PIXELS, bad])):
        with pytest.raises(BufferError) as caught:
            bufpng.write_frames(frames, 4, 4, directory=tmp_path, threads=threads)
        assert not str(caught.value).startswith("frames[")
        assert caught.value.__notes__ == ["bufpng: raised for frames[2]"]


# Python-level exporters (__buffer__, PEP 688) need 3.12+; the suite's own
# interpreter is 3.11, so these run on pyenv's 3.12 and 3.13.
EXPORTER = """
import os, sys, tempfile, traceback
import bufpng

PIXELS = bytes(range(48))

class MyError(Exception):
    def __init__(self, code, detail):
        super().__init__(code, detail)
        self.code, self.detail = code, detail

class Exporter:
    def __init__(self, error):
        self.error = error
    def __buffer__(self, flags):
        raise self.error
    def __release_buffer__(self, view):
        pass

def check(call, error):
    try:
        call()
    except BaseException as caught:
        assert caught is error, (caught, error)
        assert traceback.extract_tb(caught.__traceback__)[-1].name == "__buffer__"
        return caught
    raise AssertionError("nothing raised")

root = tempfile.mkdtemp()
cause = ValueError("the root cause")
for make in (lambda: MyError(42, "exporter says no"), KeyboardInterrupt, SystemExit, MemoryError):
    for threads in (1, 2):
        error = make()
        error.__cause__ = cause
        frames = [PIXELS, PIXELS, Exporter(error), PIXELS]
        caught = check(lambda: bufpng.write_frames(frames, 4, 4, directory=root, threads=threads), error)
        assert caught.__cause__ is cause
        if isinstance(error, MyError):
            assert (caught.code, caught.detail) == (42, "exporter says no")
            assert caught.__notes__ == ["bufpng: raised for frames[2]"], caught.__notes__
        lazy = iter(frames)
        check(lambda: bufpng.write_frames(lazy, 4, 4, directory=root, threads=threads), error)
    error = make()
    check(lambda: bufpng.encode(Exporter(error), 4, 4), error)
    check(lambda: bufpng.Frame(Exporter(error), 4, 4), error)
    check(lambda: bufpng.decode(Exporter(error)), error)
    check(lambda: bufpng.write_animation(os.path.join(root, "a.png"), [PIXELS, Exporter(error)], 4, 4, threads=2), error)
print("ok")
"""


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_exporter_errors_raise_through(version: str, tmp_path: Path) -> None:
    python, env = newer_python(version, tmp_path)
    done = subprocess.run(
        [python, "-c", textwrap.dedent(EXPORTER)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


class LookupRaises:
    """An object whose attribute lookups (`__getattr__`) raise: what bufpng's
    hasattr-style checks run when they look for `__fspath__` or numpy's
    array interface."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        raise self.error


LOOKUPS = {
    "encode: array-interface hint": lambda bad: bufpng.encode(bad, 4, 4),
    "read: is it a path?": lambda bad: bufpng.read(bad),
    "read_animation: is it a path?": lambda bad: bufpng.read_animation(bad),
}


@pytest.mark.parametrize("call", LOOKUPS.values(), ids=LOOKUPS.keys())
@pytest.mark.parametrize("error", errors(), ids=lambda e: type(e).__name__)
def test_attribute_lookups_pass_exceptions_through(call: Any, error: BaseException) -> None:
    with pytest.raises(BaseException) as raised:
        call(LookupRaises(error))
    assert raised.value is error


@pytest.mark.parametrize("call", LOOKUPS.values(), ids=LOOKUPS.keys())
def test_attribute_lookups_treat_attribute_error_as_absent(call: Any) -> None:
    with pytest.raises(TypeError):
        call(LookupRaises(AttributeError("no such attribute")))
