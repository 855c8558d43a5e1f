"""Calibration images from a model package, preprocessed exactly as serving preprocesses them.

INT8 scales are only right if calibration sees the tensors inference will see, so batches go through
`edge_runtime.runtime.preprocess.preprocess_batch` with the package's InputSpec. Used by the CPU
quantiser on the build host and by the TensorRT calibrator on the device (Python 3.8 compatible).
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from edge_runtime.errors import ModelPackageError
from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.preprocess import preprocess_batch

DEFAULT_MAX_IMAGES = 256


def load_calibration_images(path: str, limit: Optional[int] = DEFAULT_MAX_IMAGES) -> np.ndarray:
    """`images` uint8 (N, H, W, 3) RGB from calibration.npz; at most `limit`, evenly spaced, in order."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "images" not in data.files:
                raise ModelPackageError("%s has no 'images' array (found: %s)" % (path, ", ".join(data.files)))
            images = data["images"]
    except (OSError, ValueError) as exc:
        raise ModelPackageError("%s is not a readable calibration.npz: %s" % (path, exc)) from exc
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ModelPackageError(
            "%s: 'images' must be uint8 (N, H, W, 3) with N >= 1, got %s %s" % (path, images.dtype, images.shape)
        )
    if limit and len(images) > limit:
        picks = np.linspace(0, len(images) - 1, limit).round().astype(np.int64)
        images = images[picks]
    return images


def preprocessed_batches(
    images: np.ndarray, spec: InputSpec, batch_size: int, full_only: bool = False
) -> Iterator[np.ndarray]:
    """Float32 NCHW batches; `full_only` drops a short last batch (TensorRT calibrates fixed shapes)."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        if full_only and len(chunk) < batch_size:
            return
        yield np.ascontiguousarray(preprocess_batch(list(chunk), spec))


def calibration_batch_size(image_count: int, wanted: int) -> int:
    """A batch size that yields at least one full batch."""
    return max(1, min(wanted, image_count))
