"""A live one-line progress display on stderr (rewritten in place on a terminal, a line every few
seconds when stderr is a file or pipe), with no dependency."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

PIPE_INTERVAL_S = 5.0


class StatusLine:
    """One line of benchmark status, kept current (see the module docstring)."""

    def __init__(self, stream: Optional[TextIO] = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = time.monotonic()  # on a pipe, the first line comes after an interval, with numbers
        self._width = 0

    def update(self, text: str) -> None:
        """Show `text` as the current state (throttled when not a terminal)."""
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
            return
        now = time.monotonic()
        if now - self._last >= PIPE_INTERVAL_S:
            self._last = now
            self.stream.write(text + "\n")
            self.stream.flush()

    def done(self, text: str) -> None:
        """Finish the current step with a permanent line."""
        if not self.enabled:
            return
        prefix = "\r" if self.tty else ""
        self.stream.write(prefix + text.ljust(self._width if self.tty else 0) + "\n")
        self.stream.flush()
        self._width = 0
        self._last = time.monotonic()
