"""Every example in docs/*.md and README.md runs, so the docs cannot rot.

Runnable examples are doctests (`>>>` lines with their expected output),
each file in a fresh namespace, run in an empty temporary directory that is
the working directory for the file, so files the examples write are cleaned
up. Blocks that are not Python (shell commands, signatures) are plain
indented text or ```sh fences without `>>>`. Expected output must not depend
on machine speed. Options: ELLIPSIS (`...` matches anything) and
NORMALIZE_WHITESPACE (long dicts may wrap).
"""

from __future__ import annotations

import ctypes
import doctest
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PENDING: set[str] = set()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_examples_run(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    text = path.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {"__name__": path.stem}, path.name, str(path), 0)
    monkeypatch.chdir(tmp_path)
    # Links in the docs are relative to the repository: let examples find it.
    monkeypatch.setenv("BUFPNG_ROOT", str(ROOT))
    if path == TUTORIAL:
        # The tutorial's examples import the C module it shows.
        monkeypatch.syspath_prepend(str(request.getfixturevalue("bufdemo_dir")))
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_are_doctests(path: Path) -> None:
    """A ```python block without `>>>` would never run: make it a doctest."""
    fences = re.findall(r"```(?:python|py|pycon)\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    silent = [block for block in fences if ">>>" not in block]
    assert not silent, f"{path.name}: python blocks that would not run:\n" + "\n---\n".join(silent)


def test_every_link_into_the_tree_exists() -> None:
    """Relative links ([text](../ffi/buffer.rs)) must point at real files."""
    broken = []
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            # docs still on other branches: linked now, present after the merge
            if Path(target).name in PENDING:
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken, broken


TUTORIAL = ROOT / "docs" / "buffer-protocol.md"
MINIMAL = ROOT / "examples" / "minimal" / "src" / "lib.rs"


def bufdemo_source() -> str:
    """bufdemo.c exactly as the tutorial shows it: its ```c blocks headed
    "bufdemo.c, part N of M", concatenated in part order."""
    text = TUTORIAL.read_text(encoding="utf-8")
    parts = re.findall(r"```c\n(/\* bufdemo\.c, part (\d) of (\d).*?)```", text, re.S)
    numbers = sorted(int(n) for _, n, _ in parts)
    assert numbers and numbers == list(range(1, int(parts[0][2]) + 1)), numbers
    return "\n".join(block for block, _, _ in sorted(parts, key=lambda p: int(p[1])))


def c_build(python: str = sys.executable) -> tuple[list[str], str]:
    """The C compiler command (with -I for Python.h) and extension suffix for `python`."""
    compiler, include, suffix = subprocess.run(
        [python, "-c", "import sysconfig as s; print(s.get_config_var('CC') or 'cc');"
         "print(s.get_paths()['include']); print(s.get_config_var('EXT_SUFFIX'))"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert shutil.which(compiler.split()[0]), f"no C compiler ({compiler}): bufpng's Rust build needs one too"
    return [*compiler.split(), "-Wall", "-Werror", "-I", include], suffix


def compile_extension(source: str, name: str, directory: Path, python: str = sys.executable) -> Path:
    """Compiles one C file into an extension module for `python`; returns its path."""
    compiler, suffix = c_build(python)
    (directory / f"{name}.c").write_text(source, encoding="utf-8")
    target = directory / (name + suffix)
    build = subprocess.run([*compiler, "-shared", "-fPIC", "-O1", str(directory / f"{name}.c"), "-o", str(target)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return target


def test_the_py_buffer_shown_is_cpythons(tmp_path: Path) -> None:
    """Section 2's Py_buffer and PyObject_GetBuffer, compiled beside
    CPython's: the same prototype, fields in the same order at the same offsets."""
    text = TUTORIAL.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```c\n(.*?)```", text, re.S) if "} Py_buffer;" in b)
    fields = re.findall(r"^\s+[\w ]+?[\s*](\w+);", block, re.M)
    assert fields[:3] == ["buf", "obj", "len"] and fields[-1] == "internal", fields
    checks = "".join(
        f'_Static_assert(offsetof(Shown, {f}) == offsetof(Py_buffer, {f}), "{f}");\n' for f in fields
    )
    source = ("#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n#include <stddef.h>\n"
              + block.replace("} Py_buffer;", "} Shown;")
              + '_Static_assert(sizeof(Shown) == sizeof(Py_buffer), "size");\n' + checks)
    (tmp_path / "shown.c").write_text(source, encoding="utf-8")
    compiler, _ = c_build()
    build = subprocess.run([*compiler, "-fsyntax-only", str(tmp_path / "shown.c")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr


@pytest.fixture(scope="module")
def bufdemo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bufdemo")
    compile_extension(bufdemo_source(), "bufdemo", directory)
    return directory


def test_the_c_module_works(bufdemo_dir: Path) -> None:
    """buffer-protocol.md's C module, compiled from the page's text: the
    consumer copies every layout right, the exporter counts its exports, and
    no path leaks a view or a reference."""
    np = pytest.importorskip("numpy")
    spec = importlib.util.spec_from_file_location("bufdemo", next(bufdemo_dir.glob("bufdemo*.so")))
    assert spec and spec.loader
    bufdemo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bufdemo)

    image = np.random.default_rng(7).integers(0, 256, (48, 64, 3), np.uint8)
    for array in (image, image[5:30, 7:50], image[::-1, ::2], np.asfortranarray(image),
                  image[..., 1], image[:, :, ::-1]):
        data, h, w, c = bufdemo.copy(array)
        assert data == np.ascontiguousarray(array).tobytes()
        assert (h, w, c) == (array.shape + (1,))[:3]
    for prefix in ("", "@", "=", "<", ">", "!"):
        testbuffer = pytest.importorskip("_testbuffer")
        exported = testbuffer.ndarray(list(range(24)), shape=[2, 4, 3], format=prefix + "B")
        assert bufdemo.copy(exported)[0] == bytes(range(24))
    for wrong, item in (("b", 0), ("<H", 0), ("?", False), ("BB", (0, 0))):
        with pytest.raises(TypeError, match="uint8"):
            bufdemo.copy(testbuffer.ndarray([item] * 4, shape=[2, 2], format=wrong))
    # ctypes leaves strides NULL though they were requested: C order.
    pixels = (ctypes.c_ubyte * 3 * 4 * 2).from_buffer_copy(bytes(range(24)))
    assert bufdemo.copy(pixels) == (bytes(range(24)), 2, 4, 3)
    data = bytearray(12)
    with pytest.raises(ValueError, match="expected shape"):
        bufdemo.copy(data)
    data.append(0)  # the failed call released its buffer: resizing works
    with pytest.raises(TypeError, match="uint8"):
        bufdemo.copy(np.zeros((2, 2), np.uint16))
    before = sys.getrefcount(image)
    for _ in range(100):
        bufdemo.copy(image)
    assert sys.getrefcount(image) == before  # each view.obj reference dropped

    block = bufdemo.Block(4)
    views = [memoryview(block) for _ in range(3)]
    for view in views:
        with pytest.raises(BufferError, match="release the views first"):
            block.resize(8)
        view.release()
    block.resize(8)
    with memoryview(block) as view:
        view[7] = 255
    block.resize(16)
    assert bytes(block) == bytes(7) + b"\xff" + bytes(8)  # the grown part is zeroed
    with pytest.raises(ValueError, match=">= 0"):
        bufdemo.Block(-1)
    assert sys.getrefcount(block) == 2  # no view left holding a reference


def test_rust_blocks_are_the_minimal_example() -> None:
    """The tutorial's ```rust blocks are verbatim excerpts of
    examples/minimal/src/lib.rs, so the walk-through cannot drift from the
    code that make test builds."""
    blocks = re.findall(r"```rust\n(.*?)\n```", TUTORIAL.read_text(encoding="utf-8"), re.S)
    source = MINIMAL.read_text(encoding="utf-8")
    assert blocks
    missing = [block.splitlines()[0] for block in blocks if block not in source]
    assert not missing, f"not in {MINIMAL.name}: {missing}"


def pythons_312_and_later() -> list[str]:
    """Python 3.12+ interpreters on PATH or under pyenv (the venv is 3.11)."""
    found = {sys.executable} if sys.version_info >= (3, 12) else set()
    found.update(filter(None, (shutil.which(f"python3.{minor}") for minor in range(12, 20))))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found.update(str(p) for p in pyenv.glob("versions/3.*/bin/python3.1[2-9]"))
    # pyenv shims exist for versions that are not selected: keep what runs.
    return sorted(p for p in found if subprocess.run([p, "-c", ""], capture_output=True).returncode == 0)


@pytest.mark.parametrize("python", pythons_312_and_later() or [None])
def test_python312_blocks_print_what_the_page_shows(python: str | None, tmp_path: Path) -> None:
    """```python 3.12 blocks (PEP 688 needs 3.12+; this suite runs on 3.11)
    run under each Python 3.12+ found and print the ```text block after them."""
    if python is None:
        pytest.skip("no Python 3.12 or later on PATH or under pyenv")
    pairs = re.findall(r"```python 3\.12\n(.*?)```\n\n```text\n(.*?)```",
                       TUTORIAL.read_text(encoding="utf-8"), re.S)
    assert pairs
    for script, expected in pairs:
        (tmp_path / "example.py").write_text(script, encoding="utf-8")
        run = subprocess.run([python, "-I", "example.py"], cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout == expected


SUBINTERPRETER = """
import sys
try:
    import _interpreters as interpreters                    # 3.13+
    def create(isolated):
        return interpreters.create("isolated" if isolated else "legacy")
except ImportError:
    import _xxsubinterpreters as interpreters               # 3.12
    def create(isolated):
        return interpreters.create(isolated=isolated)
directory, module, isolated = sys.argv[1], sys.argv[2], sys.argv[3] == "isolated"
interp = create(isolated)
code = f'''
import sys
sys.path.insert(0, {directory!r})
import {module}
if {module!r} == "bufdemo":
    block = {module}.Block(12)
    with memoryview(block) as view:
        assert {module}.copy(view.cast("B", (2, 2, 3)))[1:] == (2, 2, 3)
'''
try:
    failure = interpreters.run_string(interp, code)        # 3.13: returns the error
except Exception as error:                                  # 3.12: raises it
    failure = error
interpreters.destroy(interp)
print("ok" if failure is None else getattr(failure, "formatted", failure))
"""


@pytest.mark.parametrize("python", pythons_312_and_later() or [None])
def test_subinterpreter_claims(python: str | None, tmp_path: Path) -> None:
    """The tutorial's threads section: bufdemo (Py_mod_multiple_interpreters,
    no C globals) works in a subinterpreter with its own GIL; the minimal
    example (multi-phase, without that slot) is refused there and works in
    one sharing the main GIL."""
    if python is None:
        pytest.skip("no Python 3.12 or later on PATH or under pyenv")
    compile_extension(bufdemo_source(), "bufdemo", tmp_path, python)
    (tmp_path / "run.py").write_text(SUBINTERPRETER, encoding="utf-8")

    def run(directory: str, module: str, config: str) -> str:
        done = subprocess.run([python, "-I", str(tmp_path / "run.py"), directory, module, config],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run(str(tmp_path), "bufdemo", "isolated") == "ok"
    minimal = importlib.util.find_spec("bufpng_minimal")
    assert minimal and minimal.origin, "make install-minimal"
    minimal_dir = str(Path(minimal.origin).parent)  # an abi3 module: loads on 3.12+ too
    assert "does not support loading in subinterpreters" in run(minimal_dir, "bufpng_minimal", "isolated")
    assert run(minimal_dir, "bufpng_minimal", "legacy") == "ok"
