"""atheris fuzzing of bufpng's Python surface.

    python reliability/fuzz_python.py [libFuzzer flags, e.g. -max_total_time=600]

Builds exporters from the fuzzer's bytes (bytes, bytearray, memoryview casts,
numpy arrays sliced/transposed/byte-swapped, CPython's `_testbuffer.ndarray`
with arbitrary shape, strides, offset, format and flags) and calls encode and
write_frames with generated width/height/order/compression. A call must
either succeed with a PNG that OpenCV decodes to the input's pixels, or raise
one of the documented exceptions; anything else (another exception, a crash)
is a finding.

The extension is not built with sanitizer coverage, so atheris steers by the
coverage of the Python harness only: in effect a structured random tester of
the native code. Add decode/Frame/describe calls to `call` when they land.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

import numpy as np

import bufpng

try:
    import _testbuffer
except ImportError:
    _testbuffer = None

import cv2

EXPECTED = (TypeError, ValueError, OverflowError, BufferError, MemoryError)
DTYPES = [np.uint8, np.uint16, np.dtype(">u2"), np.int8, np.float32, np.uint32]
FORMATS = ["B", "H", "<H", ">H", "b", "h", "f", "BB", "Q", "?", ""]
SCRATCH = Path(tempfile.mkdtemp(prefix="bufpng-atheris-"))


def small(fdp: atheris.FuzzedDataProvider) -> int:
    return fdp.ConsumeIntInRange(0, 9)


@atheris.instrument_func
def exporter(fdp: atheris.FuzzedDataProvider, h: int, w: int, c: int) -> tuple[object, np.ndarray | None]:
    """An object exporting a buffer, and the pixels it holds when numpy can say."""
    kind = fdp.ConsumeIntInRange(0, 4)
    # Mostly the length an h x w x c image needs (x2 for 16-bit), sometimes a little off.
    length = h * w * c * fdp.PickValueInList([1, 2]) + fdp.PickValueInList([0, 0, 0, 0, 0, -1, 1])
    raw = fdp.ConsumeBytes(max(length, 0)).ljust(max(length, 0), b"\x7f")
    if kind == 0:
        return raw, None
    if kind == 1:
        return bytearray(raw), None
    if kind == 2:
        view = memoryview(raw)
        if len(raw) % 2 == 0 and fdp.ConsumeBool():
            view = view.cast("H")
        return view, None
    if kind == 3:
        dtype = np.dtype(fdp.PickValueInList(DTYPES))
        count = len(raw) // dtype.itemsize
        array = np.frombuffer(raw[: count * dtype.itemsize], dtype)
        shape = fdp.PickValueInList([[h, w, c], [h, w * c], [h, w, c, 1], [c, h, w]])
        if int(np.prod(shape)) != count:
            shape = [count]
        array = array.reshape(shape)
        if array.ndim >= 2 and fdp.ConsumeBool():
            array = array[:: fdp.PickValueInList([1, 2, -1, -2])]
        if array.ndim >= 2 and fdp.ConsumeBool():
            array = array[:, :: fdp.PickValueInList([1, 2, -1])]
        if array.ndim == 3 and fdp.ConsumeBool():
            array = np.asfortranarray(array)
        if array.ndim >= 2 and fdp.ConsumeBool():
            array = array.swapaxes(0, 1)
        return array, array
    if _testbuffer is None:
        return raw, None
    shape = [small(fdp) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    strides = [fdp.ConsumeIntInRange(-40, 40) for _ in shape] if fdp.ConsumeBool() else None
    flags = fdp.PickValueInList(
        [0, _testbuffer.ND_WRITABLE, _testbuffer.ND_FORTRAN, _testbuffer.ND_PIL, _testbuffer.ND_GETBUF_FAIL]
    )
    items = list(raw) or [0]
    try:
        nd = _testbuffer.ndarray(
            items,
            shape=shape,
            strides=strides,
            offset=fdp.ConsumeIntInRange(0, 8),
            format=fdp.PickValueInList(FORMATS),
            flags=flags,
        )
    except Exception:
        return raw, None  # _testbuffer refused the description
    return nd, None


@atheris.instrument_func
def call(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    h, w, c = 1 + small(fdp), 1 + small(fdp), fdp.ConsumeIntInRange(1, 5)
    image, pixels = exporter(fdp, h, w, c)
    kwargs = {}
    if fdp.ConsumeBool():
        kwargs["width"] = fdp.PickValueInList([w, w, w, None, -1, 0, 1, 2**31, 2**63 - 1, small(fdp)])
        kwargs["height"] = fdp.PickValueInList([h, h, h, None, -1, 0, 1, 2**31, small(fdp)])
    if fdp.ConsumeBool():
        kwargs["order"] = fdp.PickValueInList(["bgr", "rgb", "bgr", "rgb", None, "BGR"])
    if fdp.ConsumeBool():
        kwargs["compression"] = fdp.ConsumeIntInRange(-1, 10)
    try:
        if fdp.ConsumeIntInRange(0, 7) == 0:
            paths = bufpng.write_frames([image, image], directory=SCRATCH, **kwargs)
            png = Path(paths[0]).read_bytes()
        else:
            png = bufpng.encode(image, **kwargs)
    except EXPECTED:
        return
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None, "bufpng wrote a PNG OpenCV cannot decode"
    # OpenCV turns gray+alpha into BGRA, so 2-channel images are only decoded.
    two_channels = pixels is not None and pixels.ndim == 3 and pixels.shape[2] == 2
    if pixels is not None and not two_channels and "width" not in kwargs and kwargs.get("order", "bgr") == "bgr":
        expected = pixels.astype(pixels.dtype.newbyteorder("="))
        assert np.array_equal(decoded.reshape(expected.shape), expected), "pixels differ"


if __name__ == "__main__":
    atheris.Setup(sys.argv, call)
    atheris.Fuzz()
