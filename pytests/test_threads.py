"""The GIL is released while encoding, so other Python threads keep running;
one large frame is coded on several native threads (threads=), with the same
bytes whatever the count."""

from __future__ import annotations

import io
import os
import threading

import numpy as np
import pytest

import bufpng
from conftest import cv2_decode, run_watched


def _big_frames(photo: np.ndarray) -> dict[str, np.ndarray]:
    """Frames over 1 MiB, so the default coder cuts them into strips: a
    photo-like one (bufpng's own coder), a screen-like one (zlib strips) and
    16-bit samples."""
    import cv2

    upscaled = cv2.resize(photo, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    screen = np.full((1080, 1920, 3), 255, np.uint8)
    glyphs = np.random.default_rng(3).integers(0, 2, (11, 7, 1), dtype=np.uint8) * 200
    for y in range(20, 1060, 16):
        for x in range(10, 1900, 9):
            screen[y : y + 11, x : x + 7] = 255 - glyphs
    return {"photo": upscaled, "screen": screen, "photo16": upscaled.astype(np.uint16) * 257}


@pytest.mark.parametrize("kind", ["photo", "screen", "photo16"])
def test_threads_never_change_the_bytes(photo: np.ndarray, kind: str) -> None:
    frame = _big_frames(photo)[kind]
    one = bufpng.encode(frame, threads=1)
    assert np.array_equal(cv2_decode(one), frame)
    for threads in (None, 2, 3, 16):
        assert bufpng.encode(frame, threads=threads) == one, f"threads={threads}"
    # Frame.encode and write_frames (one worker per frame) make the same file.
    assert bufpng.Frame(frame).encode(threads=2) == one


def _copy_and_strip_cases(photo: np.ndarray) -> dict[str, np.ndarray]:
    """Frames that take the paths threads change: the copy out of the
    caller's array on several threads (bands of rows, here split at odd
    rows: 1081 and 701 rows), straight and strided (a crop with gapped rows,
    a channel-reversed view), with every conversion (BGR and BGRA swaps,
    16-bit byte swaps); and the default's trial encodes running while the
    strips start with a guess, right (x257 16-bit: the pair coder; 16-bit
    resampled: Runs; bars: the screen coder), overruled (sharp 16-bit bands
    guessed Runs, which zlib wins) or followed by one thread alone (16-bit
    noise, too incompressible for a second thread)."""
    import cv2

    up = cv2.resize(photo, (1920, 1081), interpolation=cv2.INTER_CUBIC)
    bgra = np.dstack([up, up[..., :1]])
    cubic16 = cv2.resize(photo.astype(np.uint16) * 257, (1441, 701), interpolation=cv2.INTER_CUBIC)
    sharp16 = np.zeros((1081, 1000, 3), np.uint16)
    sharp16[:, :] = (np.arange(1000, dtype=np.uint16) // 50 * 3001)[None, :, None]
    bars = np.full((1081, 1920, 3), 250, np.uint8)
    bars[::4, ::5] = 10
    return {
        "bgr": up,
        "bgra": bgra,
        "photo16 x257": up.astype(np.uint16) * 257,
        "cubic16 odd rows": cubic16,
        "big-endian16": cubic16.astype(">u2"),
        "gray16": up[..., 1].astype(np.uint16) * 251,
        "sharp16": sharp16,
        "bars": bars,
        "noise16": np.random.default_rng(5).integers(0, 65536, (1081, 700, 3), dtype=np.uint16),
        "crop": bgra[1:, 7:1901, :3],
        "reversed channels": up[..., ::-1],
    }


@pytest.mark.parametrize(
    "kind",
    ["bgr", "bgra", "photo16 x257", "cubic16 odd rows", "big-endian16", "gray16", "sharp16", "bars", "noise16", "crop", "reversed channels"],
)
def test_parallel_copy_and_early_strips_never_change_the_bytes(photo: np.ndarray, kind: str, tmp_path, pngcheck) -> None:  # type: ignore[no-untyped-def]
    frame = _copy_and_strip_cases(photo)[kind]
    assert frame.nbytes > 2 << 20, "large enough for the copy's bands and several strips"
    one = bufpng.encode(frame, threads=1)
    expected = frame.astype(frame.dtype.newbyteorder("=")) if frame.dtype.byteorder == ">" else frame
    assert np.array_equal(cv2_decode(one), expected)
    for threads in (2, 3, 5):
        assert bufpng.encode(frame, threads=threads) == one, f"threads={threads}"
    # Every chunk's CRC and the zlib stream, as another reader checks them.
    path = tmp_path / "frame.png"
    bufpng.write(path, frame, threads=2)
    assert path.read_bytes() == one
    pngcheck(path)


def _threads_seen_during(call) -> int:  # type: ignore[no-untyped-def]
    """How many threads this process started while `call` ran (a watcher
    thread polls /proc/self/task while native code runs without the GIL).
    Thread ids, not counts: a thread of an earlier test that ends meanwhile
    (a pool winding down) must not cancel one that `call` started."""
    before = set(os.listdir("/proc/self/task"))
    started: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        own = str(threading.get_native_id())
        while not stop.is_set():
            started.update(set(os.listdir("/proc/self/task")) - before - {own})

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        call()
    finally:
        stop.set()
        watcher.join()
    return len(started)


def test_one_large_frame_uses_the_threads_it_is_given(photo: np.ndarray) -> None:
    import cv2

    # 4K: about 50 strips, long enough for the watcher to see the workers.
    frame = cv2.resize(photo, (3840, 2160), interpolation=cv2.INTER_CUBIC)
    assert _threads_seen_during(lambda: bufpng.encode(frame, threads=1)) == 0
    assert _threads_seen_during(lambda: bufpng.encode(frame, threads=3)) >= 1
    # Small frames are one strip: no thread however many are allowed.
    assert _threads_seen_during(lambda: bufpng.encode(frame[:200, :200], threads=8)) == 0


@pytest.mark.parametrize("bad", [0, -1, 1025])
def test_threads_out_of_range_is_a_value_error(bad: int) -> None:
    with pytest.raises(ValueError, match=r"threads must be 1-1024 \(1 = only the calling thread\) or None"):
        bufpng.encode(b"\0" * 12, width=2, height=2, threads=bad)
    with pytest.raises(ValueError, match="threads must be"):
        bufpng.Frame(np.zeros((2, 2, 3), np.uint8)).encode(threads=bad)


def test_threads_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="threads"):
        bufpng.encode(b"\0" * 12, width=2, height=2, threads="2")  # type: ignore[arg-type]


def test_other_threads_run_during_a_large_encode() -> None:
    image = np.random.default_rng(1).integers(0, 256, size=(1500, 1500, 3), dtype=np.uint8)
    # slow: hundreds of milliseconds
    _, duration, longest_stall = run_watched(lambda: bufpng.encode(image, compression=9))
    assert duration > 0.1, f"encode took only {duration:.3f} s: too short to tell"
    assert longest_stall < duration / 2, f"another thread stalled {longest_stall:.3f} s of a {duration:.3f} s encode"


def test_concurrent_encodes_match_serial_results() -> None:
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8) for _ in range(8)]
    expected = [bufpng.encode(im) for im in images]
    results: list[bytes | None] = [None] * len(images)

    def work(i: int) -> None:
        results[i] = bufpng.encode(images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


def test_writing_to_a_file_object_releases_the_gil_for_encoding_only() -> None:
    image = np.random.default_rng(1).integers(0, 256, size=(1500, 1500, 3), dtype=np.uint8)
    calls: list[int] = []

    class Recorder(io.BytesIO):
        def write(self, data: object) -> int:
            # Python code: called on the calling thread, with the GIL.
            calls.append(threading.get_ident())
            return super().write(data)  # type: ignore[arg-type]

    file = Recorder()
    _, duration, longest_stall = run_watched(lambda: bufpng.write(file, image, compression=9))
    assert duration > 0.1, f"encode took only {duration:.3f} s: too short to tell"
    assert longest_stall < duration / 2, f"another thread stalled {longest_stall:.3f} s of a {duration:.3f} s write"
    assert calls == [threading.get_ident()]
    assert file.getvalue() == bufpng.encode(image, compression=9)
