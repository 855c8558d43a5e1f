"""Write a model package all or nothing (edge_runtime.staging): a temp folder beside --output, then one rename.

On any failure the temp folder is removed and --output is left exactly as it was (absent or empty).
"""

from __future__ import annotations

import os
from typing import ContextManager

import numpy as np

from edge_runtime.errors import InvalidArgument
from edge_runtime.modelpkg.manifest import CALIBRATION_FILE
from edge_runtime.staging import check_free, staged_folder

MAX_CALIBRATION_IMAGES = 64


def _not_free(output: str) -> InvalidArgument:
    return InvalidArgument("output folder %s is not empty; choose a new folder for the model package" % output)


def check_output_free(output: str) -> None:
    """--output must be absent or an empty folder: a package is never mixed with other files."""
    check_free(os.path.abspath(output), _not_free)


def staged_package(output: str) -> ContextManager[str]:
    """Yield a temp folder; on normal exit it becomes `output`, on an exception it disappears."""
    return staged_folder(output, refuse=_not_free)


def write_calibration(package_dir: str, images: np.ndarray, seed: int = 0) -> str:
    """Up to 64 training images (uint8 RGB at the input size) for INT8 calibration by the compiler."""
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError("calibration images must be uint8 (N, H, W, 3), got %s %s" % (images.dtype, images.shape))
    count = min(MAX_CALIBRATION_IMAGES, len(images))
    chosen = np.sort(np.random.default_rng(seed).choice(len(images), size=count, replace=False))
    path = os.path.join(package_dir, CALIBRATION_FILE)
    np.savez_compressed(path, images=np.ascontiguousarray(images[chosen]))
    return path
