"""bufpng in subinterpreters (PEP 684 / PEP 489 / PEP 630), on 3.12 and 3.13.

The one cp311-abi3 build declares per-interpreter-GIL support on 3.12+ and
keeps all its Python state in each interpreter's module object. These tests
run a newer CPython (pyenv's) in a subprocess, since the suite's own
interpreter is 3.11, which has no isolated subinterpreters.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import newer_python

VERSIONS = ["3.12", "3.13"]

# Creating, running in and destroying subinterpreters: the private modules
# differ between 3.12 and 3.13 (the public `interpreters` module is 3.14+).
PRELUDE = """
import sys, threading
try:
    import _interpreters as _i          # 3.13

    def create(isolated):
        return _i.create("isolated" if isolated else "legacy")

    def run(interp, code):
        failure = _i.run_string(interp, code)
        if failure is not None:
            raise RuntimeError(failure.formatted)
except ImportError:
    import _xxsubinterpreters as _i     # 3.12

    def create(isolated):
        return _i.create(isolated=isolated)

    def run(interp, code):
        _i.run_string(interp, code)

destroy = _i.destroy
import bufpng
PIXELS = bytes(range(48))  # 4x4 pixels of 3 channels
PNG = bufpng.encode(PIXELS, 4, 4)
USE = f'''
import bufpng
png = bufpng.encode({PIXELS!r}, 4, 4)
assert png == {PNG!r}, "a subinterpreter encodes other bytes"
frame = bufpng.decode(png)
assert type(frame) is bufpng.Frame and isinstance(frame, bufpng.Frame)
assert frame == bufpng.Frame({PIXELS!r}, 4, 4) and frame.tobytes() == {PIXELS!r}
'''
"""


def run_child(version: str, tmp_path: Path, body: str) -> str:
    python, env = newer_python(version, tmp_path)
    done = subprocess.run(
        [python, "-c", PRELUDE + textwrap.dedent(body)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("isolated", [True, False], ids=["isolated", "legacy"])
def test_subinterpreter_imports_and_uses_bufpng(version: str, isolated: bool, tmp_path: Path) -> None:
    run_child(
        version,
        tmp_path,
        f"""
        interp = create({isolated})
        run(interp, USE)
        destroy(interp)
        print("ok")
        """,
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_main_interpreter_keeps_its_own_frame_type(version: str, tmp_path: Path) -> None:
    # With the type in a process-wide static, each import overwrote it, so
    # after a legacy subinterpreter imported bufpng the main interpreter made
    # Frames of the other interpreter's type (and kept them after it died).
    out = run_child(
        version,
        tmp_path,
        """
        Frame = bufpng.Frame
        before = bufpng.decode(PNG)
        for isolated in (False, True, False):
            interp = create(isolated)
            run(interp, USE)
            destroy(interp)
        after = bufpng.decode(PNG)
        assert bufpng.Frame is Frame
        assert type(after) is bufpng.Frame, (type(after), bufpng.Frame)
        assert isinstance(after, bufpng.Frame)
        assert type(bufpng.Frame(PIXELS, 4, 4)) is bufpng.Frame
        assert after == before and bufpng.encode(after) == PNG
        import gc; gc.collect()
        print("same type")
        """,
    )
    assert out.strip() == "same type"


@pytest.mark.parametrize("version", VERSIONS)
def test_subinterpreters_encode_at_once(version: str, tmp_path: Path) -> None:
    # Isolated interpreters have a GIL each (PEP 684): four of them encode
    # and decode in parallel threads, each checking its own results.
    run_child(
        version,
        tmp_path,
        """
        interps = [create(True) for _ in range(4)]
        work = USE + "\\nfor _ in range(200): assert bufpng.decode(bufpng.encode(frame)) == frame"
        errors = []

        def go(interp):
            try:
                run(interp, work)
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=go, args=(i,)) for i in interps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for interp in interps:
            destroy(interp)
        assert not errors, errors
        assert type(bufpng.decode(PNG)) is bufpng.Frame
        """,
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_destroyed_subinterpreters_leave_no_leak(version: str, tmp_path: Path) -> None:
    # Each interpreter's module, Frame type and Frames are freed with it, and
    # the main interpreter keeps working. Each round leaves a 16 MiB Frame
    # in the subinterpreter's globals; CPython itself keeps about 2-3 MiB per
    # destroyed interpreter (measured with `import sys` alone), so growth
    # below 8 MiB a round means the Frame went.
    out = run_child(
        version,
        tmp_path,
        """
        import resource

        def rss_kib():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * resource.getpagesize() // 1024

        big = USE + (
            "\\nkeep = bufpng.Frame(bytes(1 << 24), 4096, 4096)"
            "\\nalso = [keep, bufpng.decode(png)]"
        )

        def rounds(n):
            for i in range(n):
                interp = create(i % 2 == 0)
                run(interp, big)
                destroy(interp)

        rounds(6)
        start = rss_kib()
        rounds(30)
        grown = rss_kib() - start
        assert type(bufpng.decode(PNG)) is bufpng.Frame
        assert bufpng.encode(bufpng.Frame(PIXELS, 4, 4)) == PNG
        print(grown // 30)
        """,
    )
    assert int(out) < 8 * 1024, f"RSS grew {out} KiB per subinterpreter"
