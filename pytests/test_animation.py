"""write_animation and read_animation: APNG out, APNG in, and other readers agreeing."""

from __future__ import annotations

import array
import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import bufpng
from conftest import CORRUPT, PNGSUITE

RNG = np.random.default_rng(9)


def clip(count: int, shape: tuple[int, ...] = (24, 32, 3), dtype: object = np.uint8) -> list[np.ndarray]:
    """Frames with motion: a noise image shifted one column per frame."""
    high = 65536 if dtype == np.uint16 else 256
    base = RNG.integers(0, high, size=shape, dtype=dtype)
    return [np.roll(base, i, axis=1) for i in range(count)]


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, checking each CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        out.append((kind, body))
        at += 12 + length
    return out


def structure(path: Path) -> dict[str, object]:
    """What an APNG's chunks say, with the checks the spec asks for."""
    found = chunks(path.read_bytes())
    kinds = [kind for kind, _ in found]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert kinds.index(b"acTL") < kinds.index(b"IDAT")
    # Frame 0 is the default image: its fcTL comes before the IDAT.
    assert kinds.index(b"fcTL") < kinds.index(b"IDAT")
    num_frames, plays = struct.unpack(">II", dict(found)[b"acTL"])
    sequence = [struct.unpack(">I", body[:4])[0] for kind, body in found if kind in (b"fcTL", b"fdAT")]
    assert sequence == list(range(len(sequence))), "fcTL/fdAT sequence numbers must count from 0"
    controls = [struct.unpack(">IIIIIHHBB", body) for kind, body in found if kind == b"fcTL"]
    width, height = struct.unpack(">II", found[0][1][:8])
    for control in controls:
        assert control[1:5] == (width, height, 0, 0)  # full frames
        assert control[7:] == (0, 0)  # dispose NONE, blend SOURCE
    assert num_frames == len(controls)
    return {"frames": num_frames, "loop": plays, "delays": [(c[5], c[6]) for c in controls]}


def same(frames: list[bufpng.Frame] | bufpng.Animation, expected: list[np.ndarray]) -> None:
    assert len(frames) == len(expected)
    for i, (got, want) in enumerate(zip(frames, expected)):
        got = np.asarray(got)
        assert got.shape == want.shape and got.dtype == want.dtype, i
        assert np.array_equal(got, want), f"frame {i} differs"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((24, 32, 3), np.uint8),
        ((24, 32, 4), np.uint8),
        ((24, 32), np.uint8),
        ((24, 32, 1), np.uint8),
        ((24, 32, 3), np.uint16),
        ((24, 32, 4), np.uint16),
        ((24, 32), np.uint16),
    ],
)
def test_numpy_frames_round_trip_exactly(tmp_path: Path, pngcheck: object, shape: tuple[int, ...], dtype: object) -> None:
    frames = clip(6, shape, dtype)
    path = tmp_path / "a.png"
    bufpng.write_animation(path, frames)
    pngcheck(path)  # type: ignore[operator]
    assert structure(path)["frames"] == 6
    expected = [f.reshape(f.shape[:2]) if f.ndim == 3 and f.shape[2] == 1 else f for f in frames]
    same(bufpng.read_animation(path), expected)


def test_gray_alpha_reads_back_as_opencv_does(tmp_path: Path) -> None:
    frames = clip(3, (8, 8, 2))
    bufpng.write_animation(tmp_path / "a.png", frames)
    back = bufpng.read_animation(tmp_path / "a.png")
    # Like decode(): gray + alpha comes back as gray, gray, gray, alpha.
    same(back, [np.dstack([f[..., 0]] * 3 + [f[..., 1]]) for f in frames])


def test_every_input_kind(tmp_path: Path) -> None:
    rgb = clip(1, (6, 8, 3))[0]
    wide = np.zeros((12, 16, 3), np.uint8)
    wide[::2, ::2] = rgb
    sixteen = clip(1, (6, 8, 3), np.uint16)[0]
    inputs = [
        rgb,
        rgb.tobytes(),
        bytearray(rgb.tobytes()),
        memoryview(rgb.tobytes()),
        array.array("B", rgb.tobytes()),
        wide[::2, ::2],  # strided view
        rgb[::-1][::-1],  # negative strides twice: same pixels
        np.asfortranarray(rgb),
        bufpng.Frame(rgb),
    ]
    bufpng.write_animation(tmp_path / "a.png", inputs, 8, 6)
    same(bufpng.read_animation(tmp_path / "a.png"), [rgb] * len(inputs))
    # 16-bit from a flat array.array of native-endian samples.
    bufpng.write_animation(tmp_path / "b.png", [array.array("H", sixteen.tobytes())] * 2, 8, 6)
    same(bufpng.read_animation(tmp_path / "b.png"), [sixteen] * 2)


def test_order_rgb_and_frame_order(tmp_path: Path) -> None:
    frames = clip(3)
    bufpng.write_animation(tmp_path / "a.png", frames, order="rgb")
    same(bufpng.read_animation(tmp_path / "a.png", order="rgb"), frames)
    same(bufpng.read_animation(tmp_path / "a.png"), [f[..., ::-1] for f in frames])
    # A Frame keeps its own order.
    rgb_frames = [bufpng.Frame(f, order="rgb") for f in frames]
    bufpng.write_animation(tmp_path / "b.png", rgb_frames)
    assert (tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes()


@pytest.mark.parametrize("kind", ["list", "tuple", "generator", "4d"])
def test_containers_give_the_same_file(tmp_path: Path, kind: str) -> None:
    frames = clip(9)
    reference = tmp_path / "reference.png"
    bufpng.write_animation(reference, frames, threads=1)
    given: object = {
        "list": frames,
        "tuple": tuple(frames),
        "generator": (f for f in frames),
        "4d": np.stack(frames),
    }[kind]
    bufpng.write_animation(tmp_path / "a.png", given, threads=3)  # type: ignore[arg-type]
    assert (tmp_path / "a.png").read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("threads", [None, 1, 2, 5])
def test_file_is_byte_identical_whatever_threads_is(tmp_path: Path, threads: int | None) -> None:
    frames = clip(23, (40, 50, 3))
    bufpng.write_animation(tmp_path / "one.png", frames, threads=1)
    bufpng.write_animation(tmp_path / "n.png", frames, threads=threads)
    assert (tmp_path / "n.png").read_bytes() == (tmp_path / "one.png").read_bytes()


def test_a_generator_is_consumed_with_bounded_memory(tmp_path: Path) -> None:
    alive = 0
    peak = 0

    class Tracked(np.ndarray):
        def __del__(self) -> None:
            nonlocal alive
            alive -= 1

    def frames() -> Iterator[np.ndarray]:
        nonlocal alive, peak
        for frame in clip(60, (32, 32, 3)):
            alive += 1
            peak = max(peak, alive)
            yield frame.view(Tracked)

    bufpng.write_animation(tmp_path / "a.png", frames(), threads=2)
    # The driver holds one frame object at a time; copies live in Rust.
    assert peak <= 3
    info = structure(tmp_path / "a.png")
    assert info["frames"] == 60  # patched after the generator ended


def test_compression_levels_change_size_not_pixels(tmp_path: Path) -> None:
    ramp = np.add.outer(np.arange(64), np.arange(64)).astype(np.uint8)
    frames = [np.dstack([np.roll(ramp, i, axis=0)] * 3) for i in range(4)]
    sizes = {}
    for level in (0, 9):
        path = tmp_path / f"{level}.png"
        bufpng.write_animation(path, frames, compression=level)
        same(bufpng.read_animation(path), frames)
        sizes[level] = path.stat().st_size
    assert sizes[0] > sizes[9]


# -- timing and loop ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fps", "delay"),
    [(25.0, (1, 25)), (10, (1, 10)), (30000 / 1001, (1001, 30000)), (29.97, (100, 2997)), (0.5, (2, 1))],
)
def test_fps_sets_an_exact_or_closest_delay(tmp_path: Path, fps: float, delay: tuple[int, int]) -> None:
    bufpng.write_animation(tmp_path / "a.png", clip(2), fps=fps)
    assert structure(tmp_path / "a.png")["delays"] == [delay, delay]
    back = bufpng.read_animation(tmp_path / "a.png")
    assert back.durations == [delay[0] / delay[1]] * 2


def test_default_is_25_fps_looping_forever(tmp_path: Path) -> None:
    bufpng.write_animation(tmp_path / "a.png", clip(2))
    assert structure(tmp_path / "a.png")["delays"] == [(1, 25)] * 2
    back = bufpng.read_animation(tmp_path / "a.png")
    assert back.loop == 0 and back.durations == [0.04, 0.04]


def test_durations_per_frame(tmp_path: Path) -> None:
    durations = [0.1, 0.25, 1.5, 0.0, 1 / 3]
    frames = clip(5)
    bufpng.write_animation(tmp_path / "a.png", frames, durations=durations)
    assert structure(tmp_path / "a.png")["delays"] == [(1, 10), (1, 4), (3, 2), (0, 1), (1, 3)]
    assert bufpng.read_animation(tmp_path / "a.png").durations == pytest.approx(durations)
    # A generator works too, as long as the counts agree.
    bufpng.write_animation(tmp_path / "b.png", iter(frames), durations=durations, threads=2)
    assert (tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes()


@pytest.mark.parametrize("loop", [0, 1, 7, 2**31 - 1])
def test_loop_count(tmp_path: Path, loop: int) -> None:
    bufpng.write_animation(tmp_path / "a.png", clip(2), loop=loop)
    assert structure(tmp_path / "a.png")["loop"] == loop
    assert bufpng.read_animation(tmp_path / "a.png").loop == loop


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fps": 0}, ValueError, "fps must be a positive"),
        ({"fps": -3.0}, ValueError, "fps must be a positive"),
        ({"fps": float("nan")}, ValueError, "fps must be a positive"),
        ({"fps": "25"}, TypeError, "fps must be a number"),
        ({"fps": 10, "durations": [0.1] * 4}, ValueError, "not both"),
        ({"durations": [0.1] * 3}, ValueError, r"frames\[3\]: durations has 3 entries but there are more frames"),
        ({"durations": [0.1] * 5}, ValueError, "durations has 5 entries but frames has 4"),
        ({"durations": [0.1, -1, 0.1, 0.1]}, ValueError, r"durations\[1\] must be a number of seconds from 0"),
        ({"durations": [0.1, 0.1, 1e6, 0.1]}, ValueError, r"durations\[2\]"),
        ({"durations": [0.1, 0.1, "x", 0.1]}, TypeError, r"durations\[2\] must be a number"),
        ({"durations": 0.1}, TypeError, "durations must be a sequence"),
        ({"loop": -1}, ValueError, "loop must be 0"),
        ({"loop": 2**31}, ValueError, "loop must be 0"),
        ({"threads": 0}, ValueError, "threads must be"),
        ({"compression": 10}, ValueError, "compression must be"),
        ({"order": "xyz"}, ValueError, "order must be"),
        ({"progress": 3}, TypeError, "progress must be"),
    ],
)
def test_bad_options_fail_before_anything_is_written(
    tmp_path: Path, kwargs: dict[str, object], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        bufpng.write_animation(tmp_path / "a.png", clip(4), **kwargs)  # type: ignore[arg-type]
    assert leftovers(tmp_path) == []


def test_durations_not_matching_a_generator_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durations has 3 entries but there were 2 frames"):
        bufpng.write_animation(tmp_path / "a.png", iter(clip(2)), durations=[0.1] * 3)
    with pytest.raises(ValueError, match=r"frames\[3\]: durations has 3 entries but there are more"):
        bufpng.write_animation(tmp_path / "a.png", iter(clip(5)), durations=[0.1] * 3, threads=2)
    assert leftovers(tmp_path) == []


# -- mismatched frames and failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("odd", "match"),
    [
        (np.zeros((24, 31, 3), np.uint8), "it is 31x24 with 3 8-bit channels, but frames\\[0\\] is 32x24"),
        (np.zeros((24, 32, 4), np.uint8), "it is 32x24 with 4 8-bit channels"),
        (np.zeros((24, 32, 3), np.uint16), "it is 32x24 with 3 16-bit channels"),
        (np.zeros((24, 32), np.uint8), "it is 32x24 with 1 8-bit channel,"),
    ],
)
@pytest.mark.parametrize("container", [list, iter])
def test_a_mismatched_frame_is_named_and_nothing_is_written(
    tmp_path: Path, odd: np.ndarray, match: str, container: object
) -> None:
    frames = clip(6)
    frames[3] = odd
    (tmp_path / "a.png").write_bytes(b"old")
    with pytest.raises(ValueError, match=r"frames\[3\]: " + match):
        bufpng.write_animation(tmp_path / "a.png", container(frames), threads=2)  # type: ignore[operator]
    assert leftovers(tmp_path) == ["a.png"]
    assert (tmp_path / "a.png").read_bytes() == b"old"


def test_a_list_is_checked_before_the_first_frame_is_encoded(tmp_path: Path) -> None:
    calls = []
    frames = clip(6)
    frames[5] = frames[5].astype(np.float32)
    with pytest.raises(TypeError, match=r"frames\[5\]"):
        bufpng.write_animation(tmp_path / "a.png", frames, progress=lambda done, total: calls.append(done))
    assert calls == [] and leftovers(tmp_path) == []


def test_no_frames_is_an_error(tmp_path: Path) -> None:
    for frames in ([], iter([])):
        with pytest.raises(ValueError, match="at least one frame"):
            bufpng.write_animation(tmp_path / "a.png", frames)
    assert leftovers(tmp_path) == []


def test_one_image_instead_of_frames_is_explained(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="write_animation takes a sequence of frames, but got one 3-dimensional"):
        bufpng.write_animation(tmp_path / "a.png", clip(1)[0])
    with pytest.raises(TypeError, match="write_animation takes an iterable of frames"):
        bufpng.write_animation(tmp_path / "a.png", 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("raised", [RuntimeError, KeyboardInterrupt])
def test_interrupted_writes_leave_no_file_and_no_temp(tmp_path: Path, threads: int, raised: type) -> None:
    (tmp_path / "a.png").write_bytes(b"old")

    def progress(done: int, total: int | None) -> None:
        if done == 5:
            raise raised("stop")

    with pytest.raises(raised):
        bufpng.write_animation(tmp_path / "a.png", clip(40, (64, 64, 3)), threads=threads, progress=progress)
    assert leftovers(tmp_path) == ["a.png"]
    assert (tmp_path / "a.png").read_bytes() == b"old"
    with pytest.raises(raised):
        bufpng.write_animation(tmp_path / "new.png", iter(clip(40)), threads=threads, progress=progress)
    assert leftovers(tmp_path) == ["a.png"]


def test_an_exception_from_the_generator_propagates_and_leaves_nothing(tmp_path: Path) -> None:
    def frames() -> Iterator[np.ndarray]:
        yield from clip(4)
        raise LookupError("camera unplugged")

    with pytest.raises(LookupError, match="camera unplugged"):
        bufpng.write_animation(tmp_path / "a.png", frames(), threads=2)
    assert leftovers(tmp_path) == []


def test_ctrl_c_mid_write_stops_promptly_and_leaves_nothing(tmp_path: Path) -> None:
    import _thread
    import threading
    import time

    frames = [RNG.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)] * 20_000
    interrupted_at = 0.0

    def interrupt() -> None:
        nonlocal interrupted_at
        time.sleep(0.5)
        interrupted_at = time.monotonic()
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        bufpng.write_animation(tmp_path / "a.png", frames, threads=2)
    assert interrupted_at and time.monotonic() - interrupted_at < 2.0
    assert leftovers(tmp_path) == []


def test_a_missing_directory_is_an_os_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "no" / "a.png"
    with pytest.raises(FileNotFoundError) as info:
        bufpng.write_animation(path, clip(2))
    assert info.value.filename == str(path)


def test_progress_protocol(tmp_path: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    bufpng.write_animation(tmp_path / "a.png", clip(5), threads=2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(n, 5) for n in range(6)]
    calls.clear()
    bufpng.write_animation(tmp_path / "b.png", iter(clip(3)), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(n, None) for n in range(4)]


# -- other readers --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(24, 32, 3), (24, 32, 4), (24, 32)])
def test_pillow_reads_every_frame_and_delay(tmp_path: Path, shape: tuple[int, ...]) -> None:
    from PIL import Image

    frames = clip(5, shape)
    bufpng.write_animation(tmp_path / "a.png", frames, durations=[0.1, 0.2, 0.3, 0.4, 0.05], loop=2)
    with Image.open(tmp_path / "a.png") as image:
        assert image.n_frames == 5 and image.is_animated
        assert image.info["loop"] == 2
        for i, frame in enumerate(frames):
            image.seek(i)
            assert image.info["duration"] == pytest.approx([100, 200, 300, 400, 50][i])
            want = frame if frame.ndim == 2 else frame[..., [2, 1, 0, 3][: frame.shape[2]]]
            assert np.array_equal(np.asarray(image), want), i


def test_viewers_without_apng_see_frame_0(tmp_path: Path) -> None:
    frames = clip(4)
    bufpng.write_animation(tmp_path / "a.png", frames)
    assert np.array_equal(np.asarray(bufpng.read(tmp_path / "a.png")), frames[0])
    import cv2

    assert np.array_equal(cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED), frames[0])


def test_opencv_reads_the_animation(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "imreadanimation"):
        pytest.skip("this OpenCV has no imreadanimation (OpenCV 5 has)")
    frames = clip(5, (24, 32, 4))
    bufpng.write_animation(tmp_path / "a.png", frames, fps=20, loop=3)
    ok, animation = cv2.imreadanimation(str(tmp_path / "a.png"))
    assert ok and len(animation.frames) == 5
    assert list(animation.durations) == [50] * 5 and animation.loop_count == 3
    for got, want in zip(animation.frames, frames):
        assert np.array_equal(got, want)


# -- reading --------------------------------------------------------------------------------------


def test_read_from_bytes_path_and_str(tmp_path: Path) -> None:
    frames = clip(3)
    bufpng.write_animation(tmp_path / "a.png", frames)
    data = (tmp_path / "a.png").read_bytes()
    for source in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8), tmp_path / "a.png", str(tmp_path / "a.png")):
        animation = bufpng.read_animation(source)  # type: ignore[arg-type]
        assert isinstance(animation, list) and isinstance(animation, bufpng.Animation)
        same(animation, frames)
        assert all(isinstance(f, bufpng.Frame) for f in animation)


def test_a_plain_png_is_one_frame(tmp_path: Path) -> None:
    image = clip(1)[0]
    bufpng.write(tmp_path / "a.png", image)
    animation = bufpng.read_animation(tmp_path / "a.png")
    same(animation, [image])
    assert animation.durations == [0.0] and animation.loop == 0
    # Every kind of PNG decodes as read() decodes it.
    for path in sorted(PNGSUITE.glob("[bf]*.png"))[:40]:
        if path.name.startswith("x"):
            continue
        same(bufpng.read_animation(path), [np.asarray(bufpng.read(path))])


def test_pillow_written_apngs_are_composited_as_viewers_show_them(tmp_path: Path) -> None:
    """Pillow writes only the changed rectangle of each frame and uses blend
    and dispose operations: read_animation must rebuild the full frames as
    OpenCV 5 and Pillow show them."""
    import cv2
    from PIL import Image
    from PIL.PngImagePlugin import Blend, Disposal

    rgba = np.zeros((5, 30, 40, 4), np.uint8)
    rgba[..., 3] = 255
    for i in range(5):
        # Fully transparent patches in even frames: OVER keeps what is under
        # them. (Partial alpha is tested in the core: Pillow's OVER blends
        # alpha like a colour channel, unlike the APNG spec's formula.)
        rgba[i, 5 + i : 12 + i, 8 : 20 + 2 * i] = (40 * i, 200, 100, 255 if i % 2 else 0)
    images = [Image.fromarray(frame, "RGBA") for frame in rgba]
    cases = {
        "default": {},
        "over": {"blend": Blend.OP_OVER},
        "background": {"disposal": Disposal.OP_BACKGROUND},
        "previous": {"disposal": Disposal.OP_PREVIOUS, "blend": Blend.OP_OVER},
    }
    for name, options in cases.items():
        path = tmp_path / f"{name}.png"
        images[0].save(path, save_all=True, append_images=images[1:], duration=[40, 80, 40, 80, 40], **options)
        back = bufpng.read_animation(path)
        assert back.durations == [0.04, 0.08, 0.04, 0.08, 0.04]
        if hasattr(cv2, "imreadanimation"):
            ok, animation = cv2.imreadanimation(str(path))
            assert ok
            same(back, list(animation.frames))
        # Pillow's reader keeps frame 0 on the canvas after a PREVIOUS
        # dispose, where the spec (and OpenCV) clear it.
        if name != "previous":
            with Image.open(path) as image:
                assert image.n_frames == len(back)
                for i in range(image.n_frames):
                    image.seek(i)
                    want = np.asarray(image.convert("RGBA"))[..., [2, 1, 0, 3]]
                    assert np.array_equal(np.asarray(back[i]), want), (name, i)


def test_truncated_and_corrupt_animations_raise_value_error(tmp_path: Path) -> None:
    bufpng.write_animation(tmp_path / "a.png", clip(3, (4, 5, 3)), compression=0)
    data = (tmp_path / "a.png").read_bytes()
    for end in range(0, len(data) - 1, 7):
        with pytest.raises(ValueError):
            bufpng.read_animation(data[:end])
    broken = bytearray(data)
    broken[-30] ^= 0xFF  # inside the last fdAT: its CRC no longer matches
    with pytest.raises(ValueError):
        bufpng.read_animation(bytes(broken))
    for path in sorted(CORRUPT.glob("*.png")):
        with pytest.raises(ValueError, match=path.name):
            bufpng.read_animation(path)


def test_max_bytes_counts_all_frames(tmp_path: Path) -> None:
    bufpng.write_animation(tmp_path / "a.png", [np.zeros((100, 100, 3), np.uint8)] * 10)
    assert len(bufpng.read_animation(tmp_path / "a.png", max_bytes=300_000)) == 10
    with pytest.raises(ValueError, match="max_bytes=200000"):
        bufpng.read_animation(tmp_path / "a.png", max_bytes=200_000)


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        bufpng.read_animation(tmp_path / "missing.png")
    assert info.value.filename == str(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="empty"):
        bufpng.read_animation(b"")
    with pytest.raises(ValueError, match="order must be"):
        bufpng.read_animation(b"x", order="bgra")
    with pytest.raises(TypeError, match=r"path_or_data must be a path \(str or os.PathLike\) or the file's contents"):
        bufpng.read_animation(12)  # type: ignore[arg-type]


def test_animation_is_a_list_with_timing() -> None:
    animation = bufpng.Animation([], [], 3)
    assert animation == [] and animation.loop == 3 and "0 frames" in repr(animation)


def test_pillow_reads_the_16_bit_gray_frames(tmp_path: Path) -> None:
    from PIL import Image

    frames = clip(3, (8, 8), np.uint16)
    bufpng.write_animation(tmp_path / "a.png", frames)
    with Image.open(io.BytesIO((tmp_path / "a.png").read_bytes())) as image:
        for i, frame in enumerate(frames):
            image.seek(i)
            assert np.array_equal(np.asarray(image).astype(np.uint16), frame), i


def test_references_are_balanced(tmp_path: Path) -> None:
    import sys

    frames = clip(4)
    durations = [0.1, 0.2, 0.3, 0.4]
    before = [sys.getrefcount(f) for f in frames] + [sys.getrefcount(durations)]
    for _ in range(3):
        bufpng.write_animation(tmp_path / "a.png", frames, durations=durations, threads=2)
        bufpng.write_animation(tmp_path / "b.png", iter(frames), threads=1)
        with pytest.raises(ValueError):
            bufpng.write_animation(tmp_path / "c.png", [*frames, frames[0][:5]])
    assert [sys.getrefcount(f) for f in frames] + [sys.getrefcount(durations)] == before
    animation = bufpng.read_animation(tmp_path / "a.png")
    # Held by the list and by getrefcount's argument only.
    # (Counted outside the asserts: pytest's assertion rewriting keeps
    # references to subexpressions.)
    counts = [sys.getrefcount(animation[i]) for i in range(4)]
    counts += [sys.getrefcount(animation.durations[i]) for i in range(4)]
    assert counts == [2] * 8
