"""The benchmark harness's pure parts (bench/): the marked blocks it rewrites
in docs/benchmarks.md and README.md, README's speed block built from one
run's figures, and the choice of the "no larger file" anchor. No timing is
run or asserted here (`python bench/run.py --quick --no-write` is the smoke
test of the timed parts); these need only numpy, not the `bench` extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
import encode_bench  # noqa: E402
import run as bench_run  # noqa: E402


def test_splice_replaces_only_its_block(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# Title\n\nprose before\n\n<!-- bench:one:begin (old) -->\nold figures\n<!-- bench:one:end -->\n\n"
                   "prose after\n")
    common.splice(common.Section("one", "new figures"), doc)
    text = doc.read_text()
    assert "old figures" not in text and "new figures" in text
    assert text.startswith("# Title\n\nprose before\n\n") and text.endswith("\n\nprose after\n")
    # A second splice is idempotent: one block, same text.
    common.splice(common.Section("one", "new figures"), doc)
    assert doc.read_text() == text
    # An unknown key is appended at the end, the rest untouched.
    common.splice(common.Section("two", "more"), doc)
    assert doc.read_text().startswith(text.rstrip("\n")) and doc.read_text().count("<!-- bench:two:") == 2


def test_splice_refuses_a_block_without_its_end(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- bench:one:begin -->\nfigures, no end marker\n")
    with pytest.raises(SystemExit):
        common.splice(common.Section("one", "x"), doc)
    assert doc.read_text() == "<!-- bench:one:begin -->\nfigures, no end marker\n"


def test_every_generated_block_has_its_markers_once():
    """bench/run.py rewrites these blocks in place; a marker lost in an edit
    would move a block to the end of the file (or stop the run)."""
    readme = (ROOT / "README.md").read_text()
    assert readme.count("<!-- bench:speed:begin") == 1 and readme.count("<!-- bench:speed:end -->") == 1
    docs = (ROOT / "docs" / "benchmarks.md").read_text()
    for key in ("machine", "encode", "batch", "decode", "animation", "read_frames", "own_files"):
        assert docs.count(f"<!-- bench:{key}:begin") == 1, key
        assert docs.count(f"<!-- bench:{key}:end -->") == 1, key


def result(contender, group, cpu_ms, size, one_core=True, content="photo"):
    return encode_bench.Result(content, contender, group, cpu_ms, cpu_ms, 1.0, size, 5, one_core)


def test_the_no_larger_anchor_is_the_fastest_other_writer_of_a_file_no_larger():
    results = [
        result("bufpng default, 1 thread", "bufpng", 10, 1000),
        result("bufpng 9", "bufpng", 900, 900),  # bufpng's own levels are not anchors
        result("fpng", "fpng", 5, 1400),  # faster, but larger
        result("cv2 9", "cv2", 400, 990),
        result("oxipng 2 (default)", "oxipng", 300, 1000),  # equal size counts
        result("memcpy (np.copy)", "floor", 0.1, 10),  # floors are not anchors
        result("someone on 2 cores", "cv2", 1, 500, one_core=False),  # not a one-core figure
        result("Pillow default", "pillow", 50, 800, content="screenshot"),  # another class
    ]
    anchor = encode_bench.no_larger_anchor(results, "photo", 1000)
    assert anchor is not None and anchor.contender == "oxipng 2 (default)"
    assert encode_bench.no_larger_anchor(results, "photo", 100) is None


def test_readme_speed_block_quotes_one_runs_figures():
    encode = {
        "photo": {"wall_vs_cv2": 0.125, "cpu1_vs_cv2": 0.19, "size_vs_cv2": 0.84, "cpu1_vs_fpng": 1.4,
                  "size_vs_fpng": 0.72, "anchor": ("oxipng 2 (default)", 151.2)},
        "photo16": {"wall_vs_cv2": 0.18, "cpu1_vs_cv2": 0.32, "size_vs_cv2": 0.95, "cpu1_vs_fpng": None,
                    "size_vs_fpng": None, "anchor": ("imagecodecs png 1", 3.84)},
        "tiny": {"wall_vs_cv2": 0.7, "cpu1_vs_cv2": 0.69, "size_vs_cv2": 0.94, "cpu1_vs_fpng": 3.2,
                 "size_vs_fpng": 0.66, "anchor": None},
    }
    facts = {
        "encode": encode,
        "decode": {"read_vs_imread": (0.47, 0.7), "files": 10, "bufpng_fastest": 8},
        "batch": {"vs_cv2_loop": 8.81},
        "animation": {"others_vs_bufpng": {"Pillow save_all": 84.5, "cv2.imwriteanimation": 52.6}, "frames": 120},
        "read_frames": {"cpu_vs_cv2_pool": 1.8, "speed_vs_cv2_pool": 1.75},
    }
    text = bench_run.speed_block(facts, load=2.5, quick=False).markdown
    assert "| photo | 0.12x (0.19x) | 0.84x | 1.40x, 0.72x | oxipng 2 (default): 151x |" in text
    assert "| 16-bit photo | 0.18x (0.32x) | 0.95x | no 16-bit in fpng | imagecodecs png 1: 3.8x |" in text
    assert "| 32x32 (per call) |" in text and "none in this run" in text
    assert "0.47-0.70x the time of `cv2.imread`" in text and "on 8 of 10 files" in text
    assert "8.8x as fast" in text and "written 53-84x faster" in text and "load average 2.5" in text
    assert "smoke" not in text
    assert "--quick smoke run" in bench_run.speed_block(facts, load=2.5, quick=True).markdown


def test_a_missing_contender_is_skipped_with_its_reason(capsys):
    assert common.optional("no_such_png_codec_module") is None
    assert "skipping no_such_png_codec_module" in capsys.readouterr().err
