"""Reliability, fast subset (issue 8): refcounts and buffer release on every
path, hostile exporters, 8-thread concurrency, fault injection and kills.

The long runs (`make leaks`, `make faults`, `make fuzz`, `make valgrind`)
use the same catalogue and checks from `reliability/`; see docs/reliability.md.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import bufpng

from conftest import ROOT, child_env, cv2_decode

sys.path.insert(0, str(ROOT / "reliability"))
import cases  # noqa: E402
import faults  # noqa: E402

# Calls per case; `make valgrind` lowers it (memcheck runs ~50x slower).
LOOPS = int(os.environ.get("BUFPNG_RELIABILITY_LOOPS", "300"))


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> list[cases.Case]:
    return cases.all_cases(tmp_path_factory.mktemp("cases"))


def _case_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        return [case.name for case in cases.all_cases(Path(scratch))]


def _by_name(catalogue: list[cases.Case], name: str) -> cases.Case:
    return next(case for case in catalogue if case.name == name)


def _refcount(obj: object) -> int | str:
    """sys.getrefcount, or "immortal" for an immortal object (PEP 683,
    Python 3.12+: None, small ints...), whose count means nothing: the
    interpreter skips it, while abi3 code built for 3.11 (bufpng, and any
    other such extension in the process) still counts it up and down
    inline, so it drifts with whatever else runs (seen on 3.13 in the full
    suite: None 2 lower after the loop, never in this test alone)."""
    count = sys.getrefcount(obj)
    return "immortal" if sys.version_info >= (3, 12) and count >= 2**30 else count


@pytest.mark.parametrize("name", _case_names())
def test_every_path_keeps_refcounts_and_python_memory(catalogue: list[cases.Case], name: str) -> None:
    """LOOPS calls: reference counts of the inputs unchanged, no Python object kept per call."""
    case = _by_name(catalogue, name)
    cases.run(case)  # warm up caches (interned strings, exception types)
    gc.collect()
    before = [_refcount(obj) for obj in case.inputs]
    limit = max(LOOPS * 16, 2048)
    growth = []
    tracemalloc.start()
    try:
        for _ in range(LOOPS):
            cases.run(case)
        # A leak grows in every window; a one-off growth (a cache or dict
        # resizing somewhere in the interpreter) does not: allow 3 windows.
        for _window in range(3):
            gc.collect()
            start, _ = tracemalloc.get_traced_memory()
            for _ in range(LOOPS):
                cases.run(case)
            gc.collect()
            end, _ = tracemalloc.get_traced_memory()
            growth.append(end - start)
            if growth[-1] < limit:
                break
    finally:
        tracemalloc.stop()
    assert [_refcount(obj) for obj in case.inputs] == before
    # One leaked bytes object or exception per call would be LOOPS * 40+ bytes.
    assert growth[-1] < limit, f"{name}: Python memory grew by {growth} bytes in successive windows of {LOOPS} calls"


def test_inputs_are_never_modified(catalogue: list[cases.Case]) -> None:
    digests = {}
    for case in catalogue:
        for obj in case.inputs:
            try:
                view = memoryview(obj)
            except (TypeError, BufferError):
                continue  # not an exporter (paths, lists, failing exporters)
            if view.nbytes < 1 << 20:  # broadcast views claim terabytes
                digests[id(obj)] = (obj, hashlib.sha256(view.tobytes()).digest())
    for case in catalogue:
        cases.run(case)
    for obj, digest in digests.values():
        assert hashlib.sha256(memoryview(obj).tobytes()).digest() == digest


def _assert_released(data: bytearray) -> None:
    # A bytearray cannot change size while any buffer export is held.
    data.append(0)
    del data[-1]


def test_buffers_are_released_on_success_and_every_error(tmp_path: Path) -> None:
    data = bytearray(range(48))
    png = bytearray(bufpng.encode(data, 4, 4))
    for call in (lambda: bufpng.decode(png), lambda: bufpng.decode(png, max_bytes=1)):
        try:
            call()
        except ValueError:
            pass
        _assert_released(png)
    view = np.zeros((4, 4, 3), np.uint8)
    calls = [
        lambda: bufpng.encode(data, 4, 4),
        lambda: bufpng.encode(data, 5, 4),  # wrong length
        lambda: bufpng.encode(data, 4, 4, order="nope"),
        lambda: bufpng.write(tmp_path / "missing" / "x.png", data, 4, 4),
        lambda: bufpng.write(tmp_path / "ok.png", data, 4, 4),
        lambda: bufpng.write_frames([data, data], 4, 4, directory=tmp_path),
        lambda: bufpng.write_frames([data, view, "bad"], 4, 4, directory=tmp_path),
        lambda: bufpng.write_frames([data, data], 4, 4, directory=tmp_path / "ok.png"),
        lambda: bufpng.write_frames(data, 4, 4, directory=tmp_path),
        lambda: bufpng.write_frames(iter([data, data]), 4, 4, directory=tmp_path, threads=2),
        lambda: bufpng.Frame(data, 4, 4),
        lambda: bufpng.Frame(data, 5, 4),
        lambda: bufpng.decode(data),  # not a PNG
        lambda: bufpng.describe(data),
        lambda: bufpng.describe(data, "bogus"),
    ]
    for call in calls:
        try:
            call()
        except (ValueError, TypeError, OSError):
            pass
        _assert_released(data)
        memoryview(data).release()


def test_hostile_valid_exporters_give_the_same_pixels() -> None:
    if cases._testbuffer is None:
        pytest.skip("this CPython has no _testbuffer")
    expected = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    for name, exporter in cases.hostile_valid().items():
        if "uint16" in name or "no strides" in name:
            continue
        source = expected[::-1] if "negative" in name else expected
        if "fortran" in name:
            source = np.asfortranarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3, order="F"))
        png = bufpng.encode(exporter, order="rgb")
        assert np.array_equal(cv2_decode(png)[..., ::-1], source), name


def test_broadcast_view_too_large_for_memory_is_memory_error() -> None:
    # Regression: this used to abort the interpreter ("memory allocation of
    # 4398046511104 bytes failed") instead of raising.
    huge = np.broadcast_to(np.uint8(1), (2**20, 2**20, 4))
    with pytest.raises(MemoryError, match="broadcast"):
        bufpng.encode(huge)


def test_exporters_that_die_after_the_call() -> None:
    # The only reference to each exporter is the argument.
    expected = bufpng.encode(bytes(range(48)), 4, 4)
    assert bufpng.encode(memoryview(bytearray(range(48))), 4, 4) == expected
    assert bufpng.encode(np.frombuffer(bytes(range(48)), np.uint8).reshape(4, 4, 3)) == expected
    mv = memoryview(bytearray(range(48)))
    sliced = mv[::1]
    del mv
    assert bufpng.encode(sliced, 4, 4) == expected
    gc.collect()


def test_frame_list_emptied_by_another_thread_during_a_batch(tmp_path: Path) -> None:
    """write_frames works on a snapshot: the caller's list may change or die meanwhile."""
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(60)]
    expected = [bufpng.encode(f) for f in frames]
    started = threading.Event()

    def vandal() -> None:
        started.wait()
        while frames:
            frames.pop()
            gc.collect()

    thread = threading.Thread(target=vandal)
    thread.start()
    started.set()
    paths = bufpng.write_frames(frames, directory=tmp_path)
    thread.join()
    assert [Path(p).read_bytes() for p in paths] == expected[: len(paths)]


def test_bytearray_resized_between_validation_and_copy(tmp_path: Path) -> None:
    """write_frames checks every frame first, then copies each one later with
    the GIL released in between: a frame resized meanwhile is checked again
    when it is copied, giving a clear error (never a read past its end)."""
    side = 1000
    big = bytearray(np.random.default_rng(4).integers(0, 256, side * side * 3, dtype=np.uint8))
    outcomes = []
    for attempt in range(5):
        data = bytearray(side * side * 3)

        def shrink() -> None:
            time.sleep(0.02 * (attempt + 1))
            del data[8:]

        thread = threading.Thread(target=shrink)
        thread.start()
        directory = tmp_path / f"a{attempt}"
        try:
            # threads=1: frame 0 is written before frame 1 is copied, so the
            # listing below is exact (with a pool a queued frame 0 may be dropped).
            bufpng.write_frames([big, data], side, side, directory=directory, compression=9, threads=1)
            outcomes.append("written")
        except ValueError as error:
            assert "frames[1]" in str(error), error
            # Refused before writing anything (the resize came first), or at copy time.
            outcomes.append("refused at copy" if directory.exists() else "refused at check")
        thread.join()
        if outcomes[-1] == "refused at copy":
            # frames[0] was complete before frames[1] was copied; nothing else.
            assert sorted(os.listdir(directory)) == ["frame_00000.png"]
            break
    assert "refused at copy" in outcomes, f"the resize never landed inside the batch: {outcomes}"


def test_eight_threads_match_serial_results(catalogue: list[cases.Case], tmp_path: Path) -> None:
    """8 threads run every case of the catalogue (encode, write, write_frames
    with and without a pool, decode/read, Frame, describe; shared inputs,
    shared output paths) plus writes, decodes, Frames and batches on
    distinct and shared inputs and paths: results equal the serial run."""
    serial = {c.name: _outcome(cases.run(c)) for c in catalogue}
    rng = np.random.default_rng(5)
    distinct = [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(8)]
    distinct_pngs = [bufpng.encode(image) for image in distinct]
    shared_frames = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(6)]
    shared_frame = bufpng.Frame(distinct[0])
    barrier = threading.Barrier(8)

    def worker(t: int) -> dict[str, object]:
        order = list(catalogue) * 3
        random.Random(t).shuffle(order)
        barrier.wait()
        results: dict[str, object] = {}
        for case in order:
            outcome = _outcome(cases.run(case))
            assert results.setdefault(case.name, outcome) == outcome
        bufpng.write(tmp_path / f"distinct{t}.png", distinct[t])
        bufpng.write(tmp_path / "shared.png", distinct[0])
        bufpng.write_frames(shared_frames, directory=tmp_path / f"batch{t}")
        bufpng.write_frames(shared_frames, directory=tmp_path / "shared-batch")
        bufpng.write_frames(shared_frames, directory=tmp_path / f"pool{t}", threads=2)
        bufpng.write_frames(iter(shared_frames), directory=tmp_path / "shared-pool", threads=2)
        results["decode distinct"] = np.asarray(bufpng.decode(distinct_pngs[t])).tobytes() == distinct[t].tobytes()
        results["decode shared"] = bufpng.decode(distinct_pngs[0]) == shared_frame
        results["Frame distinct"] = bufpng.Frame(distinct[t]).encode() == distinct_pngs[t]
        results["Frame shared"] = shared_frame.encode() == distinct_pngs[0] and bytes(memoryview(shared_frame)) == distinct[0].tobytes()
        return results

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    extra = {"decode distinct": True, "decode shared": True, "Frame distinct": True, "Frame shared": True}
    for per_thread in results:
        assert per_thread == {**serial, **extra}
    expected = [bufpng.encode(frame) for frame in shared_frames]
    for t in range(8):
        assert (tmp_path / f"distinct{t}.png").read_bytes() == bufpng.encode(distinct[t])
        for batch in (f"batch{t}", f"pool{t}", "shared-batch", "shared-pool"):
            files = [(tmp_path / batch / f"frame_{i:05d}.png").read_bytes() for i in range(6)]
            assert files == expected, batch
    assert (tmp_path / "shared.png").read_bytes() == bufpng.encode(distinct[0])
    for shared in ("shared-batch", "shared-pool"):
        assert sorted(os.listdir(tmp_path / shared)) == [f"frame_{i:05d}.png" for i in range(6)]


def _outcome(result: object) -> object:
    """A comparable form of a call's result: bytes, or exception type and message."""
    if isinstance(result, BaseException):
        return (type(result).__name__, str(result))
    return result


def test_write_failing_mid_file_leaves_no_partial_png(tmp_path: Path) -> None:
    """RLIMIT_FSIZE (SIGXFSZ ignored) makes the write fail after 64 KiB."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "reliability" / "faults.py"), "fsize", str(tmp_path)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["write"]["errno"] == 27  # EFBIG
    assert report["write"]["filename"] == str(tmp_path / "big.png")
    batch = report["write_frames"]
    assert batch["errno"] == 27
    assert batch["filename"] == str(tmp_path / "batch" / "frame_00002.png")
    assert "frames[2]" in batch["message"]
    # threads=1: the frames before the failure are complete; the failed one
    # left nothing, and nothing after it was started.
    batch_listing = [name for name in report["listing"] if name.startswith("batch")]
    assert batch_listing == ["batch", "batch/frame_00000.png", "batch/frame_00001.png"]
    # A pool may have finished frames after the failing one, or not reached
    # some before it (docs/batch.md, "Errors and Ctrl-C"), but every file
    # there is complete and no temporary file is left.
    assert report["write_frames_pool"]["errno"] == 27
    pool = [name for name in report["listing"] if name.startswith("pool/")]
    assert "pool/frame_00002.png" not in pool
    assert all(re.fullmatch(r"pool/frame_0000[013]\.png", name) for name in pool), pool
    for name in pool:
        assert bufpng.decode((tmp_path / name).read_bytes()).width == 8
    # Regression (issue 18): write_animation's I/O errors were ValueErrors
    # with errno and filename None.
    animation = report["write_animation"]
    assert animation["raised"] == "OSError" and animation["errno"] == 27
    assert animation["filename"] == str(tmp_path / "anim.png")
    assert not [name for name in report["listing"] if "anim" in name]


def test_directory_removed_during_a_batch(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    distinct = [rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(16)]
    # Long enough that the batch cannot finish before the remover thread
    # gets a turn on a loaded machine (the batch stops at the removal, so a
    # normal run writes only a few frames).
    frames = [distinct[i % 16] for i in range(3000)]
    directory = tmp_path / "out"
    removed = threading.Event()

    def remove() -> None:
        # Once the batch has written a few files, remove the directory and
        # keep at it until it is gone. An rmtree that fails half-way (a worker
        # added or renamed a file under it) leaves fewer files than the
        # trigger, so the trigger must not be asked again.
        triggered = False
        while not removed.is_set():
            try:
                if triggered or len(os.listdir(directory)) >= 3:
                    triggered = True
                    shutil.rmtree(directory)
            except OSError:
                pass  # not created yet, or the directory changed while removing: retry
            if triggered and not directory.exists():
                removed.set()
            time.sleep(0.001)

    thread = threading.Thread(target=remove)
    thread.start()
    try:
        with pytest.raises(FileNotFoundError) as raised:
            bufpng.write_frames(frames, directory=directory)
    finally:
        # The batch can fail while the remover is mid-way (a worker's temp
        # file vanished under it): let the removal finish before checking.
        removed.wait(timeout=10)
        removed.set()
        thread.join()
    name = Path(raised.value.filename).name
    assert Path(raised.value.filename).parent == directory
    assert faults.FINAL.match(name)
    assert f"frames[{int(name[6:11])}]" in str(raised.value)
    assert not directory.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as raised:
            bufpng.write(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8))
        assert raised.value.filename == str(tmp_path / "x.png")
        assert os.listdir(tmp_path) == []
    finally:
        tmp_path.chmod(0o755)


def test_killed_batches_leave_only_complete_pngs(tmp_path: Path) -> None:
    """A batch writer killed (SIGKILL, or SIGINT once) at random moments."""
    totals = faults.kill_loop(4, tmp_path, seed=8)
    assert totals["kills"] == 3 and totals["interrupts"] == 1
    assert totals["complete"] > 0


def test_killed_animation_writers_leave_a_complete_apng_or_none(tmp_path: Path) -> None:
    """write_animation killed (SIGKILL, or SIGINT once) at random moments:
    the file is there with every frame, or not at all."""
    totals = faults.kill_loop(4, tmp_path, seed=8, mode="animation")
    assert totals["kills"] == 3 and totals["interrupts"] == 1


def test_hostile_pngs_fail_cleanly_with_little_memory() -> None:
    """In a child limited to 1 GiB of address space (RLIMIT_AS): headers over
    max_bytes and files too small for the image they declare are ValueErrors
    before any large allocation; a real bomb within max_bytes but beyond the
    memory there is, is a MemoryError (it used to abort the process)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "reliability" / "faults.py"), "decode-limits"],
        capture_output=True,
        text=True,
        env=dict(child_env(), RUST_BACKTRACE="0"),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    for name, match in [
        ("forged header", "2147483647x2147483647 .*max_bytes=1073741824"),
        ("small file, huge image", "16300x16300 .*only 74 bytes.*forged or the file is truncated"),
        ("animation: small file, huge image", "16300x16300 .*only 74 bytes.*forged or the file is truncated"),
        ("bomb, max_bytes=100 MB", "32700x32700 .*max_bytes=100000000"),
    ]:
        assert report[name]["raised"] == "ValueError", (name, report[name])
        assert re.search(match, report[name]["message"]), (name, report[name]["message"])
        # Nothing of the declared size was touched (the child starts at ~50 MB).
        assert report[name]["max_rss_mb"] < 200, (name, report[name])
    for name in ("bomb, default max_bytes", "animation: bomb, default max_bytes"):
        assert report[name]["raised"] == "MemoryError", (name, report[name])
        assert "lower max_bytes" in report[name]["message"]
