"""Typed use of every public name, checked by `mypy --strict` in
pytests/test_typing.py. It is also executed there, so the stubs and the
run-time behaviour cannot disagree without a test failing."""

from __future__ import annotations

import array
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

import bufpng
from bufpng import Frame


def main() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    png: bytes = bufpng.encode(image, compression=9)
    assert bufpng.encode(bytes(24), 4, 2, order="rgb")[:4] == b"\x89PNG"
    assert bufpng.encode(array.array("H", [0] * 8), width=4, height=2)
    assert bufpng.encode(bytes(32), width=4, height=2, channels=1, stride=16)
    assert Frame(bytes(16), 4, 2, channels=2).channels == 2
    frame: Frame = bufpng.decode(png, order="rgb", max_bytes=bufpng.DEFAULT_MAX_BYTES)
    width: int = frame.width
    assert (width, frame.height, frame.channels, frame.depth) == (6, 4, 3, 8)
    assert frame.order in ("bgr", "rgb", "gray") and frame.nbytes == 72
    assert frame == Frame(image) and frame.tobytes() == bytes(72)
    assert np.asarray(frame).shape == (4, 6, 3)
    view = memoryview(frame)
    assert view.readonly
    shape3: tuple[int, ...] = frame.shape
    dtype: str = frame.dtype
    assert shape3 == (4, 6, 3) and frame.ndim == 3 and (dtype, frame.itemsize, frame.format) == ("uint8", 1, "B")
    assert frame.__array_interface__["typestr"] == "|u1"
    assert pickle.loads(pickle.dumps(frame, protocol=5)) == frame

    info = bufpng.describe(bytearray(3), "simple")
    ndim: int = info["ndim"]
    shape: tuple[int, ...] | None = bufpng.describe(image)["shape"]
    assert ndim == 1 and shape == (4, 6, 3)

    seen: list[tuple[int, int | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        bufpng.write(Path(tmp, "a.png"), image, durable=True)
        frame.write(Path(tmp) / "b.png", compression=0)
        paths: list[str] = bufpng.write_frames(
            (image for _ in range(3)),
            directory=tmp,
            pattern="f%d.png",
            threads=2,
            progress=lambda done, total: seen.append((done, total)),
        )
        bufpng.write_frames([Frame(image)], directory=Path(tmp), progress=False, threads=None)
        assert bufpng.read(paths[0]) == bufpng.read(Path(tmp, "a.png").as_posix().encode())
        bufpng.write_animation(Path(tmp, "anim.png"), [image, Frame(image)], durations=[0.5, 0.25], loop=2, threads=1)
        bufpng.write_animation(str(Path(tmp, "anim2.png")), (image for _ in range(2)), fps=12.5, progress=True)
        animation: bufpng.Animation = bufpng.read_animation(Path(tmp, "anim.png"), order="rgb")
        first: Frame = animation[0]
        durations: list[float] = animation.durations
        loop: int = animation.loop
        assert first == frame and durations == [0.5, 0.25] and loop == 2
        assert len(bufpng.read_animation(Path(tmp, "anim2.png").read_bytes())) == 2
        frames: list[Frame] = bufpng.read_frames(paths, threads=2, order="rgb")
        batch: np.ndarray[tuple[int, ...], np.dtype[np.uint8]] = np.empty((3, 4, 6, 3), np.uint8)
        filled = bufpng.read_frames(map(Path, paths), out=batch, progress=lambda d, t: None)
        same: bool = filled is batch and frames[0] == Frame(batch[0])
        into: bytearray = bufpng.read(paths[0], out=bytearray(72))
        second = batch[1]
        assert same and bufpng.decode(png, out=second) is second and len(into) == 72
    assert seen[0] == (0, None) and len(paths) == 3

    import io

    tagged = bufpng.encode(
        image,
        text={"Source": "clip.mov"},
        dpi=(300, 300),
        cicp="bt2100-pq",
        mastering_display={
            "primaries": ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046)),
            "white_point": (0.3127, 0.3290),
            "max_luminance": 1000.0,
            "min_luminance": 0.0001,
        },
        content_light_level=(1000.0, 400.0),
    )
    read_back: Frame = bufpng.decode(tagged, strict=True)
    assert read_back.info["text"] == {"Source": "clip.mov"}
    buffer = io.BytesIO()
    bufpng.write(buffer, read_back, metadata=read_back.info, srgb=None)
    read_back.write(buffer, gamma=0.45455)
    assert bufpng.read(io.BytesIO(buffer.getvalue())).info["cicp"] == (9, 16, 0, True)
    apng: bytes = bufpng.encode_animation([image, image], fps=5, text={"a": "b"})
    with tempfile.TemporaryDirectory() as tmp:
        bufpng.write_frames([image], directory=tmp, text=lambda i: {"Frame": str(i)})
        bufpng.write_frames([image], directory=tmp, text=[None])
    assert len(bufpng.read_animation(apng)) == 2
    print(f"bufpng {bufpng.__version__}: typed usage ok", file=sys.stderr)


if __name__ == "__main__":
    main()
