"""CPU preprocessing: any-size RGB888 frames to the network's normalised NCHW float batch.

Matches the original Lookout models: area interpolation when shrinking (linear when enlarging),
scale by 1/255, ImageNet mean and std. The GPU path (runtime/cuda) must match this within 1e-3.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from edge_runtime.modelpkg.manifest import InputSpec


def interpolation_flag(spec: InputSpec, src_w: int, src_h: int) -> int:
    """Area interpolation when shrinking on both axes, linear otherwise (cv2's area upscaling is linear-like)."""
    if spec.interpolation == "linear" or src_w < spec.width or src_h < spec.height:
        return cv2.INTER_LINEAR
    return cv2.INTER_AREA


def affine_coefficients(spec: InputSpec) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel a, b so that normalised = pixel * a + b (in the network's channel order)."""
    std = np.asarray(spec.std, dtype=np.float32)
    mean = np.asarray(spec.mean, dtype=np.float32)
    a = np.float32(spec.scale) / std
    b = -mean / std
    return a.astype(np.float32), b.astype(np.float32)


def resize_frame(frame: np.ndarray, spec: InputSpec) -> np.ndarray:
    h, w = frame.shape[:2]
    if (w, h) == (spec.width, spec.height):
        return frame
    return cv2.resize(frame, (spec.width, spec.height), interpolation=interpolation_flag(spec, w, h))


def preprocess_batch(
    frames: Sequence[np.ndarray], spec: InputSpec, out: Optional[np.ndarray] = None
) -> np.ndarray:
    """Resize each RGB frame, then normalise the whole batch in one vectorised pass into `out`."""
    n = len(frames)
    resized = np.empty((n, spec.height, spec.width, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        resized[i] = resize_frame(frame, spec)
    if spec.color_order == "BGR":
        resized = resized[..., ::-1]
    a, b = affine_coefficients(spec)
    if out is None:
        out = np.empty((n, 3, spec.height, spec.width), dtype=np.float32)
    nchw = resized.transpose(0, 3, 1, 2)
    np.multiply(nchw, a[None, :, None, None], out=out[:n], dtype=np.float32, casting="unsafe")
    out[:n] += b[None, :, None, None]
    return out[:n]
