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

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PENDING: set[str] = set()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {"__name__": path.stem}, path.name, str(path), 0)
    monkeypatch.chdir(tmp_path)
    # Links in the docs are relative to the repository: let examples find it.
    monkeypatch.setenv("BUFPNG_ROOT", str(ROOT))
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


C_MODULE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

%(sketch)s

static PyObject *copy(PyObject *module, PyObject *obj)
{
    Py_ssize_t h, w, c;
    unsigned char *out = copy_image(obj, &h, &w, &c);
    if (out == NULL)
        return NULL;
    PyObject *result = Py_BuildValue("(y#nnn)", (const char *)out, h * w * c, h, w, c);
    PyMem_Free(out);
    return result;
}

static PyMethodDef methods[] = {{"copy", copy, METH_O, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "sketch", NULL, -1, methods};
PyMODINIT_FUNC PyInit_sketch(void) { return PyModule_Create(&module); }
"""


def test_the_c_consumer_sketch_works(tmp_path: Path) -> None:
    """buffer-protocol.md's C consumer, compiled and run: the sketch readers
    are told to start from must be correct."""
    import importlib.util
    import shutil
    import subprocess
    import sys
    import sysconfig

    np = pytest.importorskip("numpy")

    compiler = sysconfig.get_config_var("CC") or "cc"
    if shutil.which(compiler.split()[0]) is None:
        pytest.skip(f"no C compiler ({compiler})")
    text = (ROOT / "docs" / "buffer-protocol.md").read_text(encoding="utf-8")
    sketch = next(b for b in re.findall(r"```c\n(.*?)```", text, re.S) if "copy_image" in b)
    source = tmp_path / "sketch.c"
    source.write_text(C_MODULE % {"sketch": sketch})
    target = tmp_path / ("sketch" + sysconfig.get_config_var("EXT_SUFFIX"))
    build = subprocess.run(
        [*compiler.split(), "-shared", "-fPIC", "-O1", "-Wall", "-Werror",
         "-I", sysconfig.get_paths()["include"], str(source), "-o", str(target)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    spec = importlib.util.spec_from_file_location("sketch", target)
    assert spec and spec.loader
    sketch_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sketch_module)

    image = np.random.default_rng(7).integers(0, 256, (48, 64, 3), np.uint8)
    for array in (image, image[5:30, 7:50], image[::-1, ::2], np.asfortranarray(image),
                  image[..., 1], image[:, :, ::-1]):
        data, h, w, c = sketch_module.copy(array)
        assert data == np.ascontiguousarray(array).tobytes()
        assert (h, w, c) == (array.shape + (1,))[:3]
    data = bytearray(12)
    with pytest.raises(ValueError, match="expected shape"):
        sketch_module.copy(data)
    data.append(0)  # the failed call released its buffer: resizing works
    with pytest.raises(TypeError, match="uint8"):
        sketch_module.copy(np.zeros((2, 2), np.uint16))
    before = sys.getrefcount(image)
    for _ in range(100):
        sketch_module.copy(image)
    assert sys.getrefcount(image) == before  # each view.obj reference dropped
