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
PENDING = {"benchmarks.md", "reliability.md", "animation.md"}


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
    if path.name == "README.md":
        pytest.skip("README.md is the lead's; its usage block is reviewed by hand")
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
