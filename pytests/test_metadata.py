"""PNG metadata in and out: text, dpi, colour (sRGB, gAMA, iCCP, cICP, mDCV,
cLLI), Frame.info, and interoperability with Pillow, pngcheck and libpng
(through OpenCV)."""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

import bufpng

PQ_DISPLAY = {
    "primaries": ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046)),
    "white_point": (0.3127, 0.3290),
    "max_luminance": 1000.0,
    "min_luminance": 0.0001,
}


def image(depth: int, channels: int = 3) -> np.ndarray:
    dtype = np.uint8 if depth == 8 else np.uint16
    values = np.arange(24 * 32 * channels, dtype=np.uint32).reshape(24, 32, channels)
    return (values * (3 if depth == 8 else 700) % (256 if depth == 8 else 65536)).astype(dtype)


def icc_profile() -> bytes:
    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, CRCs checked."""
    found, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + data), kind
        found.append((kind, data))
        at += 12 + length
    return found


def with_chunk(png: bytes, kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    """png with one more chunk right after IHDR."""
    crc = zlib.crc32(kind + data) if crc is None else crc
    return png[:33] + struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc) + png[33:]


KINDS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("text", {"text": {"Source": "clip.mov", "Frame": "17"}}, {"text": {"Source": "clip.mov", "Frame": "17"}}),
    ("utf8 text", {"text": {"Title": "映像 café"}}, {"text": {"Title": "映像 café"}}),
    ("long text", {"text": {"Log": "line\n" * 1000}}, {"text": {"Log": "line\n" * 1000}}),
    ("dpi", {"dpi": 72}, {"dpi": (2835 * 0.0254, 2835 * 0.0254)}),
    ("dpi pair", {"dpi": (300, 150.0)}, {"dpi": (11811 * 0.0254, 5906 * 0.0254)}),
    ("srgb", {"srgb": True}, {"srgb": 0}),
    ("srgb intent", {"srgb": 1, "gamma": 0.45455}, {"srgb": 1, "gamma": 0.45455}),
    ("gamma", {"gamma": 1 / 2.2}, {"gamma": 0.45455}),
    ("icc", {"icc_profile": "sRGB"}, {"icc_profile": "sRGB", "icc_profile_name": "ICC Profile"}),
    ("cicp", {"cicp": "bt2100-pq"}, {"cicp": (9, 16, 0, True)}),
    ("cicp tuple", {"cicp": (12, 13, 0, 0)}, {"cicp": (12, 13, 0, False)}),
    ("mdcv", {"mastering_display": PQ_DISPLAY}, {"mastering_display": PQ_DISPLAY}),
    ("clli", {"content_light_level": (1000, 400.5)}, {"content_light_level": (1000.0, 400.5)}),
]


def resolve(values: dict[str, Any]) -> dict[str, Any]:
    return {k: icc_profile() if v == "sRGB" else v for k, v in values.items()}


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize(("name", "given", "expected"), KINDS, ids=[k[0] for k in KINDS])
def test_each_kind_round_trips(name: str, given: dict[str, Any], expected: dict[str, Any], depth: int) -> None:
    pixels = image(depth)
    png = bufpng.encode(pixels, **resolve(given))
    frame = bufpng.decode(png)
    assert np.array_equal(np.asarray(frame), pixels)
    assert dict(frame.info) == resolve(expected)
    # Every chunk comes before the image data, and the other decoders agree.
    kinds = [kind for kind, _ in chunks(png)]
    assert kinds[0] == b"IHDR" and kinds[-2:] == [b"IDAT", b"IEND"]
    assert np.array_equal(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED), pixels)
    # What was read is written back the same, through metadata=.
    again = bufpng.encode(frame, metadata=frame.info)
    assert chunks(again)[1:-2] == chunks(png)[1:-2]


def test_cicp_for_a_16_bit_pq_frame_is_the_spec_layout_before_idat() -> None:
    png = bufpng.encode(image(16), cicp="bt2100-pq", mastering_display=PQ_DISPLAY, content_light_level=(1000, 400))
    # Right after IHDR: length 4, "cICP", BT.2020 primaries (9), PQ (16),
    # RGB matrix (0), full range (1), and the CRC of type and data.
    assert png[33:49] == b"\x00\x00\x00\x04cICP\x09\x10\x00\x01" + struct.pack(">I", zlib.crc32(b"cICP\x09\x10\x00\x01"))
    kinds = [kind for kind, _ in chunks(png)]
    assert kinds.index(b"cICP") < kinds.index(b"mDCV") < kinds.index(b"IDAT")
    mdcv = dict(chunks(png))[b"mDCV"]
    assert struct.unpack(">8H2I", mdcv) == (35400, 14600, 8500, 39850, 6550, 2300, 15635, 16450, 10_000_000, 1)
    assert dict(chunks(png))[b"cLLI"] == struct.pack(">II", 10_000_000, 4_000_000)


def test_compressed_text_is_ztxt_or_itxt_and_short_text_is_plain() -> None:
    png = bufpng.encode(
        image(8), text={"short": "abc", "long": "x" * 2000, "utf8": "é映", "long utf8": "映" * 1000}
    )
    kinds = {data.split(b"\0")[0]: kind for kind, data in chunks(png) if kind.endswith(b"Xt")}
    assert kinds == {b"short": b"tEXt", b"long": b"zTXt", b"utf8": b"iTXt", b"long utf8": b"iTXt"}
    itxt = [data for kind, data in chunks(png) if data.startswith(b"long utf8\0")][0]
    assert itxt[len(b"long utf8\0")] == 1, "compression flag"


def test_pillow_reads_what_bufpng_writes(tmp_path: Path) -> None:
    profile = icc_profile()
    for depth in (8, 16):
        path = tmp_path / f"{depth}.png"
        bufpng.write(path, image(depth), text={"Source": "clip.mov", "Title": "映像", "Log": "y" * 5000},
                     dpi=(300, 150), icc_profile=profile)
        with Image.open(path) as im:
            assert im.info["icc_profile"] == profile
            # Whole pixels per metre, as both store and report it.
            assert im.info["dpi"] == (11811 * 0.0254, 5906 * 0.0254)
            assert im.text == {"Source": "clip.mov", "Title": "映像", "Log": "y" * 5000}
        path = tmp_path / f"srgb{depth}.png"
        bufpng.write(path, image(depth), srgb=2, gamma=0.45455)
        with Image.open(path) as im:
            assert (im.info["srgb"], im.info["gamma"]) == (2, 0.45455)


def test_bufpng_reads_what_pillow_writes(tmp_path: Path) -> None:
    profile = icc_profile()
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Pillow")
    info.add_text("Comment", "compressed " * 200, zip=True)
    info.add_itxt("Title", "映像", lang="ja", tkey="Title")
    for mode, depth in (("RGB", 8), ("I;16", 16)):
        path = tmp_path / f"{mode[0]}.png"
        pixels = image(8)[..., 0] if mode == "I;16" else image(8)
        Image.fromarray(pixels.astype(np.uint16) if mode == "I;16" else pixels).save(
            path, pnginfo=info, dpi=(96, 120), icc_profile=profile
        )
        frame = bufpng.read(path)
        assert frame.depth == depth
        with Image.open(path) as im:
            assert frame.info["text"] == im.text
            assert frame.info["dpi"] == im.info["dpi"]
            assert frame.info["icc_profile"] == im.info["icc_profile"] == profile


def test_pngcheck_lists_the_chunks(tmp_path: Path, pngcheck) -> None:  # type: ignore[no-untyped-def]
    classic = tmp_path / "classic.png"
    bufpng.write(classic, image(16), text={"Source": "clip", "Title": "映像"}, dpi=96, icc_profile=icc_profile())
    pngcheck(classic)
    listing = subprocess.run(["pngcheck", "-v", str(classic)], capture_output=True, text=True).stdout
    for kind in ("iCCP", "pHYs", "tEXt", "iTXt", "IDAT"):
        assert f"chunk {kind}" in listing
    # pngcheck 3 predates the Third Edition: it lists cICP but calls it an
    # unknown public chunk, its only complaint.
    hdr = tmp_path / "hdr.png"
    bufpng.write(hdr, image(16), cicp="bt2100-pq")
    listing = subprocess.run(["pngcheck", "-v", str(hdr)], capture_output=True, text=True).stdout
    assert "chunk cICP at offset 0x00025, length 4" in listing
    if "ERRORS" in listing:
        assert "unknown, public chunk" in listing


def test_every_writer_takes_metadata(tmp_path: Path) -> None:
    text = {"Source": "clip.mov"}
    frame = bufpng.Frame(image(8))
    outputs = [
        bufpng.encode(image(8), text=text),
        frame.encode(text=text),
        bufpng.encode_animation([image(8)] * 2, text=text),
    ]
    bufpng.write(tmp_path / "a.png", image(8), text=text)
    frame.write(tmp_path / "b.png", text=text)
    bufpng.write_animation(tmp_path / "c.png", [image(8)] * 2, text=text)
    bufpng.write_frames([image(8)] * 2, directory=tmp_path / "d", text=text)
    outputs += [p.read_bytes() for p in sorted(tmp_path.glob("*.png")) + sorted((tmp_path / "d").glob("*.png"))]
    assert len(outputs) == 8
    for png in outputs:
        assert bufpng.decode(png).info["text"] == text


def test_write_frames_per_frame_text(tmp_path: Path) -> None:
    paths = bufpng.write_frames(
        [image(8)] * 3, directory=tmp_path / "a", text=lambda i: {"Frame": str(i)} if i != 1 else None,
        metadata={"text": {"Source": "clip"}}, threads=2,
    )
    assert [dict(bufpng.read(p).info["text"]) for p in paths] == [
        {"Source": "clip", "Frame": "0"}, {"Source": "clip"}, {"Source": "clip", "Frame": "2"},
    ]
    paths = bufpng.write_frames([image(8)] * 2, directory=tmp_path / "b", text=[{"t": "0.00"}, {"t": "0.04"}])
    assert [bufpng.read(p).info["text"]["t"] for p in paths] == ["0.00", "0.04"]
    with pytest.raises(ValueError, match="text has 1 entries"):
        bufpng.write_frames([image(8)] * 2, directory=tmp_path / "c", text=[{"t": "0"}])
    with pytest.raises(ValueError, match="leading or trailing"):
        bufpng.write_frames([image(8)], directory=tmp_path / "d", text=lambda i: {" bad": "x"})


def test_the_text_callables_exception_propagates_as_the_same_object(tmp_path: Path) -> None:
    error = KeyError("no timestamp")

    def text(index: int) -> dict[str, str]:
        if index == 2:
            raise error
        return {"Frame": str(index)}

    with pytest.raises(KeyError) as info:
        bufpng.write_frames([image(8)] * 4, directory=tmp_path, text=text, threads=1)
    assert info.value is error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame_00000.png", "frame_00001.png"]


def test_frame_info_is_a_read_only_mapping_and_carried_only_when_asked() -> None:
    png = bufpng.encode(image(8), text={"a": "b"}, dpi=96)
    frame = bufpng.decode(png)
    with pytest.raises(TypeError):
        frame.info["text"] = {}  # type: ignore[index]
    assert bufpng.Frame(image(8)).info == {}
    assert bufpng.decode(frame.encode()).info == {}
    kept = bufpng.decode(frame.encode(metadata=frame.info, text={"c": "d"}, dpi=300))
    assert kept.info["text"] == {"a": "b", "c": "d"}
    assert kept.info["dpi"] == (11811 * 0.0254, 11811 * 0.0254)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"text": {"": "v"}}, ValueError, "1-79 characters"),
        ({"text": {"k" * 80: "v"}}, ValueError, "1-79 characters"),
        ({"text": {" k": "v"}}, ValueError, "leading or trailing spaces"),
        ({"text": {"a  b": "v"}}, ValueError, "consecutive spaces"),
        ({"text": {"映": "v"}}, ValueError, "printable Latin-1"),
        ({"text": {"k": "a\0b"}}, ValueError, "NUL"),
        ({"text": {"k": b"bytes"}}, TypeError, r'text\["k"\] must be a str'),
        ({"text": ["k"]}, TypeError, "must be a mapping"),
        ({"dpi": -1}, ValueError, "dpi"),
        ({"dpi": (1, 2, 3)}, ValueError, "pair"),
        ({"srgb": 4}, ValueError, "rendering intent"),
        ({"gamma": 0}, ValueError, "gamma must be positive"),
        ({"srgb": True, "icc_profile": "sRGB"}, ValueError, "one embedded"),
        ({"srgb": True, "gamma": 1.0}, ValueError, "contradicts srgb"),
        ({"icc_profile": b"not a profile"}, ValueError, "ICC profile"),
        ({"icc_profile": "sRGB.icc"}, TypeError, "the profile's bytes"),
        ({"cicp": "rec709"}, ValueError, "bt2100-pq"),
        ({"cicp": (1, 13, 1, 1)}, ValueError, "matrix coefficients must be 0"),
        ({"cicp": (1, 13, 0, 2)}, ValueError, "full_range"),
        ({"cicp": (1, 13, 0)}, TypeError, "preset name"),
        ({"mastering_display": {"primaries": PQ_DISPLAY["primaries"]}}, ValueError, "needs all of"),
        ({"mastering_display": {**PQ_DISPLAY, "min_luminance": 2000}}, ValueError, "below max_luminance"),
        ({"content_light_level": 1000}, TypeError, "max_cll, max_fall"),
        ({"metadata": {"dpu": 72}}, ValueError, 'unknown key "dpu"'),
        ({"metadata": 72}, TypeError, "metadata must be a mapping"),
    ],
)
def test_bad_metadata_is_refused_naming_the_rule(kwargs: dict[str, Any], error: type, match: str) -> None:
    if kwargs.get("icc_profile") == "sRGB":
        kwargs = {**kwargs, "icc_profile": icc_profile()}
    with pytest.raises(error, match=match):
        bufpng.encode(image(8), **kwargs)


def test_corrupt_metadata_is_skipped_unless_strict() -> None:
    png = bufpng.encode(image(8), text={"kept": "yes"})
    for kind, data, crc in [
        (b"cLLI", b"\0" * 7, None),  # the png crate alone refuses the whole file
        (b"cICP", b"\x01\x0d\x01\x01", None),
        (b"zTXt", b"k\0\0not zlib", None),
        (b"gAMA", b"\0\0\xb1\x8f", 0),  # bad CRC
    ]:
        damaged = with_chunk(png, kind, data, crc)
        frame = bufpng.decode(damaged)
        assert np.array_equal(np.asarray(frame), image(8))
        assert dict(frame.info) == {"text": {"kept": "yes"}}
        with pytest.raises(ValueError, match=f"{kind.decode()} chunk is corrupt.*strict=False"):
            bufpng.decode(damaged, strict=True)
    with pytest.raises(TypeError, match="strict must be True or False"):
        bufpng.decode(png, strict=1)


def test_read_frames_gives_info_and_takes_strict(tmp_path: Path) -> None:
    png = bufpng.encode(image(8), text={"kept": "yes"}, dpi=96)
    good, damaged = tmp_path / "good.png", tmp_path / "damaged.png"
    good.write_bytes(png)
    damaged.write_bytes(with_chunk(png, b"gAMA", b"\0\0\xb1\x8f", 0))  # bad CRC
    for threads in (1, 2):
        frames = bufpng.read_frames([good, damaged], threads=threads)
        assert [dict(f.info) for f in frames] == [dict(bufpng.read(good).info)] * 2
        assert dict(frames[0].info)["text"] == {"kept": "yes"}
        with pytest.raises(ValueError, match=r"paths\[1\].*gAMA chunk is corrupt.*strict=False"):
            bufpng.read_frames([good, damaged], threads=threads, strict=True)
    with pytest.raises(TypeError, match="strict must be True or False"):
        bufpng.read_frames([good], strict="yes")


def test_write_and_read_file_objects(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    assert bufpng.write(buffer, image(16), text={"a": "b"}) is None
    assert buffer.getvalue() == bufpng.encode(image(16), text={"a": "b"})
    path = tmp_path / "a.png"
    with open(path, "wb") as file:
        bufpng.Frame(image(8)).write(file)
    with open(path, "rb") as file:
        assert np.array_equal(np.asarray(bufpng.read(file)), image(8))
    assert bufpng.decode(io.BytesIO(buffer.getvalue())).info["text"] == {"a": "b"}
    animation = io.BytesIO()
    bufpng.write_animation(animation, [image(8), image(8)[::-1]], fps=10)
    assert animation.getvalue() == bufpng.encode_animation([image(8), image(8)[::-1]], fps=10)
    assert len(bufpng.read_animation(animation.getvalue())) == 2


class Unwritable(io.RawIOBase):
    """A file whose write fails the way a full disk or a closed socket does."""

    def __init__(self, error: BaseException):
        self.error = error

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise self.error

    def read(self, size: int = -1) -> bytes:
        raise self.error


class Trickle(io.RawIOBase):
    """A raw file that takes at most 100 bytes per write."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        piece = bytes(data[:100])
        self.data += piece
        return len(piece)


def test_the_file_objects_exceptions_propagate_unchanged(tmp_path: Path) -> None:
    for error in (OSError(28, "No space left on device"), BrokenPipeError(), ValueError("closed")):
        with pytest.raises(type(error)) as info:
            bufpng.write(Unwritable(error), image(8))
        assert info.value is error
        assert str(info.value) == str(error)
        with pytest.raises(type(error)) as info:
            bufpng.read(Unwritable(error))
        assert info.value is error
        with pytest.raises(type(error)) as info:
            bufpng.write_animation(Unwritable(error), [image(8)])
        assert info.value is error
    trickle = Trickle()
    bufpng.write(trickle, image(8))
    assert bytes(trickle.data) == bufpng.encode(image(8))
    with open(tmp_path / "r.png", "wb") as file, pytest.raises(io.UnsupportedOperation):
        bufpng.read(file)
    with pytest.raises(TypeError, match="binary mode"):
        bufpng.read(io.StringIO("text"))
    with pytest.raises(TypeError, match="write\\(\\) method") as caught:
        bufpng.write(object(), image(8))
    assert isinstance(caught.value.__cause__, TypeError), "os.fspath's error is the cause"


def test_encode_animation_is_write_animations_bytes(tmp_path: Path) -> None:
    frames = [image(16), image(16)[::-1], image(16)[:, ::-1]]
    png = bufpng.encode_animation(frames, durations=[0.1, 0.2, 0.3], loop=2, cicp="bt2100-pq", threads=2)
    bufpng.write_animation(tmp_path / "a.png", frames, durations=[0.1, 0.2, 0.3], loop=2, cicp="bt2100-pq")
    assert png == (tmp_path / "a.png").read_bytes()
    animation = bufpng.read_animation(png)
    assert (animation.durations, animation.loop) == ([0.1, 0.2, 0.3], 2)
    assert all(np.array_equal(np.asarray(a), b) for a, b in zip(animation, frames))
    assert bufpng.decode(png).info["cicp"] == (9, 16, 0, True)
    assert animation.info == {"cicp": (9, 16, 0, True)}
    # The file's metadata carries over to a new animation, opt-in.
    again = bufpng.encode_animation(animation, fps=5, metadata=animation.info)
    assert bufpng.read_animation(again).info == animation.info
    damaged = with_chunk(png, b"cLLI", bytes(7))
    assert len(bufpng.read_animation(damaged)) == 3
    with pytest.raises(ValueError, match="cLLI chunk is corrupt"):
        bufpng.read_animation(damaged, strict=True)
    with pytest.raises(ValueError, match="encode_animation needs at least one frame"):
        bufpng.encode_animation([])


def test_pngsuite_metadata_reads_and_carries_over() -> None:
    from conftest import PNGSUITE

    seen: dict[str, int] = {}
    for path in sorted(PNGSUITE.glob("[!x]*.png")):
        frame = bufpng.read(path)
        for key in frame.info:
            seen[key] = seen.get(key, 0) + 1
        again = bufpng.decode(bufpng.encode(frame, metadata=frame.info)).info
        assert again == frame.info, path.name
    # gAMA in most of the suite, tEXt/zTXt/iTXt in the ct* files, pHYs in cdun.
    assert seen["gamma"] > 100 and seen["text"] >= 5 and seen["dpi"] == 1, seen
    with Image.open(PNGSUITE / "ctjn0g04.png") as im:
        assert bufpng.read(PNGSUITE / "ctjn0g04.png").info["text"] == im.text


def test_durable_is_for_paths_only() -> None:
    for call in (
        lambda: bufpng.write(io.BytesIO(), image(8), durable=True),
        lambda: bufpng.write_animation(io.BytesIO(), [image(8)], durable=True),
    ):
        with pytest.raises(ValueError, match="durable=True applies to paths"):
            call()

    # Refused before any work: the frames are never taken.
    def frames() -> Iterator[np.ndarray]:
        raise AssertionError("frames were read before durable=True was refused")
        yield image(8)

    sink = io.BytesIO()
    with pytest.raises(ValueError, match="durable=True applies to paths"):
        bufpng.write_animation(sink, frames(), durable=True)
    assert sink.getvalue() == b""
