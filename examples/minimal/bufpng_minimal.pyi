# Types for the extension module (src/lib.rs), for type checkers.
import os
from typing import Any, Protocol

from typing_extensions import Buffer

class _ArrayInterface(Protocol):
    # numpy's stubs declare ndarray.__buffer__ only for Python 3.12+.
    @property
    def __array_interface__(self) -> dict[str, Any]: ...

__version__: str

def write_png(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    frame: Buffer | _ArrayInterface,
    width: int,
    height: int,
    /,
) -> None: ...
