"""The progress bar behind ``write_frames(..., progress=True)``.

write_frames calls the bar as ``bar(done, total)`` on the calling thread,
first with done=0, then once per finished frame, and calls ``bar.close()``
when the batch ends, successfully or not.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressBar:
    """done/total, frames/s and ETA on one line of ``stream`` (stderr by default).

    On a terminal the line is redrawn in place at most 10 times a second;
    otherwise (a log file, a pipe) a plain line is printed every few seconds
    and at the end, so logs stay readable.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.1 if self.interactive else 5.0
        self.started = time.monotonic()
        self.shown_at = -1.0
        self.last = ""
        self.shown_done = -1
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if not self.interactive and done == 0:
            return  # a log gains nothing from a line saying nothing happened yet
        if done == total or now - self.shown_at >= self.interval:
            self._show(now)

    def line(self, now: float | None = None) -> str:
        """The status text for the current state."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = []
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(self.width * fraction)
            if self.interactive:
                parts.append("[" + "#" * filled + "-" * (self.width - filled) + "]")
            parts.append(f"{self.done}/{self.total} frames ({100 * fraction:.0f}%)")
        else:
            parts.append(f"{self.done} frames")
        parts.append(f"{rate:.1f} frames/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        else:
            parts.append(f"{_duration(elapsed)} elapsed")
        return " ".join(parts)

    def _show(self, now: float) -> None:
        text = self.line(now)
        if self.interactive:
            # Pad over the previous, possibly longer, line.
            self.stream.write("\r" + text.ljust(len(self.last)))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown_at, self.last, self.shown_done = now, text, self.done

    def close(self) -> None:
        """Shows the final state and ends the line."""
        if self.done != self.shown_done and (self.interactive or self.done):
            self._show(time.monotonic())
        if self.interactive and self.last:
            self.stream.write("\n")
            self.stream.flush()
