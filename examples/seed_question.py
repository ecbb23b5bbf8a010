"""The original question's program, fixed.

The question passed a list of `cv2.imread` frames plus `width=shape[1]`,
`height=shape[0]` to a C++ `imwriteInC(frames, w, h)` that received
`str(frame)`, the array's printed text, and wrote garbage PNGs. bufpng reads
each frame through the buffer protocol instead:

    python examples/seed_question.py IMAGE [IMAGE ...] [-o OUTDIR]

With no images given it uses the Kodak photos in pytests/data/photos.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2  # the question's frames come from OpenCV; bufpng itself does not need it
import numpy as np

import bufpng

DEFAULT_IMAGES = sorted((Path(__file__).resolve().parents[1] / "pytests" / "data" / "photos").glob("kodim*.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("-o", "--output", type=Path, default=Path("seed-out"))
    args = parser.parse_args()

    frames = []
    for path in args.images:
        frame = cv2.imread(str(path))  # BGR uint8, shape (height, width, 3); None if unreadable
        if frame is None:
            parser.error(f"cannot read {path}")
        frames.append(frame)
    if not frames:
        parser.error("no images given")
    # All frames of one clip share a size; write_frames checks each against it.
    height, width = frames[0].shape[:2]
    frames = [f for f in frames if f.shape[:2] == (height, width)]

    # The fixed imwriteInC(frames, shape[1], shape[0]):
    paths = bufpng.write_frames(frames, frames[0].shape[1], frames[0].shape[0], directory=args.output)

    for path, frame in zip(paths, frames):
        # Read back with OpenCV: the same pixels, not a picture of the array's repr.
        back = cv2.imread(path)
        assert back is not None and np.array_equal(back, frame)
    print(f"wrote {len(paths)} frames of {width}x{height} to {args.output}/, each identical to its input")


if __name__ == "__main__":
    main()
