"""read_animation's result type: a list of frames that also carries timing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from ._bufpng import DEFAULT_MAX_BYTES, Frame, _read_animation

if TYPE_CHECKING:
    # Stub-only aliases (_bufpng.pyi): a path, or any buffer exporter.
    from ._bufpng import _Image, _Path


class Animation(list[Frame]):
    """The frames of an animated PNG, in order, as a ``list[Frame]``.

    ``durations`` holds each frame's delay in seconds (``len(durations) ==
    len(frames)``) and ``loop`` the number of plays (0 = forever). A plain,
    non-animated PNG reads as one frame with ``durations == [0.0]`` and
    ``loop == 0``.
    """

    durations: list[float]
    loop: int

    def __init__(self, frames: Iterable[Frame] = (), durations: Iterable[float] = (), loop: int = 0):
        super().__init__(frames)
        self.durations = list(durations)
        self.loop = loop

    def __repr__(self) -> str:
        return f"Animation({len(self)} frames, durations={self.durations!r}, loop={self.loop})"


def read_animation(
    path_or_data: _Path | _Image, *, order: Literal["bgr", "rgb"] = "bgr", max_bytes: int = DEFAULT_MAX_BYTES
) -> Animation:
    """Read every frame of an animated PNG (APNG), composited to full frames.

    path_or_data: a path (str or os.PathLike) or the file's contents (bytes or
    any other buffer; bytes are always contents, never a path). Each frame has
    the layout ``bufpng.read`` gives. Frames that update only part of the
    canvas or blend over it are composited as viewers show them. max_bytes
    caps the pixels of all frames together. Corrupt data raises ValueError;
    I/O errors are OSError with .filename.
    """
    frames, durations, loop = _read_animation(path_or_data, order=order, max_bytes=max_bytes)
    return Animation(frames, durations, loop)
