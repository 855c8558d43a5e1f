"""NumPy twin of the CUDA kernels in kernels.py: the same tables, the same operations in the same order.

A test double, kept under tests/ (scripts/gpu_check.py imports it from the checkout too). Why it
exists: the resize arithmetic cannot be run on a GPU in CI, so it is verified here against cv2
(bit-exact uint8 on the tested OpenCV), and on a GPU machine scripts/gpu_check.py compares the kernels
with this and with the CPU path. Every float32 step below is one IEEE operation, as the kernels write it
with __fmul_rn/__fadd_rn (no fused multiply-add), and rounding is half to even (__float2int_rn / rint).
Python 3.8 compatible; NumPy only.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from edge_runtime.errors import InvalidArgument
from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.gpu.preprocess_cuda import affine_coefficients, check_frame
from edge_runtime.runtime.gpu.resize_tables import (
    MODE_AREA,
    MODE_AREA_2X2,
    MODE_LINEAR,
    AreaAxis,
    LinearAxis,
    ResizePlan,
    nearest_axis,
    plan_resize,
)

OUTPUT_DTYPES = {"float32": np.float32, "float16": np.float16}


def resize_reference(frame: np.ndarray, plan: ResizePlan) -> np.ndarray:
    """uint8 (dst_h, dst_w, 3) exactly as the resize kernels compute it."""
    check_frame(frame)
    if frame.shape[:2] != (plan.src_h, plan.src_w):
        raise InvalidArgument(
            "plan is for %dx%d frames, got %dx%d" % (plan.src_w, plan.src_h, frame.shape[1], frame.shape[0])
        )
    if plan.mode == MODE_LINEAR:
        return _linear(frame, plan)
    if plan.mode == MODE_AREA:
        return _area(frame, plan)
    return _area_integer(frame, plan)


def _linear(frame: np.ndarray, plan: ResizePlan) -> np.ndarray:
    x, y = plan.x, plan.y
    assert isinstance(x, LinearAxis) and isinstance(y, LinearAxis)
    src = frame.astype(np.int32)

    def horizontal(rows: np.ndarray) -> np.ndarray:
        r = src[rows]
        return r[:, x.i0, :] * x.w0[None, :, None] + r[:, x.i1, :] * x.w1[None, :, None]

    h0, h1 = horizontal(y.i0), horizontal(y.i1)
    v = (((h0 >> 4) * y.w0[:, None, None]) >> 16) + (((h1 >> 4) * y.w1[:, None, None]) >> 16)
    return np.clip((v + 2) >> 2, 0, 255).astype(np.uint8)


def _area(frame: np.ndarray, plan: ResizePlan) -> np.ndarray:
    x, y = plan.x, plan.y
    assert isinstance(x, AreaAxis) and isinstance(y, AreaAxis)
    src = frame.astype(np.float32)
    count_x, count_y = np.diff(x.start), np.diff(y.start)
    total = np.zeros((plan.dst_h, plan.dst_w, 3), dtype=np.float32)
    for j in range(int(count_y.max())):
        tap_y = np.minimum(y.start[:-1] + j, len(y.index) - 1)
        rows = src[y.index[tap_y]]
        row_sum = np.zeros_like(total)
        for k in range(int(count_x.max())):
            tap_x = np.minimum(x.start[:-1] + k, len(x.index) - 1)
            product = rows[:, x.index[tap_x], :] * x.weight[tap_x][None, :, None]
            row_sum = np.where((k < count_x)[None, :, None], row_sum + product, row_sum)
        weighted = y.weight[tap_y][:, None, None] * row_sum
        first = j == 0
        total = np.where((j < count_y)[:, None, None], weighted if first else total + weighted, total)
    return np.clip(np.rint(total), 0, 255).astype(np.uint8)


def _area_integer(frame: np.ndarray, plan: ResizePlan) -> np.ndarray:
    sx, sy, dh, dw = plan.scale_x, plan.scale_y, plan.dst_h, plan.dst_w
    cells = frame[: dh * sy, : dw * sx].astype(np.int32).reshape(dh, sy, dw, sx, 3)
    total = cells.sum(axis=(1, 3))
    if plan.mode == MODE_AREA_2X2:
        return ((total + 2) >> 2).astype(np.uint8)
    inverse = np.float32(1.0) / np.float32(sx * sy)
    return np.clip(np.rint(total.astype(np.float32) * inverse), 0, 255).astype(np.uint8)


def normalise_reference(
    resized: np.ndarray, a: np.ndarray, b: np.ndarray, bgr: bool, dtype: str = "float32"
) -> np.ndarray:
    """(3, H, W): output channel c = float32(pixel[src c]) * a[c] + b[c], src c = 2 - c for BGR."""
    if dtype not in OUTPUT_DTYPES:
        raise InvalidArgument("output dtype must be float32 or float16, got %r" % (dtype,))
    planes = resized[..., ::-1] if bgr else resized
    chw = planes.transpose(2, 0, 1).astype(np.float32)
    values = chw * np.asarray(a, np.float32)[:, None, None] + np.asarray(b, np.float32)[:, None, None]
    return values.astype(OUTPUT_DTYPES[dtype])


def preprocess_reference(
    frames: Sequence[np.ndarray], spec: InputSpec, dtype: str = "float32", out: Optional[np.ndarray] = None
) -> np.ndarray:
    """The whole GPU preprocessing of a batch, in NumPy: (N, 3, H, W) float32 or float16."""
    a, b = affine_coefficients(spec)
    if out is None:
        out = np.empty((len(frames), 3, spec.height, spec.width), dtype=OUTPUT_DTYPES[dtype])
    for i, frame in enumerate(frames):
        check_frame(frame)
        plan = plan_resize(frame.shape[1], frame.shape[0], spec.width, spec.height, spec.interpolation)
        out[i] = normalise_reference(resize_reference(frame, plan), a, b, spec.color_order == "BGR", dtype)
    return out[: len(frames)]


def segment_reference(seg: np.ndarray, width: int, height: int) -> Tuple[np.ndarray, np.ndarray]:
    """(class map uint8 (height, width), per-class pixel counts int64) from one (C, h, w) score map.

    Argmax takes the first maximum (as np.argmax); the map is resized like cv2 INTER_NEAREST.
    """
    if seg.ndim != 3 or not 1 <= seg.shape[0] <= 255:
        raise InvalidArgument("expected class scores shaped (C, h, w) with 1..255 classes, got %s" % (seg.shape,))
    labels = np.argmax(seg, axis=0).astype(np.uint8)
    rows = nearest_axis(seg.shape[1], height)
    cols = nearest_axis(seg.shape[2], width)
    class_map = labels[rows][:, cols]
    counts = np.bincount(class_map.reshape(-1), minlength=seg.shape[0]).astype(np.int64)
    return class_map, counts
