"""The command line, end to end through subprocesses: `python -m bufpng ...`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import child_env, cv2_decode

RNG = np.random.default_rng(5)


def bufpng(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = child_env()
    result = subprocess.run(
        [sys.executable, "-m", "bufpng", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(), result.stderr.decode())


def decoded(directory: Path) -> list[np.ndarray]:
    return [cv2_decode(path.read_bytes()) for path in sorted(directory.glob("*.png"))]


def test_raw_bgr24_from_a_pipe(tmp_path: Path) -> None:
    clip = RNG.integers(0, 256, size=(6, 30, 40, 3), dtype=np.uint8)
    out = tmp_path / "frames"
    result = bufpng("raw", "--size", "40x30", "--pix-fmt", "bgr24", "-o", str(out), "-", stdin=clip.tobytes())
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == [f"frame_{n:05d}.png" for n in range(6)]
    assert all(np.array_equal(a, b) for a, b in zip(decoded(out), clip, strict=True))
    assert "6 frames" in result.stderr  # the progress line (stderr is not a terminal)


@pytest.mark.parametrize(
    ("pix_fmt", "dtype", "channels", "to_bgr"),
    [
        ("gray", np.uint8, 1, None),
        ("gray16be", ">u2", 1, None),
        ("gray16le", "<u2", 1, None),
        ("rgb24", np.uint8, 3, slice(None, None, -1)),
        ("rgba", np.uint8, 4, [2, 1, 0, 3]),
        ("bgra", np.uint8, 4, None),
        ("rgb48be", ">u2", 3, slice(None, None, -1)),
        ("rgb48le", "<u2", 3, slice(None, None, -1)),
    ],
)
def test_raw_pixel_formats_from_a_file(tmp_path: Path, pix_fmt: str, dtype: object, channels: int, to_bgr: object) -> None:
    clip = RNG.integers(0, 65536 if "16" in pix_fmt or "48" in pix_fmt else 256, size=(3, 10, 12, channels)).astype(dtype)
    source = tmp_path / "clip.raw"
    source.write_bytes(clip.tobytes())
    out = tmp_path / "out"
    result = bufpng("raw", str(source), "--size", "12x10", "--pix-fmt", pix_fmt, "-o", str(out), "--pattern", "f%d.png", "--start", "1")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ["f1.png", "f2.png", "f3.png"]
    for got, frame in zip(decoded(out), clip, strict=True):
        expected = frame[..., to_bgr] if to_bgr is not None else frame
        assert np.array_equal(got.reshape(expected.shape), expected.astype(got.dtype))


@pytest.mark.parametrize("from_pipe", [True, False])
def test_raw_partial_last_frame_says_how_much_is_missing(tmp_path: Path, from_pipe: bool) -> None:
    data = bytes(2 * 4 * 4 * 3 + 10)
    source = tmp_path / "clip.raw"
    source.write_bytes(data)
    args = ["raw", "--size", "4x4", "--pix-fmt", "rgb24", "-o", str(tmp_path / "out")]
    result = bufpng(*args, stdin=data) if from_pipe else bufpng(*args, str(source))
    assert result.returncode == 1
    assert "partial frame: 10 of 48 bytes, 38 bytes missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("error") == 1


def test_raw_empty_input_writes_nothing_and_says_so(tmp_path: Path) -> None:
    result = bufpng("raw", "--size", "4x4", "--pix-fmt", "gray", "-o", str(tmp_path / "out"), stdin=b"")
    assert result.returncode == 0
    assert "no frames: nothing written" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((4, 20, 16, 3), np.uint8), ((3, 9, 7), ">u2"), ((2, 8, 8, 4), "<u2"), ((2, 5, 6, 1), np.uint8)],
)
def test_npy_writes_every_frame(tmp_path: Path, shape: tuple[int, ...], dtype: object) -> None:
    array = RNG.integers(0, 60000 if dtype != np.uint8 else 256, size=shape).astype(dtype)
    np.save(tmp_path / "clip.npy", array)
    out = tmp_path / "out"
    result = bufpng("npy", str(tmp_path / "clip.npy"), "-o", str(out), "--threads", "2", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for got, frame in zip(decoded(out), array, strict=True):
        assert np.array_equal(got.reshape(frame.shape), frame.astype(got.dtype))


def test_npy_order_rgb(tmp_path: Path) -> None:
    array = RNG.integers(0, 256, size=(2, 6, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "rgb.npy", array)
    assert bufpng("npy", str(tmp_path / "rgb.npy"), "--order", "rgb", "-o", str(tmp_path / "o")).returncode == 0
    assert np.array_equal(decoded(tmp_path / "o")[1], array[1][..., ::-1])


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 4, 4), np.float32), "is not uint8 or uint16"),
        (np.asfortranarray(np.zeros((2, 4, 4), np.uint8)), "Fortran order"),
        (np.zeros((4, 4), np.uint8), "is not frames of"),
    ],
)
def test_npy_unusable_arrays_fail_with_one_line(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "bad.npy", array)
    result = bufpng("npy", str(tmp_path / "bad.npy"), "-o", str(tmp_path / "o"))
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_demo_writes_checks_and_reports(tmp_path: Path) -> None:
    result = bufpng("demo", "--frames", "6", "--size", "64x48", "-o", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert len(os.listdir(tmp_path / "demo")) == 6
    assert "wrote 6 files" in result.stdout and "pixels identical" in result.stdout and "MB" in result.stdout and "frames/s" in result.stdout
    assert "one thread:" in result.stdout and "the files are identical" in result.stdout
    # OpenCV is a test dependency, so the comparison with a cv2.imwrite loop is printed.
    assert "a cv2.imwrite loop (OpenCV" in result.stdout
    assert "6/6 frames (100%)" in result.stderr


def test_demo_frames_cost_what_photos_cost() -> None:
    """The demo's clip stands for camera frames: a test pattern that
    compresses to almost nothing would make threads look useless."""
    from bufpng import encode
    from bufpng.__main__ import photo_like_clip

    frames = list(photo_like_clip(1920, 1080, 8))
    assert len(frames) == 8 and all(len(f) == 1920 * 1080 * 3 for f in frames)
    assert len(set(frames)) == 6  # six distinct frames, repeated
    # A 1080p camera frame compresses to 0.3-0.6 of its size (kodim23 upscaled: 0.32).
    ratio = len(encode(frames[0], 1920, 1080)) / len(frames[0])
    assert 0.3 < ratio < 0.8, ratio


@pytest.mark.parametrize("command", [[], ["demo"], ["raw"], ["npy"]])
def test_help_on_every_command(command: list[str]) -> None:
    result = bufpng(*command, "--help")
    assert result.returncode == 0
    assert "usage: bufpng" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "required: COMMAND"),
        (["raw", "--pix-fmt", "bgr24"], "--size"),
        (["raw", "--size", "4x4", "--pix-fmt", "yuv420p"], "invalid choice: 'yuv420p'"),
        (["raw", "--size", "4by4", "--pix-fmt", "gray"], "size must look like 640x480"),
        (["raw", "--size", "4x4", "--pix-fmt", "gray", "--pattern", "f%s.png"], "exactly one integer placeholder"),
        (["raw", "--size", "4x4", "--pix-fmt", "gray", "--threads", "0"], "must be at least 1"),
        (["npy", "a.npy", "--compression", "11"], "compression must be 0-9"),
        (["demo", "--frames", "x"], "expected a whole number"),
        (["npy", "a.npy", "--text", "novalue"], "expected KEY=VALUE"),
        (["npy", "a.npy", "--text", " lead=x"], "no leading or trailing spaces"),
        (["npy", "a.npy", "--dpi", "-3"], "must be above 0"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = bufpng(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert os.listdir(tmp_path) == []


def test_failures_exit_1_with_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "taken").write_bytes(b"a file where the output directory should go")
    args = ["raw", "--size", "2x2", "--pix-fmt", "gray", "-o", str(tmp_path / "taken" / "out")]
    result = bufpng(*args, stdin=bytes(8))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("bufpng: error: NotADirectoryError")
    assert "Traceback" not in result.stderr
    debug = bufpng(*args, "--debug", stdin=bytes(8))
    assert debug.returncode == 1 and "Traceback" in debug.stderr

    missing = bufpng("npy", str(tmp_path / "missing.npy"))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [f"bufpng: error: FileNotFoundError: [Errno 2] No such file or directory: '{tmp_path / 'missing.npy'}'"]


def test_ctrl_c_exits_130_and_keeps_only_complete_files(tmp_path: Path) -> None:
    import signal
    import time

    env = child_env()
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "bufpng", "raw", "--size", "64x64", "--pix-fmt", "rgb24", "-o", str(out)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None and process.stderr is not None
    frame = RNG.integers(0, 256, size=64 * 64 * 3, dtype=np.uint8).tobytes()
    process.stdin.write(frame * 5)
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while len(list(out.glob("*.png"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # the input stays open: it is waiting for more
    assert process.wait(timeout=30) == 130
    assert "interrupted; files completed so far are kept" in process.stderr.read().decode()
    process.stdin.close()
    names = sorted(os.listdir(out))
    assert names == [f"frame_{n:05d}.png" for n in range(5)]
    for name in names:
        cv2_decode((out / name).read_bytes())


# --- --apng: one animation instead of a file per frame ----------------------


@pytest.mark.parametrize(("shape", "dtype"), [((5, 20, 16, 3), np.uint8), ((3, 9, 7), ">u2")])
def test_npy_apng_writes_one_animation(tmp_path: Path, shape: tuple[int, ...], dtype: object) -> None:
    import bufpng as api

    array = RNG.integers(0, 60000 if dtype != np.uint8 else 256, size=shape).astype(dtype)
    np.save(tmp_path / "clip.npy", array)
    result = bufpng("npy", str(tmp_path / "clip.npy"), "--apng", str(tmp_path / "clip.png"), "--fps", "10", "--loop", "2")
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / 'clip.png'}: {shape[0]} frames at 10 fps" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["clip.npy", "clip.png"]
    animation = api.read_animation(tmp_path / "clip.png")
    assert animation.durations == [0.1] * shape[0] and animation.loop == 2
    for got, frame in zip(animation, array, strict=True):
        assert np.array_equal(np.asarray(got), frame.astype(np.asarray(got).dtype))


def test_text_and_dpi_go_into_every_file_and_the_animation(tmp_path: Path) -> None:
    import bufpng as api

    np.save(tmp_path / "clip.npy", RNG.integers(0, 256, size=(2, 6, 8, 3), dtype=np.uint8))
    text = ["--text", "Source=clip.npy", "--text", "Title=映像 = video", "--dpi", "96"]
    result = bufpng("npy", str(tmp_path / "clip.npy"), "-o", str(tmp_path / "out"), "-q", *text)
    assert result.returncode == 0, result.stderr
    result = bufpng("npy", str(tmp_path / "clip.npy"), "--apng", str(tmp_path / "a.png"), "-q", *text)
    assert result.returncode == 0, result.stderr
    for path in [*sorted((tmp_path / "out").glob("*.png")), tmp_path / "a.png"]:
        info = api.read(path).info
        assert info["text"] == {"Source": "clip.npy", "Title": "映像 = video"}
        assert info["dpi"] == (3780 * 0.0254, 3780 * 0.0254)


def test_raw_apng_from_a_pipe(tmp_path: Path) -> None:
    import bufpng as api

    frames = RNG.integers(0, 256, size=(4, 6, 8, 3), dtype=np.uint8)
    result = bufpng("raw", "--size", "8x6", "--pix-fmt", "rgb24", "--apng", "out.png", "-q", stdin=frames.tobytes(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    animation = api.read_animation(tmp_path / "out.png", order="rgb")
    assert len(animation) == 4 and animation.durations == [0.04] * 4
    for got, frame in zip(animation, frames, strict=True):
        assert np.array_equal(np.asarray(got), frame)


def test_raw_apng_of_nothing_writes_nothing(tmp_path: Path) -> None:
    result = bufpng("raw", "--size", "4x4", "--pix-fmt", "gray", "--apng", "out.png", stdin=b"", cwd=tmp_path)
    assert result.returncode == 0
    assert "no frames: nothing written" in result.stderr
    assert os.listdir(tmp_path) == []


def test_apng_usage_and_failures(tmp_path: Path) -> None:
    result = bufpng("raw", "--size", "4x4", "--pix-fmt", "gray", "--apng", "a.png", "--fps", "0", cwd=tmp_path)
    assert result.returncode == 2 and "must be above 0" in result.stderr
    result = bufpng("raw", "--size", "2x2", "--pix-fmt", "gray", "--apng", str(tmp_path / "no" / "a.png"), stdin=bytes(8))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("bufpng: error: FileNotFoundError")
    assert os.listdir(tmp_path) == []


def test_ctrl_c_during_apng_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    import signal
    import time

    env = child_env()
    process = subprocess.Popen(
        [sys.executable, "-m", "bufpng", "raw", "--size", "64x64", "--pix-fmt", "rgb24", "--apng", "out.png"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write(RNG.integers(0, 256, size=64 * 64 * 3 * 5, dtype=np.uint8).tobytes())
    process.stdin.flush()
    deadline = time.monotonic() + 30
    # The temporary file appears with the first frame written.
    while not list(tmp_path.glob(".out.png.bufpng-*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # the input stays open: it is waiting for more
    assert process.wait(timeout=30) == 130
    assert "interrupted; out.png was not written" in process.stderr.read().decode()
    process.stdin.close()
    assert os.listdir(tmp_path) == []
