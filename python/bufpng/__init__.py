"""bufpng: image buffers from Python memory to PNG files.

Pass any object that exports the buffer protocol (numpy arrays such as
``cv2.imread`` returns, bytes, bytearray, memoryview, array.array, mmap):
bufpng validates its shape and sample format, copies the pixels out while
holding the GIL, and encodes PNG with the GIL released. ``decode`` and
``read`` turn PNG back into a ``Frame``, an owned image that exports the
buffer protocol itself (``np.asarray(frame)`` is a zero-copy view), laid out
as ``cv2.imread(path, cv2.IMREAD_UNCHANGED)`` returns it. ``describe`` shows
what any exporter hands over for a given buffer request. ``write_animation``
(or ``encode_animation``, to bytes) and ``read_animation`` write many frames
as one animated PNG and read them back. Every writer takes metadata (text,
dpi, colour space: ``text=``, ``dpi=``, ``cicp=``...), and ``Frame.info``
holds what a read file had.

>>> import bufpng
>>> png = bufpng.encode(bytes([0, 128, 255] * 4), width=2, height=2)
>>> png[:8]
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from ._bufpng import (
    DEFAULT_MAX_BYTES,
    Frame,
    __version__,
    decode,
    describe,
    encode,
    encode_animation,
    read,
    read_frames,
    write,
    write_animation,
    write_frames,
)
from ._animation import Animation, read_animation

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
