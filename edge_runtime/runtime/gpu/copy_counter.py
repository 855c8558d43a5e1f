"""A debug counter of host-side copies of frame bytes, per frame (= per request) and in total.

The zero-copy promise is checked, not assumed: every place the GPU path copies frame bytes on the host
(staging an inline frame into pinned memory, making a strided frame contiguous) records it here. A frame
read in place from registered shared memory records nothing, and the tests assert exactly that. The
agent can publish `snapshot()` in its metrics. Python 3.8 compatible.
"""

from __future__ import annotations

import threading
from typing import Dict, List


class BatchCopies:
    """Copies made while preparing one batch; index i is the batch's i-th frame."""

    def __init__(self, frames: int) -> None:
        self.per_frame: List[int] = [0] * frames
        self.bytes = 0

    def add(self, index: int, nbytes: int) -> None:
        self.per_frame[index] += 1
        self.bytes += int(nbytes)


class CopyCounter:
    """Totals over all batches, and the per-frame counts of the most recent batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_batch: List[int] = []
        self.frames = 0
        self.copies = 0
        self.bytes = 0
        self.zero_copy_frames = 0

    def begin(self, frames: int) -> BatchCopies:
        return BatchCopies(frames)

    def commit(self, batch: BatchCopies) -> None:
        with self._lock:
            self.last_batch = list(batch.per_frame)
            self.frames += len(batch.per_frame)
            self.copies += sum(batch.per_frame)
            self.bytes += batch.bytes
            self.zero_copy_frames += sum(1 for c in batch.per_frame if c == 0)

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            return {
                "frames": self.frames,
                "host_copies": self.copies,
                "host_copy_bytes": self.bytes,
                "zero_copy_frames": self.zero_copy_frames,
            }
