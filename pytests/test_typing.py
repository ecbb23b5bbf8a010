"""The type stubs (python/bufpng/*.pyi) against the code and the examples.

- `mypy --strict` on examples/, the package's Python sources and
  pytests/typing/usage.py (every public name, used as documented);
- `python -m mypy.stubtest`: the stubs against the built native module
  (names, signatures, defaults, properties);
- usage.py is also run, so what type-checks also works.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bufpng

ROOT = Path(__file__).resolve().parents[1]
TYPING = ROOT / "pytests" / "typing"

pytest.importorskip("mypy", reason="mypy is in the test extra: pip install '.[test]'")


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Runs a mypy tool on the bufpng that the tests import (an installed
    package or python/ with a built extension), from a directory where the
    source tree cannot be picked up twice (its .mypy_cache goes there too)."""
    package_parent = Path(bufpng.__file__).resolve().parents[1]
    env = dict(os.environ)
    # An installed bufpng (make test) is found in site-packages, which mypy
    # refuses to see in MYPYPATH; a source-tree build is pointed at explicitly.
    if "site-packages" not in package_parent.parts:
        env.update(MYPYPATH=str(package_parent), PYTHONPATH=str(package_parent))
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )


def test_mypy_strict_on_examples_and_usage(tmp_path: Path) -> None:
    targets = [ROOT / "examples", TYPING / "usage.py"]
    # The package by name (-p), not by path: a path into site-packages would
    # make mypy treat all of site-packages as source.
    for what in ([*map(str, targets)], ["-p", "bufpng"]):
        result = run(["mypy", "--strict", *what], tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr


def test_stubtest(tmp_path: Path) -> None:
    allowlist = tmp_path / "allowlist.txt"
    lines = (TYPING / "stubtest_allowlist.txt").read_text()
    if sys.version_info < (3, 12):
        # The Py_bf_getbuffer slot appears as Frame.__buffer__ only from 3.12
        # (PEP 688). The stub declares it on every version because that is
        # how type checkers learn that a Frame is a Buffer.
        lines += "bufpng._bufpng.Frame.__buffer__\n"
    allowlist.write_text(lines)
    result = run(["mypy.stubtest", "bufpng", "--allowlist", str(allowlist)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubs_catch_a_wrong_call(tmp_path: Path) -> None:
    """The check above could pass vacuously if mypy never saw the stubs."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import bufpng\n"
        "bufpng.encode(b'', order='BGR')\n"
        "bufpng.describe(b'', 'simpel')\n"
        "x: str = bufpng.read('a.png').width\n"
    )
    result = run(["mypy", "--strict", str(bad)], tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("error:") == 3, result.stdout


def test_typed_usage_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(TYPING / "usage.py")],
        env=dict(os.environ, PYTHONPATH=str(Path(bufpng.__file__).resolve().parents[1])),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "typed usage ok" in result.stderr


def public_callables() -> list[tuple[str, object]]:
    names = [(n, getattr(bufpng, n)) for n in bufpng.__all__ if callable(getattr(bufpng, n))]
    methods = [(f"Frame.{n}", getattr(bufpng.Frame, n)) for n in ("encode", "write", "tobytes", "__reduce_ex__")]
    return names + methods


@pytest.mark.parametrize("name, function", public_callables(), ids=lambda x: x if isinstance(x, str) else "")
def test_native_signatures_are_visible(name: str, function: object) -> None:
    """help() and inspect.signature() show the real parameters: each native
    docstring starts with its signature line and `--` (ffi/lib.rs)."""
    import inspect

    signature = inspect.signature(function)  # type: ignore[arg-type]
    assert signature.parameters or name == "Frame.tobytes"
    doc = inspect.getdoc(function) or ""
    assert doc and not doc.startswith(name.split(".")[-1] + "("), "the signature line leaked into __doc__"
