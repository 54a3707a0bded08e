"""Progress on stderr: takes done, failures and ETA.

On a terminal one line is redrawn in place; in a farm log (not a TTY) a plain line is
printed at most every `interval_s` seconds and at the end, so logs stay short but alive.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    def __init__(self, total: int, skipped: int = 0, stream: TextIO | None = None, interval_s: float = 5.0):
        self.total = total
        self.skipped = skipped  # already complete from an earlier run
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = 0.2 if self.tty else interval_s
        self.start = time.monotonic()
        self._last_print = 0.0
        self._printed_done = -1  # `done` at the last print, so close() does not repeat it

    def update(self, ok: int = 0, failed: int = 0) -> None:
        self.done += ok + failed
        self.failed += failed
        now = time.monotonic()
        if now - self._last_print >= self.interval_s or self.done == self.total:
            self._last_print = now
            self._print(final=False)

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        todo = self.total - self.done
        eta = _clock(elapsed / self.done * todo) if self.done else "--:--"
        width = 24
        filled = int(width * (self.done / self.total)) if self.total else width
        bar = "#" * filled + "." * (width - filled)
        skipped = f", {self.skipped} already done" if self.skipped else ""
        return f"[{bar}] {self.done}/{self.total} takes, {self.failed} failed{skipped}, elapsed {_clock(elapsed)}, ETA {eta}"

    def _print(self, final: bool) -> None:
        self._printed_done = self.done
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._printed_done != self.done or self.tty:
            self._print(final=True)
