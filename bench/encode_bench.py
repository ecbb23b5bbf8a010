"""Single-frame encode benchmark: bufpng against every PNG writer a Python
user can install -- OpenCV (libpng), Pillow (zlib), fpng, imagecodecs
(zlib png_encode, libspng spng_encode), pyvips (libvips), oxipng, pypng --
and the floors (a memcpy, numpy's BGR->RGB copy, PNG's stored mode).

    python bench/encode_bench.py [--quick] [--no-write]

Every contender runs in this process on the same frames on one core
(cv2.setNumThreads(1); bufpng rows pass threads=1; VIPS_CONCURRENCY and
RAYON_NUM_THREADS are 1, common.py) except the row "bufpng default":
bufpng's default as users get it, which codes a large frame's strips on
every core. Median of repeated runs after a warm-up; each call's process
CPU time (time.process_time) is kept beside its wall time. A contender
whose package is missing is skipped with the reason printed. Every output
is decoded with OpenCV and compared with the input, so a fast wrong answer
cannot win.
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import Content, Section, measure, output_size, table  # noqa: E402

Encoder = Callable[[], object]


@dataclass
class Contender:
    name: str
    # Given a content class, the zero-argument call to time, or None when
    # this contender cannot encode it (e.g. Pillow has no 16-bit RGB).
    prepare: Callable[[Content], Optional[Encoder]]
    group: str  # a key of GROUP_COLORS
    # False for the one row allowed more than one core (bufpng's default):
    # it is left out of the one-core comparisons and chart.
    one_core: bool = True
    # Seconds a call on a 1080p frame: --quick runs it on the 32x32 frame only.
    slow: bool = False


GROUP_COLORS = {
    "bufpng": "tab:red", "cv2": "tab:blue", "pillow": "tab:green", "fpng": "tab:purple",
    "imagecodecs": "tab:orange", "pyvips": "tab:brown", "oxipng": "tab:pink", "pypng": "tab:olive",
    "floor": "tab:gray",
}


def _rgb(frame: np.ndarray) -> np.ndarray:
    """What a user of an RGB library does with an OpenCV frame first."""
    import cv2

    code = cv2.COLOR_BGRA2RGBA if frame.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(frame, code)


def contenders() -> list[Contender]:
    import bufpng
    import cv2

    found: list[Contender] = []

    def bufpng_at(level: Optional[int], threads: Optional[int] = 1) -> Callable[[Content], Encoder]:
        return lambda c: (lambda: bufpng.encode(c.frame, compression=level, threads=threads))

    found.append(Contender("bufpng default", bufpng_at(None, threads=None), "bufpng", one_core=False))
    found.append(Contender("bufpng default, 1 thread", bufpng_at(None), "bufpng"))
    for level in range(10):
        note = " (stored)" if level == 0 else ""
        found.append(Contender(f"bufpng {level}{note}", bufpng_at(level), "bufpng", slow=level >= 7))

    def cv2_at(level: Optional[int]) -> Callable[[Content], Encoder]:
        params = [] if level is None else [cv2.IMWRITE_PNG_COMPRESSION, level]
        return lambda c: (lambda: cv2.imencode(".png", c.frame, params)[1])

    found.append(Contender("cv2 default", cv2_at(None), "cv2"))
    for level in (1, 6, 9):
        found.append(Contender(f"cv2 {level}", cv2_at(level), "cv2", slow=level == 9))

    Image = common.optional("PIL.Image")
    if Image is not None:
        def pil_at(level: Optional[int]) -> Callable[[Content], Optional[Encoder]]:
            def prepare(c: Content) -> Optional[Encoder]:
                if c.frame.dtype != np.uint8:
                    return None  # Pillow has no 16-bit RGB mode

                def run() -> bytes:
                    out = io.BytesIO()
                    options = {} if level is None else {"compress_level": level}
                    Image.fromarray(_rgb(c.frame)).save(out, format="PNG", **options)
                    return out.getvalue()

                return run

            return prepare

        found.append(Contender("Pillow default", pil_at(None), "pillow"))
        found.append(Contender("Pillow 1", pil_at(1), "pillow"))

    fpng = common.optional("fpng")
    if fpng is not None:
        def fpng_prepare(c: Content) -> Optional[Encoder]:
            if c.frame.dtype != np.uint8:
                return None  # fpng writes 24/32-bit pixels only
            return lambda: fpng.fpng_ext.encode_ndarray(_rgb(c.frame))

        found.append(Contender("fpng", fpng_prepare, "fpng"))

    imagecodecs = common.optional("imagecodecs")
    if imagecodecs is not None:
        # zlib (png_encode) and libspng (spng_encode) behind one package.
        # png_encode's default level is zlib's default, 6: one row for both.
        def codecs_at(encode: Callable[..., bytes], **options: object) -> Callable[[Content], Encoder]:
            return lambda c: (lambda: encode(_rgb(c.frame), **options))

        found.append(Contender("imagecodecs png 1", codecs_at(imagecodecs.png_encode, level=1), "imagecodecs"))
        found.append(Contender("imagecodecs png 6 (default)", codecs_at(imagecodecs.png_encode, level=6),
                               "imagecodecs"))
        found.append(Contender("imagecodecs spng (default)", codecs_at(imagecodecs.spng_encode), "imagecodecs"))

    pyvips = common.optional("pyvips")
    if pyvips is not None:
        # libvips' pngsave: compression 6 and no filter by default (hence its
        # large photo files); filter="all" is the adaptive choice the others
        # make. VIPS_CONCURRENCY=1 (common.py) keeps it on one core.
        def vips_at(**options: object) -> Callable[[Content], Encoder]:
            return lambda c: (lambda: pyvips.Image.new_from_array(_rgb(c.frame)).pngsave_buffer(**options))

        found.append(Contender("pyvips default (6, no filter)", vips_at(), "pyvips"))
        found.append(Contender("pyvips 1", vips_at(compression=1), "pyvips"))
        found.append(Contender("pyvips 6, filter=all", vips_at(compression=6, filter="all"), "pyvips"))

    oxipng = common.optional("oxipng")
    if oxipng is not None:
        # oxipng (pyoxipng) encodes raw pixels too: the "equal or smaller
        # file" anchor. One rayon thread (RAYON_NUM_THREADS=1, common.py).
        # Reductions that change what a decoder returns (16 -> 8 bits,
        # dropping an opaque alpha, RGB -> gray) are off, so its file
        # decodes to the same array as everyone else's.
        def oxipng_at(level: int) -> Callable[[Content], Optional[Encoder]]:
            def prepare(c: Content) -> Optional[Encoder]:
                h, w, ch = c.frame.shape
                color = oxipng.ColorType.rgb() if ch == 3 else oxipng.ColorType.rgba()
                depth = 8 * c.frame.itemsize

                def run() -> bytes:
                    rgb = _rgb(c.frame)
                    data = rgb.astype(">u2").tobytes() if depth == 16 else rgb.tobytes()
                    return oxipng.RawImage(data, w, h, color_type=color, bit_depth=depth).create_optimized_png(
                        level=level, bit_depth_reduction=False, color_type_reduction=False,
                        grayscale_reduction=False)

                return run

            return prepare

        found.append(Contender("oxipng 0", oxipng_at(0), "oxipng"))
        found.append(Contender("oxipng 2 (default)", oxipng_at(2), "oxipng", slow=True))

    pypng = common.optional("png")
    if pypng is not None:
        def pypng_prepare(c: Content) -> Optional[Encoder]:
            h, w, ch = c.frame.shape
            if w * h > 1_000_000 and c.name not in ("photo", "tiny"):
                return None  # pure Python: one large frame is enough to place it

            def run() -> bytes:
                out = io.BytesIO()
                writer = pypng.Writer(w, h, greyscale=False, alpha=ch == 4, bitdepth=8 * c.frame.itemsize)
                writer.write(out, _rgb(c.frame).reshape(h, w * ch))
                return out.getvalue()

            return run

        found.append(Contender("pypng", pypng_prepare, "pypng"))

    found.append(Contender("memcpy (np.copy)", lambda c: c.frame.copy, "floor"))

    def numpy_swap(c: Content) -> Encoder:
        order = [2, 1, 0, 3] if c.frame.shape[2] == 4 else [2, 1, 0]
        if order == [2, 1, 0]:
            return lambda: c.frame[..., ::-1].copy()
        return lambda: c.frame[..., order]

    found.append(Contender("numpy BGR->RGB copy", numpy_swap, "floor"))
    return found


def check_round_trip(content: Content, png: bytes, contender: str = "bufpng") -> None:
    """Every writer's output must decode (with OpenCV) to exactly the input:
    a wrong answer stops the run rather than taking a place in the table."""
    import cv2

    back = cv2.imdecode(np.frombuffer(bytes(png), np.uint8), cv2.IMREAD_UNCHANGED)
    if back is None or back.shape != content.frame.shape or not np.array_equal(back, content.frame):
        sys.exit(f"bench: {contender} output for {content.name} does not round-trip through OpenCV")


@dataclass
class Result:
    content: str
    contender: str
    group: str
    ms: float
    cpu_ms: float
    mb_per_s: float
    size: int
    runs: int
    one_core: bool = True


def measure_all(classes: list[Content], quick: bool) -> list[Result]:
    results = []
    budget = 0.25 if quick else 0.8
    for content in classes:
        for contender in contenders():
            if quick and contender.slow and content.name != "tiny":
                continue
            call = contender.prepare(content)
            if call is None:
                continue
            timing = measure(call, budget_s=budget, min_runs=3 if quick else 7, quick=quick)
            if contender.group != "floor":
                check_round_trip(content, timing.output, contender.name)  # type: ignore[arg-type]
            ms = timing.median_s * 1e3
            results.append(
                Result(content.name, contender.name, contender.group, ms, timing.cpu_s * 1e3,
                       content.megabytes / timing.median_s,
                       output_size(timing.output), timing.runs, contender.one_core)
            )
            print(f"  {content.name:<10} {contender.name:<22} {ms:9.3f} ms {output_size(timing.output):>10} B", file=sys.stderr)
    return results


def find(results: list[Result], content: str, contender: str) -> Optional[Result]:
    return next((r for r in results if r.content == content and r.contender == contender), None)


def no_larger_anchor(results: list[Result], content: str, size: int) -> Optional[Result]:
    """The other writers' fastest (one-core CPU) call whose file is no larger
    than ``size``: what a user who wants bufpng's file size would use instead."""
    others = [r for r in results if r.content == content and r.group not in ("bufpng", "floor")
              and r.one_core and r.size <= size]
    return min(others, key=lambda r: r.cpu_ms, default=None)


def markdown(classes: list[Content], results: list[Result]) -> str:
    parts = ["## Single-frame encode", ""]
    parts.append(
        "Median wall time (*ms*) of one call after a warm-up, and the process's CPU time (*cpu ms*, "
        "`time.process_time`) over the same calls. Every row runs on one core "
        "(`cv2.setNumThreads(1)`, bufpng `threads=1`, `VIPS_CONCURRENCY=1`, `RAYON_NUM_THREADS=1` "
        "for oxipng), so its *cpu ms* is its one-core CPU time, steadier than wall time when the "
        "machine is shared; the exception is *bufpng default*: the default as users get it "
        "(`threads=None`), which codes a frame over 1 MiB in strips on every core (its *cpu ms* "
        "adds both cores); *bufpng default, 1 thread* is the same coder on the calling thread only. "
        "MB/s counts input bytes. *x cv2 time* and *x cv2 size* are ratios to "
        "`cv2.imencode('.png')` at its default measured in the same run (lower is better). Rows of "
        "writers that take RGB (Pillow, fpng, imagecodecs, pyvips, oxipng, pypng) include the "
        "`cv2.cvtColor` BGR->RGB conversion their users need; bufpng does that reorder inside its "
        "copy. imagecodecs' `png_encode` default is zlib's level 6; pyvips' `pngsave` default is "
        "compression 6 with no filter; oxipng runs with the reductions that would change the "
        "decoded array (16 to 8 bits, dropping an opaque alpha) turned off. Every output is decoded "
        "with OpenCV and compared with the frame. Floors: `memcpy` is `frame.copy()`, "
        "`bufpng 0 (stored)` is the png crate's stored output (fused copy + stored deflate "
        "blocks + CRC/Adler)."
    )
    parts.append("")
    parts.append(summary(classes, results))
    parts.append("")
    parts.append(one_core_summary(classes, results))
    parts.append("")
    for content in classes:
        rows = [r for r in results if r.content == content.name]
        base = next(r for r in rows if r.contender == "cv2 default")
        h, w = content.frame.shape[:2]
        ch = content.frame.shape[2]
        parts.append(f"### {content.name}: {w}x{h}x{ch} {content.frame.dtype} ({content.note})")
        parts.append("")
        body = []
        for r in rows:
            body.append([
                r.contender,
                common.fmt_ms(r.ms),
                common.fmt_ms(r.cpu_ms),
                f"{r.mb_per_s:.0f}",
                f"{r.size:,}",
                f"{r.ms / base.ms:.2f}",
                f"{r.size / base.size:.2f}",
            ])
        parts.append(table(["contender", "ms", "cpu ms", "MB/s", "output bytes", "x cv2 time", "x cv2 size"], body))
        parts.append("")
    parts.append("![one-core CPU time against output size per content class](benchmarks-cpu.png)")
    parts.append("")
    parts.append("![encode wall time against output size per content class](benchmarks.png)")
    return "\n".join(parts)


def summary(classes: list[Content], results: list[Result]) -> str:
    """The default against the issue's targets: at most 0.25x cv2 default's
    time and no larger than its output (per-call overhead: no slower)."""
    rows = []
    for content in classes:
        mine, cv = find(results, content.name, "bufpng default"), find(results, content.name, "cv2 default")
        fast = find(results, content.name, "fpng")
        alone = find(results, content.name, "bufpng default, 1 thread")
        if mine is None or cv is None or alone is None:
            continue
        limit = 1.0 if content.name == "tiny" else 0.25
        met = mine.ms <= limit * cv.ms and (content.name == "tiny" or mine.size <= cv.size)
        rows.append([
            content.name,
            common.fmt_ms(mine.ms),
            f"{mine.size:,}",
            f"{mine.ms / cv.ms:.2f} (cpu {mine.cpu_ms / cv.cpu_ms:.2f})",
            f"{alone.ms / cv.ms:.2f} (cpu {alone.cpu_ms / cv.cpu_ms:.2f})",
            f"{mine.size / cv.size:.2f}",
            "-" if fast is None else f"{mine.ms / fast.ms:.2f}",
            "-" if fast is None else f"{mine.size / fast.size:.2f}",
            ("yes" if met else "**no**") + f" (time <= {limit}x cv2" + ("" if content.name == "tiny" else ", size <= 1x") + ")",
        ])
    return "### Summary: `bufpng.encode` default against the targets\n\n" + table(
        ["content", "ms", "bytes", "x cv2 time", "1 thread: x cv2 time", "x cv2 size", "x fpng time",
         "x fpng size", "target met"], rows)


def one_core_summary(classes: list[Content], results: list[Result]) -> str:
    """bufpng's default on one core against the anchors, on CPU time: fpng
    (the fastest writer) and the fastest writer whose file is no larger."""
    rows = []
    for content in classes:
        alone = find(results, content.name, "bufpng default, 1 thread")
        if alone is None:
            continue
        fast = find(results, content.name, "fpng")
        anchor = no_larger_anchor(results, content.name, alone.size)
        rows.append([
            content.name,
            common.fmt_ms(alone.cpu_ms),
            f"{alone.size:,}",
            "-" if fast is None else f"{common.fmt_ms(fast.cpu_ms)} ms, {fast.size:,} B",
            "-" if fast is None else f"{alone.cpu_ms / fast.cpu_ms:.2f}",
            "-" if fast is None else f"{alone.size / fast.size:.2f}",
            "none" if anchor is None else f"{anchor.contender}: {common.fmt_ms(anchor.cpu_ms)} ms, {anchor.size:,} B",
            "-" if anchor is None else f"{anchor.cpu_ms / alone.cpu_ms:.1f}",
        ])
    return ("### One core: the default (`threads=1`) against the anchors\n\n"
            "CPU time per frame on one core. *fpng* is the fastest writer measured (it trades size for "
            "speed); *no-larger anchor* is the fastest other writer whose file is no larger than bufpng's "
            "(any library, level or filter above), and *x bufpng cpu* how many times bufpng's CPU time it "
            "takes.\n\n" + table(
                ["content", "bufpng cpu ms", "bufpng bytes", "fpng", "x fpng cpu", "x fpng size",
                 "no-larger anchor", "x bufpng cpu"], rows))


def facts(classes: list[Content], results: list[Result]) -> dict[str, object]:
    """Per content class, the ratios README's speed table quotes (run.py)."""
    found: dict[str, object] = {}
    for content in classes:
        mine, cv = find(results, content.name, "bufpng default"), find(results, content.name, "cv2 default")
        alone = find(results, content.name, "bufpng default, 1 thread")
        if mine is None or cv is None or alone is None:
            continue
        fast = find(results, content.name, "fpng")
        anchor = no_larger_anchor(results, content.name, alone.size)
        found[content.name] = {
            "wall_vs_cv2": mine.ms / cv.ms,
            "cpu1_vs_cv2": alone.cpu_ms / cv.cpu_ms,
            "size_vs_cv2": mine.size / cv.size,
            "cpu1_vs_fpng": None if fast is None else alone.cpu_ms / fast.cpu_ms,
            "size_vs_fpng": None if fast is None else alone.size / fast.size,
            "anchor": None if anchor is None else (anchor.contender, anchor.cpu_ms / alone.cpu_ms),
        }
    return found


LABELS = {
    "bufpng default": "b default", "bufpng default, 1 thread": "b default 1t", "bufpng 0 (stored)": "b0",
    "cv2 default": "cv2", "Pillow default": "PIL", "Pillow 1": "PIL1", "imagecodecs png 1": "ic png1",
    "imagecodecs png 6 (default)": "ic png6", "imagecodecs spng (default)": "ic spng",
    "pyvips default (6, no filter)": "vips", "pyvips 1": "vips1", "pyvips 6, filter=all": "vips6 all",
    "oxipng 0": "oxi0", "oxipng 2 (default)": "oxi2", "memcpy (np.copy)": "memcpy",
}


def label(name: str) -> str:
    return LABELS.get(name, name.replace("bufpng ", "b"))


def place_labels(ax, points: list[tuple[float, float, str, str]], fontsize: float = 7) -> None:
    """Labels next to their points without overlapping each other: each
    tries a few offsets (right, below, above, left, further out) and takes
    the first whose box, in display pixels, is clear of the boxes and
    points placed so far. Good enough for 20-30 points a panel."""
    fig = ax.figure
    scale = fig.dpi / 72  # points -> pixels
    char_w, height = 0.55 * fontsize * scale, 1.2 * fontsize * scale
    taken: list[tuple[float, float, float, float]] = []
    marks = [ax.transData.transform((x, y)) for x, y, _, _ in points]
    for px, py in marks:
        taken.append((px - 3, py - 3, px + 3, py + 3))
    offsets = [(4, 2), (4, -10), (-4, 2), (-4, -10), (4, 10), (4, -18), (-4, 10), (-4, -18), (4, 18), (4, -26),
               (-4, 18), (-4, -26), (4, 26), (4, -34)]

    def clear(box: tuple[float, float, float, float]) -> bool:
        return all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in taken)

    order = sorted(range(len(points)), key=lambda i: (marks[i][0], -marks[i][1]))
    for i in order:
        x, y, text, color = points[i]
        px, py = marks[i]
        width = char_w * len(text)
        chosen = offsets[0]
        for dx, dy in offsets:
            left = px + dx * scale if dx > 0 else px + dx * scale - width
            box = (left, py + dy * scale, left + width, py + dy * scale + height)
            if clear(box):
                chosen = (dx, dy)
                taken.append(box)
                break
        ax.annotate(text, (x, y), fontsize=fontsize, xytext=chosen, textcoords="offset points", color=color,
                    ha="left" if chosen[0] > 0 else "right", va="bottom")


def chart(classes: list[Content], results: list[Result], path: Path, cpu: bool = False) -> None:
    """Time against output size, one panel per content class: wall time of
    every row, or (``cpu``) one-core CPU time of the rows that use one core.
    The size axis stops at 1.5x bufpng's default file (or just above fpng's)
    so the crowd near the front stays readable; larger outputs (the floors,
    unfiltered writers) sit on the top edge as triangles, their size in the
    label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = -(-len(classes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.2 * cols, 5.6 * rows))
    panels = []
    for ax, content in zip(np.ravel(axes), classes):
        points = [r for r in results if r.content == content.name and not r.contender.startswith("numpy")
                  and (r.one_core or not cpu)]
        mine = find(results, content.name, "bufpng default")
        fast = find(results, content.name, "fpng")
        limit = 1.5 * mine.size if mine is not None else max(r.size for r in points)
        if fast is not None:
            limit = max(limit, 1.06 * fast.size)
        # The axis ends just above the largest output under the limit.
        cap = 1.04 * max(r.size for r in points if r.size <= limit)
        floor = min(r.size for r in points)
        top = cap + 0.06 * (cap - floor)
        unit, unit_name = (1e3, "KB") if cap < 1e5 else (1e6, "MB")
        labels = []
        for r in points:
            x = r.cpu_ms if cpu else r.ms
            above = r.size > cap
            y = cap if above else r.size
            star = r.contender.startswith("bufpng default")
            marker = "^" if above else ("*" if star else "o")
            ax.scatter(x, y / unit, color=GROUP_COLORS[r.group], s=90 if star else 24, marker=marker, zorder=3,
                       clip_on=False)
            size = f"{r.size / 1e6:.1f} MB" if r.size >= 100_000 else f"{r.size / 1e3:.1f} KB"
            text = label(r.contender) + (f" ({size})" if above else "")
            labels.append((x, y / unit, text, GROUP_COLORS[r.group]))
        ax.set_xscale("log")
        ax.set_ylim((floor - 0.04 * (top - floor)) / unit, top / unit)
        if any(r.size > cap for r in points):
            ax.axhline(cap / unit, color="gray", linewidth=0.6, linestyle="--")
        ax.set_xlabel("one-core CPU time per frame, ms (log)" if cpu else "encode wall time, ms (log)")
        ax.set_ylabel(f"output, {unit_name}")
        h, w = content.frame.shape[:2]
        ax.set_title(f"{content.name} ({w}x{h}x{content.frame.shape[2]} {content.frame.dtype})")
        ax.grid(True, which="both", alpha=0.3)
        panels.append((ax, labels))
    for ax in np.ravel(axes)[len(classes):]:
        ax.axis("off")
    groups = sorted({r.group for r in results}, key=list(GROUP_COLORS).index)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=GROUP_COLORS[g], label=g) for g in groups]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    if cpu:
        title = ("Single-frame PNG encode on one core: CPU time per frame vs file size (lower left is better). "
                 "b = bufpng level, * = bufpng's default (one thread), ^ = larger than the axis")
    else:
        title = ("Single-frame PNG encode: wall time vs file size (one thread except 'b default', which uses "
                 "every core; lower left is better)")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    for ax, labels in panels:
        place_labels(ax, labels)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(args: argparse.Namespace) -> Section:
    import cv2

    cv2.setNumThreads(1)
    classes = common.content_classes()
    results = measure_all(classes, args.quick)
    body = markdown(classes, results)
    files = []
    if args.write:
        common.DOCS.mkdir(exist_ok=True)
        for name, cpu in (("benchmarks.png", False), ("benchmarks-cpu.png", True)):
            chart(classes, results, common.DOCS / name, cpu=cpu)
            files.append(common.DOCS / name)
    return Section("encode", body, files, facts(classes, results))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This section's own options (none yet); common ones come from common.py."""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_arguments(parser)
    add_arguments(parser)
    arguments = parser.parse_args()
    section = run(arguments)
    print(section.markdown)
    if arguments.write:
        common.splice(section)
