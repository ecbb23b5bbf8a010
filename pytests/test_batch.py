"""write_frames as a batch: threads, lazy iterables, progress, interruption, errors.

Throughput is measured in bench/batch_bench.py (`bench/run.py`), never asserted here.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import bufpng
from bufpng._progress import ProgressBar
from conftest import cv2_decode

RNG = np.random.default_rng(11)


def clip(count: int, shape: tuple[int, ...] = (36, 48, 3)) -> list[np.ndarray]:
    return [RNG.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(count)]


def assert_only_complete_pngs(directory: Path) -> list[str]:
    """Every entry is a PNG that decodes (no temporary or partial files); returns the names."""
    names = sorted(os.listdir(directory))
    for name in names:
        assert name.endswith(".png") and not name.startswith("."), f"stray file {name}"
        cv2_decode((directory / name).read_bytes())
    return names


def test_files_are_named_and_ordered_from_a_generator(tmp_path: Path) -> None:
    frames = clip(7)
    paths = bufpng.write_frames((f for f in frames), directory=tmp_path, pattern="shot-%03d.png", start=95, threads=3)
    assert paths == [str(tmp_path / f"shot-{n:03d}.png") for n in range(95, 102)]
    for path, frame in zip(paths, frames, strict=True):
        assert np.array_equal(cv2_decode(Path(path).read_bytes()), frame)


@pytest.mark.parametrize("threads", [2, 3, 8, None])
def test_output_is_byte_identical_whatever_threads_is(tmp_path: Path, threads: int | None) -> None:
    frames = clip(10) + clip(3, (20, 30)) + clip(3, (20, 30, 4))
    one = bufpng.write_frames(frames, directory=tmp_path / "one", threads=1, compression=6)
    many = bufpng.write_frames(frames, directory=tmp_path / "many", threads=threads, compression=6)
    assert [Path(p).name for p in one] == [Path(p).name for p in many]
    for a, b in zip(one, many, strict=True):
        assert Path(a).read_bytes() == Path(b).read_bytes()


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_a_generator_is_consumed_with_bounded_memory(tmp_path: Path, threads: int) -> None:
    produced = 0
    most_ahead = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal produced
        frame = clip(1)[0]
        for _ in range(60):
            produced += 1
            yield frame

    def progress(done: int, total: int | None) -> None:
        nonlocal most_ahead
        assert total is None
        most_ahead = max(most_ahead, produced - done)

    paths = bufpng.write_frames(frames(), directory=tmp_path, threads=threads, progress=progress)
    assert len(paths) == produced == 60
    # Frames taken from the generator but not yet written: at most two per
    # worker (one queued, one being encoded), so memory does not grow with
    # the length of the generator. One thread writes each frame as it takes it.
    assert most_ahead <= 2 * threads if threads > 1 else most_ahead == 0


def test_a_4d_array_is_written_frame_by_frame_with_a_known_total(tmp_path: Path) -> None:
    batch = RNG.integers(0, 256, size=(5, 16, 24, 3), dtype=np.uint8)
    calls: list[tuple[int, int | None]] = []
    paths = bufpng.write_frames(batch, directory=tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(n, 5) for n in range(6)]
    for path, frame in zip(paths, batch, strict=True):
        assert np.array_equal(cv2_decode(Path(path).read_bytes()), frame)


@pytest.mark.parametrize("threads", [1, 3])
def test_progress_protocol(tmp_path: Path, threads: int) -> None:
    calls: list[tuple[int, int | None]] = []
    callers: set[int] = set()

    def progress(done: int, total: int | None) -> None:
        calls.append((done, total))
        callers.add(threading.get_ident())

    bufpng.write_frames(clip(9), directory=tmp_path, threads=threads, progress=progress)
    # Once with 0 before any frame, then once per finished frame, on the calling thread.
    assert calls == [(n, 9) for n in range(10)]
    assert callers == {threading.get_ident()}


def test_progress_true_draws_a_bar_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bufpng.write_frames(clip(4), directory=tmp_path, progress=True)
    err = capsys.readouterr().err
    # Not a terminal: plain lines, the last one final.
    assert err.endswith("\n") and "\r" not in err
    assert "4/4 frames (100%)" in err.splitlines()[-1]
    assert "frames/s" in err


def test_progress_bar_on_a_terminal_redraws_one_line() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = ProgressBar(stream)
    for done in range(0, 101):
        bar(done, 100)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r[") and text.endswith("\n") and text.count("\n") == 1
    assert "100/100 frames (100%)" in text.rsplit("\r", 1)[-1]
    unknown = ProgressBar(Terminal())
    unknown(3, None)
    assert "3 frames" in unknown.line() and "ETA" not in unknown.line()


@pytest.mark.parametrize("threads", [1, 2])
def test_an_exception_from_the_callback_stops_the_batch(tmp_path: Path, threads: int) -> None:
    class Stop(Exception):
        pass

    def progress(done: int, total: int | None) -> None:
        if done == 3:
            raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        bufpng.write_frames((f for f in clip(50)), directory=tmp_path, threads=threads, progress=progress)
    names = assert_only_complete_pngs(tmp_path)
    assert 3 <= len(names) <= 3 + 2 * threads


@pytest.mark.parametrize("threads", [1, 2])
def test_keyboard_interrupt_from_the_callback_keeps_only_complete_files(tmp_path: Path, threads: int) -> None:
    def progress(done: int, total: int | None) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bufpng.write_frames(clip(40, (120, 160, 3)), directory=tmp_path, threads=threads, progress=progress)
    names = assert_only_complete_pngs(tmp_path)
    assert 5 <= len(names) < 40


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_mid_batch_stops_promptly(tmp_path: Path, threads: int) -> None:
    """Ctrl-C while only native code runs (a list, no callback): write_frames
    itself must notice Python's SIGINT flag."""
    import _thread

    frames = [RNG.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)] * 20_000
    interrupted_at = 0.0

    def interrupt() -> None:
        nonlocal interrupted_at
        time.sleep(0.5)
        interrupted_at = time.monotonic()
        _thread.interrupt_main()  # what the SIGINT handler does on Ctrl-C

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        bufpng.write_frames(frames, directory=tmp_path, threads=threads)
    assert interrupted_at and time.monotonic() - interrupted_at < 2.0
    # Whatever was written is complete (possibly nothing, on a very busy machine).
    assert len(assert_only_complete_pngs(tmp_path)) < 20_000


@pytest.mark.parametrize("threads", [1, 2])
def test_an_io_error_mid_batch_names_the_frame_and_the_file(tmp_path: Path, threads: int) -> None:
    (tmp_path / "frame_00004.png").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        bufpng.write_frames(clip(12), directory=tmp_path, threads=threads)
    assert info.value.filename == str(tmp_path / "frame_00004.png")
    assert "frames[4]" in str(info.value)
    # Nothing partial is left; frames finished before the error stay. Only
    # one thread fixes which ones finished: with two, the other worker may
    # be stopped mid-frame (its file is then removed, never left half-written).
    (tmp_path / "frame_00004.png").rmdir()
    written = set(assert_only_complete_pngs(tmp_path))
    if threads == 1:
        assert written == {f"frame_{n:05d}.png" for n in range(4)}
    else:
        assert "frame_00004.png" not in written


def test_a_bad_frame_from_a_generator_is_named(tmp_path: Path) -> None:
    frames = clip(6)
    frames[4] = frames[4].astype(np.float32)
    with pytest.raises(TypeError, match=r"frames\[4\]: unsupported buffer format"):
        bufpng.write_frames(iter(frames), directory=tmp_path, threads=2)
    assert set(assert_only_complete_pngs(tmp_path)) <= {f"frame_{n:05d}.png" for n in range(4)}


def test_an_exception_from_the_generator_propagates_unchanged(tmp_path: Path) -> None:
    def frames() -> Iterator[np.ndarray]:
        yield from clip(2)
        raise LookupError("camera unplugged")

    with pytest.raises(LookupError, match="^camera unplugged$"):
        bufpng.write_frames(frames(), directory=tmp_path, threads=2)
    # Frames still queued when the error came may be dropped, never half-written.
    assert set(assert_only_complete_pngs(tmp_path)) <= {"frame_00000.png", "frame_00001.png"}


def test_a_list_is_validated_before_any_file_even_with_threads(tmp_path: Path) -> None:
    frames = clip(20)
    frames[17] = "not a frame"  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"frames\[17\]"):
        bufpng.write_frames(frames, directory=tmp_path / "out", threads=4)
    assert not (tmp_path / "out").exists()


def test_an_existing_file_is_replaced_and_parents_are_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    target.mkdir(parents=True)
    (target / "frame_00000.png").write_bytes(b"old")
    (frame,) = clip(1)
    bufpng.write_frames((f for f in [frame]), directory=tmp_path / "a" / "b")
    assert (target / "frame_00000.png").read_bytes() == bufpng.encode(frame)
    bufpng.write_frames([frame], directory=tmp_path / "x" / "y" / "z")
    assert (tmp_path / "x" / "y" / "z" / "frame_00000.png").exists()


def test_an_empty_generator_writes_nothing(tmp_path: Path) -> None:
    assert bufpng.write_frames(iter([]), directory=tmp_path / "never", threads=2) == []
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"threads": 0}, ValueError, "threads must be 1-1024"),
        ({"threads": -2}, ValueError, "threads must be"),
        ({"threads": "2"}, TypeError, "threads must be an int"),
        ({"progress": "yes"}, TypeError, "progress must be None, True"),
        ({"pattern": "frame_%05d_%d.png"}, ValueError, "exactly one integer placeholder"),
        ({"pattern": "frame_%s.png"}, ValueError, "exactly one integer placeholder"),
    ],
)
def test_bad_options_fail_before_any_work(tmp_path: Path, kwargs: dict[str, object], error: type, match: str) -> None:
    taken = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal taken
        taken += 1
        yield clip(1)[0]

    with pytest.raises(error, match=match):
        bufpng.write_frames(frames(), directory=tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert taken == 0 and not (tmp_path / "out").exists()


def test_a_non_iterable_is_explained(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="takes an iterable of frames.*got int"):
        bufpng.write_frames(42, directory=tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize("threads", [1, 3])
def test_threads_1_starts_no_pool(tmp_path: Path, threads: int) -> None:
    before = len(os.listdir("/proc/self/task"))
    during: list[int] = []
    bufpng.write_frames(
        clip(6), directory=tmp_path, threads=threads, progress=lambda d, t: during.append(len(os.listdir("/proc/self/task")))
    )
    # One thread writes in the caller; N threads are N native workers, joined on return.
    assert max(during) - before == (0 if threads == 1 else threads)
    assert len(os.listdir("/proc/self/task")) == before


def test_decoded_frames_are_written_back_unchanged(tmp_path: Path) -> None:
    originals = clip(4)
    decoded = (bufpng.decode(bufpng.encode(f, order="rgb"), order="rgb") for f in originals)
    paths = bufpng.write_frames(decoded, directory=tmp_path, threads=2)
    for path, frame in zip(paths, originals, strict=True):
        assert Path(path).read_bytes() == bufpng.encode(frame, order="rgb")
