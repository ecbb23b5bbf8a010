"""read_animation's result type: a list of frames that also carries timing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from ._bufpng import DEFAULT_MAX_BYTES, Frame, _read_animation

if TYPE_CHECKING:
    # Stub-only aliases (_bufpng.pyi): a path, or any buffer exporter.
    from ._bufpng import _Image, _Path


class Animation(list[Frame]):
    """The frames of an animated PNG, in order, as a ``list[Frame]``.

    ``durations`` holds each frame's delay in seconds (``len(durations) ==
    len(frames)``) and ``loop`` the number of plays (0 = forever). A plain,
    non-animated PNG reads as one frame with ``durations == [0.0]`` and
    ``loop == 0``. ``info`` is the file's metadata, as ``Frame.info`` gives
    it for a still PNG (pass it on with ``metadata=animation.info``).
    """

    durations: list[float]
    loop: int
    info: Mapping[str, Any]

    def __init__(
        self,
        frames: Iterable[Frame] = (),
        durations: Iterable[float] = (),
        loop: int = 0,
        info: Mapping[str, Any] = MappingProxyType({}),
    ):
        super().__init__(frames)
        self.durations = list(durations)
        self.loop = loop
        self.info = info

    def __repr__(self) -> str:
        return f"Animation({len(self)} frames, durations={self.durations!r}, loop={self.loop})"


def read_animation(
    path_or_data: _Path | _Image,
    *,
    order: Literal["bgr", "rgb"] = "bgr",
    max_bytes: int = DEFAULT_MAX_BYTES,
    strict: bool = False,
) -> Animation:
    """Read every frame of an animated PNG (APNG), composited to full frames.

    path_or_data: a path (str or os.PathLike) or the file's contents (bytes or
    any other buffer; bytes are always contents, never a path). Each frame has
    the layout ``bufpng.read`` gives. Frames that update only part of the
    canvas or blend over it are composited as viewers show them. max_bytes
    caps the pixels of all frames together. Corrupt data raises ValueError;
    I/O errors are OSError with .filename. The file's metadata is in
    ``info``; a corrupt metadata chunk is skipped unless ``strict``.
    """
    frames, durations, loop, info = _read_animation(path_or_data, order=order, max_bytes=max_bytes, strict=strict)
    return Animation(frames, durations, loop, info)
