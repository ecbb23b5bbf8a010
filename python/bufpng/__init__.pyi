"""Type stubs for the bufpng package: the public names, re-exported from the
native module's stub (_bufpng.pyi), which holds the definitions."""

from ._bufpng import (
    DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES,
    Frame as Frame,
    __version__ as __version__,
    decode as decode,
    describe as describe,
    encode as encode,
    read as read,
    write as write,
    write_frames as write_frames,
)

# Animation (write_animation, read_animation): re-export here on merge.

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Frame",
    "__version__",
    "decode",
    "describe",
    "encode",
    "read",
    "write",
    "write_frames",
]
