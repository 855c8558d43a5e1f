"""Line-per-step progress on stderr with elapsed time and ETA (no tqdm: logs stay readable in CI).

Shared by training and evaluation, so neither imports the other for it; `ProgressSink` is the plain
one-line-a-message callback of the compiler and the packaging jobs.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import IO, Callable, Iterator, Optional

# Where a long host-side step (compile, packaging) says what it is doing: one line per call.
ProgressSink = Callable[[str], None]


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return "%d:%02d" % divmod(seconds, 60) if seconds < 3600 else "%d:%02d:%02d" % (
        seconds // 3600, (seconds % 3600) // 60, seconds % 60)


_thread = threading.local()


class _TeeLines:
    """A text stream that passes writes to stderr and each finished line to a sink."""

    def __init__(self, sink: ProgressSink, stream: IO[str]) -> None:
        self._sink = sink
        self._stream = stream
        self._partial = ""

    def write(self, text: str) -> int:
        self._stream.write(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                self._sink(line)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


@contextlib.contextmanager
def lines_to(sink: ProgressSink) -> Iterator[None]:
    """Progress made on this thread inside the block also hands each line to `sink` (the server shows a
    training job's progress on its model this way; other threads' progress is untouched)."""
    previous = getattr(_thread, "stream", None)
    _thread.stream = _TeeLines(sink, sys.stderr)
    try:
        yield
    finally:
        _thread.stream = previous


class Progress:
    """Counts steps of one phase; prints at most every `every` seconds, and always the last step."""

    def __init__(self, phase: str, total: int, stream: Optional[IO[str]] = None, every: float = 2.0,
                 quiet: bool = False) -> None:
        self.phase = phase
        self.total = max(1, int(total))
        self.stream = stream if stream is not None else (getattr(_thread, "stream", None) or sys.stderr)
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
