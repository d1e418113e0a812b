"""The audit's progress on stderr: a one-line bar with count, rate and ETA on a terminal; elsewhere (a CI log, a
pipe) a plain line at most every 30 seconds, as `notedraft eval` does. Counts only: no note id, no note text."""

from __future__ import annotations

import sys
import time


class Progress:
    LOG_EVERY_S = 30.0
    DRAW_EVERY_S = 0.1  # a terminal redraw per note would cost more than some notes' validation

    def __init__(self, total: int, stream=None, mode: str = "auto", skipped: int = 0):
        """mode: "auto" (a bar on a terminal, lines elsewhere), "bar", "lines" or "off"."""
        self.stream = stream or sys.stderr
        self.off = mode == "off"
        self.tty = self.stream.isatty() if mode == "auto" else mode == "bar"
        self.total, self.skipped = total, skipped
        self.done = self.not_supported = self.errors = 0
        self.started = self.drawn = self.logged = time.monotonic()

    def tick(self, status: str) -> None:
        self.done += 1
        self.not_supported += status == "not_supported"
        self.errors += status == "error"
        if self.off:
            return
        now = time.monotonic()
        if self.tty and now - self.drawn >= self.DRAW_EVERY_S:
            self.drawn = now
            self._draw(now)
        elif not self.tty and now - self.logged >= self.LOG_EVERY_S:
            self.logged = now
            self.stream.write(f"  audit: {self._counts(now)}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.off or not self.done:
            return
        now = time.monotonic()
        if self.tty:
            self._draw(now)
            self.stream.write("\n")
        else:
            self.stream.write(f"  audit: {self._counts(now)}, finished\n")
        self.stream.flush()

    def _counts(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        total = max(self.total - self.skipped, self.done)
        rate = self.done / elapsed
        eta = (total - self.done) / rate if rate > 0 else 0.0
        resumed = f" (+{self.skipped} from the earlier run)" if self.skipped else ""
        return (f"{self.done}/{total} notes{resumed}, {self.not_supported} not supported, {self.errors} errors, "
                f"{rate:.0f} notes/s, {elapsed:.0f} s elapsed, ETA {_clock(eta)}")

    def _draw(self, now: float) -> None:
        total = max(self.total - self.skipped, self.done, 1)
        width = 24
        filled = min(width, int(width * self.done / total))
        self.stream.write(f"\r  audit [{'#' * filled}{'.' * (width - filled)}] {self._counts(now)}\x1b[K")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"
