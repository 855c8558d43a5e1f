"""Request validation at the boundary: a Bitmap becomes an (H, W, 3) RGB uint8 frame, or InvalidArgument.

Everything is checked before a request is queued, so a bad frame never reaches a batch: side lengths
64..4096, byte length = width x height x 3, for shared memory that the segment exists, that `size`
is width x height x 3 and that offset + size lies inside the segment. Frames from shared memory are
zero-copy views of the segment. The mask target (anomaly_mask_params) is checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from edge_runtime.errors import InvalidArgument, NotFound
from edge_runtime.shm import SegmentCache, SharedMemorySegment

MIN_SIDE = 64
MAX_SIDE = 4096


@dataclass(frozen=True)
class MaskTarget:
    """Where to write a segmentation mask in the caller's shared memory."""

    segment: SharedMemorySegment
    offset: int
    handle: Any  # the caller's SharedMemoryHandle message, echoed in the response


def check_size(width: int, height: int) -> None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidArgument(
            "bitmap must be %d..%d pixels a side, got width=%d height=%d" % (MIN_SIDE, MAX_SIDE, width, height)
        )


def _segment(segments: SegmentCache, name: str) -> SharedMemorySegment:
    try:
        return segments.get(name)
    except NotFound as exc:  # a missing segment is a bad argument, not an unknown model
        raise InvalidArgument(str(exc)) from None


def frame_from_bitmap(bitmap: Any, segments: SegmentCache) -> np.ndarray:
    """The RGB888 frame a Bitmap message describes (packed, interleaved, byte 0 = R)."""
    width, height = int(bitmap.width), int(bitmap.height)
    check_size(width, height)
    expected = width * height * 3
    kind = bitmap.WhichOneof("data")
    if kind == "byte_data":
        data = bitmap.byte_data
        if len(data) != expected:
            raise InvalidArgument(
                "bitmap.byte_data has %d bytes, expected width*height*3 = %d*%d*3 = %d (packed RGB888)"
                % (len(data), width, height, expected)
            )
        return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
    if kind == "shared_memory_handle":
        handle = bitmap.shared_memory_handle
        if handle.size != expected:
            raise InvalidArgument(
                "shared_memory_handle.size is %d, expected width*height*3 = %d*%d*3 = %d"
                % (handle.size, width, height, expected)
            )
        segment = _segment(segments, handle.name)
        segment.check_range(int(handle.offset), expected)
        return segment.array(int(handle.offset), (height, width, 3))
    raise InvalidArgument("bitmap needs byte_data or shared_memory_handle, got neither")


def mask_target(params: Any, width: int, height: int, segments: SegmentCache) -> Optional[MaskTarget]:
    """The caller's segment for the mask, from anomaly_mask_params field 2 (or the legacy field 3)."""
    if params is None:
        return None
    if params.HasField("shared_memory_handle"):
        handle = params.shared_memory_handle
    elif params.HasField("shared_memory_handle_v0"):
        handle = params.shared_memory_handle_v0
    else:
        return None
    needed = width * height * 3
    if handle.size and handle.size < needed:
        raise InvalidArgument(
            "anomaly_mask_params.shared_memory_handle.size is %d, the mask needs width*height*3 = %d bytes"
            % (handle.size, needed)
        )
    segment = _segment(segments, handle.name)
    if not segment.writable:
        raise InvalidArgument("shared memory segment %s for the mask is not writable by the agent" % handle.name)
    segment.check_range(int(handle.offset), needed)
    return MaskTarget(segment, int(handle.offset), handle)
