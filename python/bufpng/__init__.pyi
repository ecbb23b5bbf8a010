"""Type stubs for the bufpng package: the public names, re-exported from the
native module's stub (_bufpng.pyi), which holds the definitions."""

from ._bufpng import (
    DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES,
    Frame as Frame,
    __version__ as __version__,
    decode as decode,
    describe as describe,
    encode as encode,
    encode_animation as encode_animation,
    read as read,
    read_frames as read_frames,
    write as write,
    write_animation as write_animation,
    write_frames as write_frames,
)
from ._animation import Animation as Animation, read_animation as read_animation

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Animation",
    "Frame",
    "__version__",
    "decode",
    "describe",
    "encode",
    "encode_animation",
    "read",
    "read_animation",
    "read_frames",
    "write",
    "write_animation",
    "write_frames",
]
