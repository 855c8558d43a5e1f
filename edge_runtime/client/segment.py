"""The client's own shared-memory segment: one per client, reused for every frame, grown on demand.

Layout: the frame at offset 0, the mask (when the caller asks the agent to write it here) at the next
64-byte boundary after the frame. Growing replaces the segment under the same name; the agent notices
the new inode and size and reopens it. Not thread-safe on its own: the client serialises its use.
Python 3.8 compatible.
"""

from __future__ import annotations

import os
import uuid
from typing import Optional, Tuple

import numpy as np

from edge_runtime.shm import SharedMemorySegment

ALIGN = 64
GROW_STEP = 1 << 20  # round sizes up to whole MiB so small size changes do not recreate the segment


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def default_segment_name() -> str:
    return "/edge-runtime-client-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])


class ClientSegment:
    """Owns (creates, grows, unlinks) one POSIX segment for frames and masks."""

    def __init__(self, name: Optional[str] = None, mode: int = 0o660) -> None:
        self.name = name or default_segment_name()
        self.mode = mode
        self._segment: Optional[SharedMemorySegment] = None

    @property
    def size(self) -> int:
        return self._segment.size if self._segment is not None else 0

    def layout(self, frame_bytes: int, with_mask: bool) -> Tuple[int, int]:
        """(mask offset, total bytes needed) for a frame of `frame_bytes`."""
        mask_offset = _align(frame_bytes)
        return mask_offset, (mask_offset + frame_bytes if with_mask else frame_bytes)

    def ensure(self, needed: int) -> SharedMemorySegment:
        """The segment, at least `needed` bytes large (recreated bigger when it is not)."""
        segment = self._segment
        if segment is not None and segment.size >= needed:
            return segment
        self.release()
        size = (needed + GROW_STEP - 1) // GROW_STEP * GROW_STEP
        self._segment = SharedMemorySegment.create(self.name, size, mode=self.mode)
        return self._segment

    def write_frame(self, frame: np.ndarray, with_mask: bool) -> Tuple[int, int]:
        """Copy the frame to offset 0; returns (frame bytes, mask offset)."""
        mask_offset, needed = self.layout(frame.nbytes, with_mask)
        self.ensure(needed).write(0, frame)
        return frame.nbytes, mask_offset

    def read_array(self, offset: int, shape: Tuple[int, int, int]) -> np.ndarray:
        """A copy (the segment is reused by the next call) of an RGB image at `offset`."""
        if self._segment is None:
            raise ValueError("shared memory segment %s does not exist yet" % self.name)
        return self._segment.array(offset, shape).copy()

    def release(self) -> None:
        """Unmap and unlink. Idempotent."""
        segment, self._segment = self._segment, None
        if segment is not None:
            segment.close()
            segment.unlink()
