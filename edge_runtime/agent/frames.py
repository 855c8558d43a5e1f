"""Request validation at the boundary: a Bitmap becomes an (H, W, 3) RGB uint8 frame, or InvalidArgument.

Everything is checked before a request is queued, so a bad frame never reaches a batch: side lengths
64..4096, byte length = width x height x 3 (or height x the 4-byte-aligned row stride GStreamer sends,
e.g. 250x200 RGB as 200 rows of 752 bytes), for shared memory that the caller may read the segment,
that `size` is one of those lengths and that offset + size lies inside the segment. Frames from shared
memory are copied out (see `segments`), so a client changing its segment cannot touch a queued frame.
The mask target (anomaly_mask_params) is checked the same way, for write rights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from edge_runtime.agent.segments import Caller, CallerSegment
from edge_runtime.errors import InvalidArgument
from edge_runtime.image_limits import MAX_SIDE, MIN_SIDE


@dataclass(frozen=True)
class MaskTarget:
    """Where to write a segmentation mask in the caller's shared memory."""

    name: str
    offset: int
    caller: Caller
    handle: Any  # the caller's SharedMemoryHandle message, echoed in the response

    def write(self, mask: np.ndarray) -> None:
        with CallerSegment(self.name, self.caller, write=True) as segment:
            segment.write(self.offset, mask)


def check_size(width: int, height: int) -> None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidArgument(
            "bitmap must be %d..%d pixels a side, got width=%d height=%d" % (MIN_SIDE, MAX_SIDE, width, height)
        )


def aligned_stride(width: int) -> int:
    """The row stride of a frame whose rows are padded to 4 bytes (GStreamer's video/x-raw RGB)."""
    return (width * 3 + 3) & ~3


def _rows(data: Any, width: int, height: int, length: int) -> np.ndarray:
    flat = np.frombuffer(data, dtype=np.uint8)
    if length == width * height * 3:
        return flat.reshape(height, width, 3)
    stride = length // height
    return np.ascontiguousarray(flat.reshape(height, stride)[:, : width * 3]).reshape(height, width, 3)


def _length_ok(length: int, width: int, height: int) -> bool:
    return length in (width * height * 3, height * aligned_stride(width))


def _length_error(field: str, length: int, width: int, height: int) -> InvalidArgument:
    expected = width * height * 3
    return InvalidArgument(
        "%s %d bytes, expected width*height*3 = %d*%d*3 = %d (packed RGB888)" % (field, length, width, height, expected)
    )


def frame_from_bitmap(bitmap: Any, caller: Optional[Caller]) -> np.ndarray:
    """The RGB888 frame a Bitmap message describes (interleaved, byte 0 = R)."""
    width, height = int(bitmap.width), int(bitmap.height)
    check_size(width, height)
    kind = bitmap.WhichOneof("data")
    if kind == "byte_data":
        data = bitmap.byte_data
        if not _length_ok(len(data), width, height):
            raise _length_error("bitmap.byte_data has", len(data), width, height)
        return _rows(data, width, height, len(data))
    if kind == "shared_memory_handle":
        handle = bitmap.shared_memory_handle
        size = int(handle.size)
        if not _length_ok(size, width, height):
            raise _length_error("shared_memory_handle.size is", size, width, height)
        with CallerSegment(handle.name, caller) as segment:
            data = segment.read(int(handle.offset), size)
        return _rows(data, width, height, size)
    raise InvalidArgument("bitmap needs byte_data or shared_memory_handle, got neither")


def mask_target(params: Any, width: int, height: int, caller: Optional[Caller]) -> Optional[MaskTarget]:
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
    with CallerSegment(handle.name, caller, write=True) as segment:
        segment.check_range(int(handle.offset), needed)
    assert caller is not None  # CallerSegment refused a caller it does not know
    return MaskTarget(handle.name, int(handle.offset), caller, handle)
