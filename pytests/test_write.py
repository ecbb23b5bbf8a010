"""write() and write_frames(): files appear complete or not at all, named as asked."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import bufpng
from conftest import cv2_decode

RNG = np.random.default_rng(7)


def frames(count: int, shape: tuple[int, ...] = (24, 32, 3)) -> list[np.ndarray]:
    return [RNG.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(count)]


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("as_type", [str, Path, os.fsencode], ids=["str", "pathlib", "bytes"])
def test_write_accepts_any_path_type(tmp_path: Path, as_type, pngcheck) -> None:  # type: ignore[no-untyped-def]
    image = frames(1)[0]
    target = tmp_path / "out.png"
    assert bufpng.write(as_type(str(target)), image) is None
    assert target.read_bytes() == bufpng.encode(image)
    pngcheck(target)
    assert listing(tmp_path) == ["out.png"]


def test_write_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    image = frames(1)[0]
    bufpng.write(target, image, order="rgb")
    assert target.read_bytes() == bufpng.encode(image, order="rgb")
    assert listing(tmp_path) == ["out.png"]


def test_failed_validation_leaves_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(ValueError):
        bufpng.write(target, b"short", 64, 48)
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["out.png"]


def test_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.png"
    with pytest.raises(FileNotFoundError) as info:
        bufpng.write(target, frames(1)[0])
    assert info.value.filename == str(target)
    assert info.value.errno == 2
    assert listing(tmp_path) == []


def test_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as info:
        bufpng.write(tmp_path, frames(1)[0])
    assert info.value.filename == str(tmp_path)
    with pytest.raises(OSError) as info:
        bufpng.write(str(tmp_path) + "/", frames(1)[0])
    assert info.value.filename == str(tmp_path) + "/"


def test_permission_denied() -> None:
    # /sys refuses new files even to root, unlike a chmod'ed directory.
    with pytest.raises(PermissionError) as info:
        bufpng.write("/sys/bufpng-test.png", frames(1)[0])
    assert info.value.filename == "/sys/bufpng-test.png"


@pytest.mark.parametrize("bad", [42, None, "", "a\0b"], ids=["int", "None", "empty", "nul"])
def test_bad_path_arguments(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        bufpng.write(bad, frames(1)[0])


def test_write_frames_names_and_orders_files(tmp_path: Path, pngcheck) -> None:  # type: ignore[no-untyped-def]
    clip = frames(5)
    paths = bufpng.write_frames(clip, directory=tmp_path, pattern="f_%03d.png", start=8)
    assert paths == [os.path.join(str(tmp_path), f"f_{i:03d}.png") for i in range(8, 13)]
    for path, frame in zip(paths, clip):
        assert np.array_equal(cv2_decode(Path(path).read_bytes()), frame)
        pngcheck(path)
    assert listing(tmp_path) == [f"f_{i:03d}.png" for i in range(8, 13)]


def test_write_frames_seed_scenario(tmp_path: Path) -> None:
    """The original question: frames from cv2.imread plus width=shape[1], height=shape[0]."""
    clip = frames(3, (48, 64, 3))
    paths = bufpng.write_frames(clip, clip[0].shape[1], clip[0].shape[0], directory=tmp_path)
    assert [Path(p).name for p in paths] == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]


def test_write_frames_creates_the_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    bufpng.write_frames(frames(2), directory=target)
    assert listing(target) == ["frame_00000.png", "frame_00001.png"]


def test_write_frames_accepts_flat_buffers_and_tuples(tmp_path: Path) -> None:
    clip = frames(2)
    paths = bufpng.write_frames(tuple(f.tobytes() for f in clip), 32, 24, directory=tmp_path)
    assert [Path(p).read_bytes() for p in paths] == [bufpng.encode(f) for f in clip]


def test_write_frames_accepts_a_4d_batch(tmp_path: Path) -> None:
    batch = np.stack(frames(3))
    paths = bufpng.write_frames(batch, directory=tmp_path)
    assert [Path(p).read_bytes() for p in paths] == [bufpng.encode(f) for f in batch]


def test_write_frames_validates_everything_before_writing(tmp_path: Path) -> None:
    clip: list[object] = list(frames(5))
    clip[3] = np.zeros((24, 32, 3), np.float32)
    with pytest.raises(TypeError, match=r"^frames\[3\]: unsupported buffer format"):
        bufpng.write_frames(clip, directory=tmp_path)
    assert listing(tmp_path) == []


def test_write_frames_names_a_frame_of_the_wrong_size(tmp_path: Path) -> None:
    clip = frames(3) + frames(1, (32, 24, 3))
    with pytest.raises(ValueError, match=r"^frames\[3\]: width and height are swapped"):
        bufpng.write_frames(clip, 32, 24, directory=tmp_path)
    assert listing(tmp_path) == []


def test_write_frames_names_a_non_buffer(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"^frames\[1\]: expected an image buffer .* got str: text is not pixels"):
        bufpng.write_frames([frames(1)[0], "frame"], directory=tmp_path)


def test_write_frames_rejects_a_single_image(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"use write\(\) for a single image"):
        bufpng.write_frames(frames(1)[0], directory=tmp_path)
    with pytest.raises(TypeError, match="sequence of frames"):
        bufpng.write_frames(b"\x00" * 12, 2, 2, directory=tmp_path)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("pattern", ["frame.png", "%d_%d.png", "%s.png", "frame_%.png"])
def test_write_frames_rejects_bad_patterns(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ValueError, match="exactly one integer placeholder"):
        bufpng.write_frames(frames(1), directory=tmp_path, pattern=pattern)
    assert listing(tmp_path) == []


def test_write_frames_empty_list_writes_nothing(tmp_path: Path) -> None:
    assert bufpng.write_frames([], directory=tmp_path / "never") == []
    assert listing(tmp_path) == []


def test_write_frames_io_error_names_frame_and_file(tmp_path: Path) -> None:
    (tmp_path / "frame_00001.png").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        bufpng.write_frames(frames(3), directory=tmp_path)
    assert info.value.filename == str(tmp_path / "frame_00001.png")
    assert "frames[1]" in str(info.value)
    assert listing(tmp_path) == ["frame_00000.png", "frame_00001.png"]
