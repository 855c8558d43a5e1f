"""Line-per-step progress on stderr with elapsed time and ETA (no tqdm: logs stay readable in CI).

Shared by training and evaluation, so neither imports the other for it; `ProgressSink` is the plain
one-line-a-message callback of the compiler and the packaging jobs.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Callable, Optional

# Where a long host-side step (compile, packaging) says what it is doing: one line per call.
ProgressSink = Callable[[str], None]


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return "%d:%02d" % divmod(seconds, 60) if seconds < 3600 else "%d:%02d:%02d" % (
        seconds // 3600, (seconds % 3600) // 60, seconds % 60)


class Progress:
    """Counts steps of one phase; prints at most every `every` seconds, and always the last step."""

    def __init__(self, phase: str, total: int, stream: Optional[IO[str]] = None, every: float = 2.0,
                 quiet: bool = False) -> None:
        self.phase = phase
        self.total = max(1, int(total))
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.quiet = quiet
        self.done = 0
        self._start = time.monotonic()
        self._last = -1e9

    def step(self, count: int = 1, note: str = "") -> None:
        self.done = min(self.total, self.done + count)
        now = time.monotonic()
        if self.quiet or (now - self._last < self.every and self.done < self.total):
            return
        self._last = now
        elapsed = now - self._start
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        print("[%s] %d/%d %selapsed %s eta %s" % (self.phase, self.done, self.total,
                                                     (note + " ") if note else "", format_seconds(elapsed),
                                                     format_seconds(eta)), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        if not self.quiet:
            print("[%s] %s" % (self.phase, text), file=self.stream, flush=True)
