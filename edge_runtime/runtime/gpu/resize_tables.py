"""Index and weight tables that reproduce OpenCV's uint8 `cv2.resize` exactly, for the CUDA kernels.

The CPU path (runtime/preprocess.py) resizes with cv2: INTER_AREA when shrinking both axes, else
INTER_LINEAR. A GPU result within 1e-3 of the CPU result after normalisation means the same uint8 pixel
almost everywhere (one grey level is ~0.017 after ImageNet scaling), so the kernels repeat OpenCV's
arithmetic instead of "a bilinear filter": the same coordinates computed in the same precision, the same
11-bit fixed-point linear weights, the same float32 area weights summed in the same order, the same
rounding. This module computes those per-axis tables on the host (once per frame size, cached by the
caller); the kernels and the NumPy reference (tests/gpu/kernel_reference.py) only index them.

OpenCV's choices mirrored here (imgproc/src/resize.cpp, `hal::resize` and helpers):
- scale = 1 / (dst / src) in double; integer scales within DBL_EPSILON select the "fast" area path;
  INTER_LINEAR with an exact 2x2 shrink is turned into INTER_AREA.
- area, integer scale 2x2 on 3 channels: (a + b + c + d + 2) >> 2; other integer scales: the integer
  sum times float32(1 / area), rounded half to even.
- area, fractional scale: `computeResizeAreaTab` cells; per output pixel, each source row's float32
  horizontal sum, then the float32 weighted sum of those rows, rounded half to even.
- linear: source x = float32((d + 0.5) * scale - 0.5), weights round((1 - f) * 2048) and round(f * 2048),
  horizontal taps clamped at both edges, vertical rows clamped; vertical pass as OpenCV's SIMD kernel
  does it: ((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16), then (v + 2) >> 2.
Python 3.8 compatible; NumPy only.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from edge_runtime.errors import InvalidArgument

DBL_EPSILON = sys.float_info.epsilon
COEF_BITS = 11
COEF_SCALE = 1 << COEF_BITS  # OpenCV's INTER_RESIZE_COEF_SCALE

MODE_LINEAR = "linear"
MODE_AREA = "area"  # fractional scale: weighted cells
MODE_AREA_INT = "area_int"  # integer scale (incl. 1x1 = plain copy): integer sum * float32(1/area)
MODE_AREA_2X2 = "area_2x2"  # integer 2x2 on 3 channels: (sum + 2) >> 2
MODES = (MODE_LINEAR, MODE_AREA, MODE_AREA_INT, MODE_AREA_2X2)


@dataclass(frozen=True)
class LinearAxis:
    """Per output index: two source indices (already clamped) and their 11-bit weights."""

    i0: np.ndarray  # int32
    i1: np.ndarray  # int32
    w0: np.ndarray  # int32 holding int16 values
    w1: np.ndarray  # int32 holding int16 values


@dataclass(frozen=True)
class AreaAxis:
    """Per output index d: taps start[d]..start[d+1]-1 of (index, weight), in OpenCV's order."""

    start: np.ndarray  # int32, length n + 1
    index: np.ndarray  # int32
    weight: np.ndarray  # float32


@dataclass(frozen=True)
class ResizePlan:
    """How one (source size -> destination size) resize is computed; `x`/`y` depend on `mode`."""

    mode: str
    src_w: int
    src_h: int
    dst_w: int
    dst_h: int
    scale_x: int = 1  # integer area modes only
    scale_y: int = 1
    x: object = None  # LinearAxis or AreaAxis (None for the integer area modes)
    y: object = None

    @property
    def max_taps(self) -> Tuple[int, int]:
        """Largest number of source taps one output pixel reads along x and y (kernel loop bounds)."""
        if self.mode in (MODE_AREA_INT, MODE_AREA_2X2):
            return self.scale_x, self.scale_y
        if self.mode == MODE_LINEAR:
            return 2, 2
        assert isinstance(self.x, AreaAxis) and isinstance(self.y, AreaAxis)
        return int(np.diff(self.x.start).max()), int(np.diff(self.y.start).max())


def cv_round(value: float) -> int:
    """OpenCV's cvRound/saturate_cast<int>(double): round half to even."""
    return int(np.rint(value))


def choose_interpolation(src_w: int, src_h: int, dst_w: int, dst_h: int, interpolation: str) -> str:
    """The CPU path's choice (preprocess.interpolation_flag): area only when shrinking both axes."""
    if interpolation not in ("area", "linear"):
        raise InvalidArgument("interpolation must be area or linear, got %r" % (interpolation,))
    if interpolation == "linear" or src_w < dst_w or src_h < dst_h:
        return "linear"
    return "area"


def plan_resize(src_w: int, src_h: int, dst_w: int, dst_h: int, interpolation: str = "area") -> ResizePlan:
    """The exact cv2 computation for an RGB888 frame of src size resized to dst size."""
    for name, value in (("src_w", src_w), ("src_h", src_h), ("dst_w", dst_w), ("dst_h", dst_h)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidArgument("%s must be a positive integer, got %r" % (name, value))
    if (src_w, src_h) == (dst_w, dst_h):  # preprocess.resize_frame returns the frame itself
        return ResizePlan(MODE_AREA_INT, src_w, src_h, dst_w, dst_h, 1, 1)
    method = choose_interpolation(src_w, src_h, dst_w, dst_h, interpolation)
    scale_x = 1.0 / (float(dst_w) / src_w)
    scale_y = 1.0 / (float(dst_h) / src_h)
    iscale_x, iscale_y = cv_round(scale_x), cv_round(scale_y)
    area_fast = abs(scale_x - iscale_x) < DBL_EPSILON and abs(scale_y - iscale_y) < DBL_EPSILON
    if method == "linear" and area_fast and (iscale_x, iscale_y) == (2, 2):
        method = "area"  # what cv2 does itself: the exact 2x2 shrink is the same average
    if method == "area" and scale_x >= 1 and scale_y >= 1:
        if area_fast:
            mode = MODE_AREA_2X2 if (iscale_x, iscale_y) == (2, 2) else MODE_AREA_INT
            return ResizePlan(mode, src_w, src_h, dst_w, dst_h, iscale_x, iscale_y)
        area_x, area_y = area_axis(src_w, dst_w, scale_x), area_axis(src_h, dst_h, scale_y)
        return ResizePlan(MODE_AREA, src_w, src_h, dst_w, dst_h, x=area_x, y=area_y)
    x = linear_axis(src_w, dst_w, scale_x, clamp_weights=True)
    y = linear_axis(src_h, dst_h, scale_y, clamp_weights=False)
    return ResizePlan(MODE_LINEAR, src_w, src_h, dst_w, dst_h, x=x, y=y)


def linear_axis(src: int, dst: int, scale: float, clamp_weights: bool) -> LinearAxis:
    """OpenCV's linear coordinates; x clamps the fraction at the edges, y only clamps the rows."""
    d = np.arange(dst, dtype=np.float64)
    f = ((d + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if clamp_weights:
        low = s < 0
        f[low], s[low] = 0, 0
        high = s >= src - 1
        f[high], s[high] = 0, src - 1
    one = np.float32(1.0)
    w0 = np.rint((one - f) * np.float32(COEF_SCALE))
    w1 = np.rint(f * np.float32(COEF_SCALE))
    i0 = np.clip(s, 0, src - 1)
    i1 = np.clip(s + 1, 0, src - 1)
    return LinearAxis(i0.astype(np.int32), i1.astype(np.int32), w0.astype(np.int32), w1.astype(np.int32))


def area_axis(src: int, dst: int, scale: float) -> AreaAxis:
    """OpenCV's computeResizeAreaTab for one axis, grouped per output index."""
    starts, indices, weights = [0], [], []
    for d in range(dst):
        fs1 = d * scale
        fs2 = fs1 + scale
        cell = min(scale, src - fs1)
        s2 = min(int(math.floor(fs2)), src - 1)
        s1 = min(int(math.ceil(fs1)), s2)
        if s1 - fs1 > 1e-3:
            indices.append(s1 - 1)
            weights.append((s1 - fs1) / cell)
        for s in range(s1, s2):
            indices.append(s)
            weights.append(1.0 / cell)
        if fs2 - s2 > 1e-3:
            indices.append(s2)
            weights.append(min(min(fs2 - s2, 1.0), cell) / cell)
        starts.append(len(indices))
    return AreaAxis(
        np.asarray(starts, dtype=np.int32),
        np.asarray(indices, dtype=np.int32),
        np.asarray(weights, dtype=np.float64).astype(np.float32),
    )


def nearest_axis(src: int, dst: int) -> np.ndarray:
    """cv2 INTER_NEAREST source index per output index: min(floor(d * (1 / (dst / src))), src - 1)."""
    inverse = 1.0 / (float(dst) / src)
    index = np.floor(np.arange(dst, dtype=np.float64) * inverse).astype(np.int64)
    return np.minimum(index, src - 1).astype(np.int32)
