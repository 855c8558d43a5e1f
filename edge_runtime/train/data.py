"""Dataset samples to in-memory arrays at the model's input size.

Images are resized with the runtime's own `resize_frame`, so training sees exactly the pixels the
agent will feed the network. Masks become class-index maps in the training set's class order (class 0
background), resized with nearest neighbour like the runtime's mask output.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from edge_runtime.datasets.images import class_lookup, load_image, load_mask, mask_to_labels
from edge_runtime.datasets.types import MaskClass, Sample
from edge_runtime.errors import DatasetError
from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.progress import Progress
from edge_runtime.runtime.preprocess import resize_frame


@dataclass(frozen=True)
class ImageSet:
    """`images` uint8 (N, H, W, 3) RGB; `labels` int64 (N,); `masks` uint8 (N, H, W) class indices or None."""

    samples: Tuple[Sample, ...]
    images: np.ndarray
    labels: np.ndarray
    masks: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.samples)

    def subset(self, indices: Sequence[int]) -> "ImageSet":
        idx = np.asarray(indices, dtype=np.int64)
        return ImageSet(tuple(self.samples[i] for i in idx), self.images[idx], self.labels[idx],
                        None if self.masks is None else self.masks[idx])


def load_mask_labels(sample: Sample, classes: Sequence[MaskClass], spec: InputSpec) -> np.ndarray:
    """HxW class map at the input size; a normal image without a mask is all background."""
    if not sample.mask_ref:
        return np.zeros((spec.height, spec.width), dtype=np.uint8)
    mask = load_mask(sample.mask_ref)
    labels = class_lookup(sample, classes)[mask_to_labels(mask, sample.mask_classes)]
    return cv2.resize(labels, (spec.width, spec.height), interpolation=cv2.INTER_NEAREST)


def _load_one(sample: Sample, spec: InputSpec, classes: Optional[Sequence[MaskClass]]
              ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    image = resize_frame(load_image(sample.image_ref), spec)
    mask = load_mask_labels(sample, classes, spec) if classes is not None else None
    return image, mask


def load_image_set(samples: Sequence[Sample], spec: InputSpec, classes: Optional[Sequence[MaskClass]] = None,
                   phase: str = "load", quiet: bool = False, workers: int = 2) -> ImageSet:
    """Decode and resize every labeled sample; masks too when `classes` is given (segmentation)."""
    samples = tuple(s for s in samples if s.label is not None)
    if not samples:
        raise DatasetError("no labeled images to load")
    images = np.empty((len(samples), spec.height, spec.width, 3), dtype=np.uint8)
    masks = np.empty((len(samples), spec.height, spec.width), dtype=np.uint8) if classes is not None else None
    progress = Progress(phase, len(samples), quiet=quiet)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, (image, mask) in enumerate(pool.map(lambda s: _load_one(s, spec, classes), samples)):
            images[i] = image
            if masks is not None and mask is not None:
                masks[i] = mask
            progress.step()
    labels = np.asarray([int(s.label or 0) for s in samples], dtype=np.int64)
    return ImageSet(samples, images, labels, masks)
