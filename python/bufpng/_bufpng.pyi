"""Type stubs for bufpng's native module (ffi/ in the source tree).

The .pyi is read by type checkers only, never imported, so typing_extensions
is a typing-time dependency, not a run-time one. Checked against the built
module by `python -m mypy.stubtest bufpng` (pytests/test_typing.py).
"""

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import (
    Any,
    ClassVar,
    Final,
    Literal,
    Protocol,
    SupportsIndex,
    TypedDict,
    TypeVar,
    final,
    overload,
)

from typing_extensions import Buffer, Self, Unpack

# An image or data argument: any buffer exporter (PEP 688's Buffer).
if sys.version_info >= (3, 12):
    _Image = Buffer
else:
    # numpy's stubs declare ndarray.__buffer__ only for Python 3.12+, so on
    # 3.11 arrays are recognised by their array interface instead.
    class _ArrayInterface(Protocol):
        @property
        def __array_interface__(self) -> dict[str, Any]: ...

    _Image = Buffer | _ArrayInterface

# out=: a writable buffer, returned as it was given (its own type).
_Out = TypeVar("_Out", bound=_Image)
# A file system path as os.fspath() accepts it.
_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]
# A binary file object: write(path_or_file, ...) and read(path_or_file).
class _Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...

class _Readable(Protocol):
    def read(self, /) -> bytes: ...

# Metadata (docs/api.md, "Metadata"): text entries, cICP presets or code
# points (primaries, transfer, matrix, full_range), mDCV in CIE xy and cd/m^2.
_Text = Mapping[str, str]
_Cicp = Literal["srgb", "display-p3", "bt2100-pq", "bt2100-hlg"] | tuple[int, int, int, bool | int]

class _MasteringDisplay(TypedDict):
    primaries: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    white_point: tuple[float, float]
    max_luminance: float
    min_luminance: float

# write_frames' text: every file's, or per frame (a callable or one entry per frame).
_FrameText = _Text | Callable[[int], _Text | None] | Sequence[_Text | None]

# The metadata keywords every writer takes (all optional, None = absent).
class _MetadataWithoutText(TypedDict, total=False):
    dpi: float | tuple[float, float] | None
    srgb: bool | int | None
    gamma: float | None
    icc_profile: _Image | None
    cicp: _Cicp | None
    mastering_display: _MasteringDisplay | None
    content_light_level: tuple[float, float] | None
    metadata: Mapping[str, Any] | None

class _Metadata(_MetadataWithoutText, total=False):
    text: _Text | None

class _FrameMetadata(_MetadataWithoutText, total=False):
    text: _FrameText | None

# The channel order of colour pixels; 1-2 channel images ignore it. Any case
# is accepted at run time ("RGB"); the stubs name the canonical spelling.
_Order = Literal["bgr", "rgb"]
# progress(done, total): total is None when the number of frames is unknown.
_Progress = Callable[[int, int | None], object]
# describe()'s request names: CPython's PyBUF_* flags, lower case, no prefix.
_Request = Literal[
    "simple",
    "writable",
    "format",
    "nd",
    "strides",
    "c_contiguous",
    "f_contiguous",
    "any_contiguous",
    "indirect",
    "contig",
    "contig_ro",
    "strided",
    "strided_ro",
    "records",
    "records_ro",
    "full",
    "full_ro",
]

class _BufferInfo(TypedDict):
    """What describe() returns: the Py_buffer fields (NULL pointers are None)."""

    len: int
    itemsize: int
    format: str | None
    ndim: int
    shape: tuple[int, ...] | None
    strides: tuple[int, ...] | None
    suboffsets: tuple[int, ...] | None
    readonly: bool
    c_contiguous: bool
    f_contiguous: bool

__version__: Final[str]
DEFAULT_MAX_BYTES: Final = 1073741824

@final
class Frame:
    """An owned image that exports the buffer protocol (read-only, C-contiguous)."""

    def __new__(
        cls,
        image: _Image,
        width: int | None = None,
        height: int | None = None,
        *,
        channels: int | None = None,
        stride: int | None = None,
        order: _Order | None = None,
    ) -> Self: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def channels(self) -> Literal[1, 2, 3, 4]: ...
    @property
    def depth(self) -> Literal[8, 16]: ...
    @property
    def order(self) -> Literal["bgr", "rgb", "gray"]: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def info(self) -> MappingProxyType[str, Any]: ...
    @property
    def shape(self) -> tuple[int, int] | tuple[int, int, int]: ...
    @property
    def ndim(self) -> Literal[2, 3]: ...
    @property
    def dtype(self) -> Literal["uint8", "uint16"]: ...
    @property
    def itemsize(self) -> Literal[1, 2]: ...
    @property
    def format(self) -> Literal["B", "H"]: ...
    @property
    def __array_interface__(self) -> dict[str, Any]: ...
    def encode(
        self,
        *,
        compression: int | None = None,
        threads: int | None = None,
        **metadata: Unpack[_Metadata],
    ) -> bytes: ...
    def write(
        self,
        path: _Path | _Writable,
        *,
        compression: int | None = None,
        threads: int | None = None,
        durable: bool = False,
        **metadata: Unpack[_Metadata],
    ) -> None: ...
    def tobytes(self) -> bytes: ...
    # pickle: (_frame_from_pickle, (pixels, ..., [metadata])); a PickleBuffer from
    # protocol 5; `info` travels as PNG chunk bytes.
    def __reduce_ex__(self, protocol: SupportsIndex, /) -> tuple[Any, ...]: ...
    # The Py_bf_getbuffer slot. Python 3.12+ shows it as __buffer__ (PEP 688);
    # on 3.11 the slot exists without the Python-level method, but declaring
    # it is what makes a Frame a collections.abc.Buffer to type checkers.
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    # Frames compare by pixels and are immutable views' owners, not hashable
    # (like numpy arrays; docs/frame.md says why).
    __hash__: ClassVar[None]  # type: ignore[assignment]

def encode(
    image: _Image,
    width: int | None = None,
    height: int | None = None,
    *,
    channels: int | None = None,
    stride: int | None = None,
    order: _Order | None = None,
    compression: int | None = None,
    threads: int | None = None,
    **metadata: Unpack[_Metadata],
) -> bytes: ...
def write(
    path: _Path | _Writable,
    image: _Image,
    width: int | None = None,
    height: int | None = None,
    *,
    channels: int | None = None,
    stride: int | None = None,
    order: _Order | None = None,
    compression: int | None = None,
    threads: int | None = None,
    durable: bool = False,
    **metadata: Unpack[_Metadata],
) -> None: ...
def write_frames(
    frames: Iterable[_Image],
    width: int | None = None,
    height: int | None = None,
    *,
    channels: int | None = None,
    stride: int | None = None,
    directory: _Path = ".",
    pattern: str = "frame_%05d.png",
    start: int = 0,
    order: _Order | None = None,
    compression: int | None = None,
    threads: int | None = None,
    progress: bool | _Progress | None = None,
    durable: bool = False,
    **metadata: Unpack[_FrameMetadata],
) -> list[str]: ...
# With out=, the pixels go into the caller's buffer, which is returned.
@overload
def decode(
    data: _Image | _Readable,
    *,
    out: None = None,
    order: _Order = "bgr",
    max_bytes: int = 1073741824,
    strict: bool = False,
    threads: int | None = None,
) -> Frame: ...
@overload
def decode(
    data: _Image | _Readable,
    *,
    out: _Out,
    order: _Order = "bgr",
    max_bytes: int = 1073741824,
    strict: bool = False,
    threads: int | None = None,
) -> _Out: ...
@overload
def read(
    path: _Path | _Readable,
    *,
    out: None = None,
    order: _Order = "bgr",
    max_bytes: int = 1073741824,
    strict: bool = False,
    threads: int | None = None,
) -> Frame: ...
@overload
def read(
    path: _Path | _Readable,
    *,
    out: _Out,
    order: _Order = "bgr",
    max_bytes: int = 1073741824,
    strict: bool = False,
    threads: int | None = None,
) -> _Out: ...
@overload
def read_frames(
    paths: Iterable[_Path],
    *,
    out: None = None,
    threads: int | None = None,
    progress: bool | _Progress | None = None,
    order: _Order = "bgr",
    max_bytes: int = 1073741824,
    strict: bool = False,
) -> list[Frame]: ...
@overload
def read_frames(
    paths: Iterable[_Path],
    *,
    out: _Out,
    threads: int | None = None,
    progress: bool | _Progress | None = None,
    order: _Order = "bgr",
    max_bytes: int = 1073741824,
    strict: bool = False,
) -> _Out: ...
def describe(obj: _Image, request: _Request | int = "records_ro") -> _BufferInfo: ...

def write_animation(
    path: _Path | _Writable,
    frames: Iterable[_Image],
    width: int | None = None,
    height: int | None = None,
    *,
    channels: int | None = None,
    stride: int | None = None,
    fps: float | None = 25.0,
    durations: Sequence[float] | None = None,
    loop: int = 0,
    order: _Order | None = None,
    compression: int | None = None,
    threads: int | None = None,
    progress: bool | _Progress | None = None,
    durable: bool = False,
    **metadata: Unpack[_Metadata],
) -> None: ...
def encode_animation(
    frames: Iterable[_Image],
    width: int | None = None,
    height: int | None = None,
    *,
    channels: int | None = None,
    stride: int | None = None,
    fps: float | None = 25.0,
    durations: Sequence[float] | None = None,
    loop: int = 0,
    order: _Order | None = None,
    compression: int | None = None,
    threads: int | None = None,
    progress: bool | _Progress | None = None,
    **metadata: Unpack[_Metadata],
) -> bytes: ...

# Rebuilds a pickled Frame (Frame.__reduce_ex__ names it).
def _frame_from_pickle(
    pixels: _Image,
    width: int,
    height: int,
    channels: int,
    depth: int,
    order: _Order,
    byteorder: Literal["little", "big"],
    metadata: bytes | None = None,
    /,
) -> Frame: ...

# The native half of bufpng.read_animation (python/bufpng/_animation.py):
# (frames, durations in seconds, loop count, the file's metadata).
def _read_animation(
    path_or_data: _Path | _Image, *, order: _Order = "bgr", max_bytes: int = 1073741824, strict: bool = False
) -> tuple[list[Frame], list[float], int, MappingProxyType[str, Any]]: ...
