"""Run the frozen part of a backbone once over every training image (and its augmented views).

Training then touches only the cache, which is what makes CPU training fast: the expensive early
stages at high resolution never run twice. Views are elements of the dihedral group (rotations by
90 degrees and mirror images), real re-renderings of the image, not approximations on features.
Cached tensors are float16 to halve memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch

from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.preprocess import preprocess_batch
from edge_runtime.train.backbones import StageChain
from edge_runtime.train.progress import Progress

VIEW_ORDER = (0, 4, 2, 6, 1, 5, 3, 7)  # identity, mirror, 180 degrees, vertical mirror, then 90-degree turns


def dihedral_numpy(images: np.ndarray, view: int) -> np.ndarray:
    """View 0..7 of (N, H, W[, C]) arrays: rotate by 90 * (view % 4) degrees, then mirror if view >= 4."""
    out = np.rot90(images, view % 4, axes=(1, 2))
    if view >= 4:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)


def views_for(count: int, square: bool) -> List[int]:
    """The first `count` views; a non-square input only allows those that keep its shape."""
    allowed = [v for v in VIEW_ORDER if square or v % 2 == 0]
    return allowed[: max(1, count)]


@dataclass
class FeatureCache:
    """`inputs`: the output of the last frozen stage (None when everything is frozen); `taps`: the frozen
    stages' tap outputs; `labels`/`masks` aligned with them; rows are view-major (view 0 first)."""

    inputs: Optional[torch.Tensor]
    taps: List[torch.Tensor]
    labels: torch.Tensor
    masks: Optional[torch.Tensor]
    views: int
    images_per_view: int


def normalise(images: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """uint8 NHWC at the input size -> the network's float NCHW, through the runtime's own code."""
    return torch.from_numpy(preprocess_batch(list(images), spec))


@torch.no_grad()
def build_cache(chain: StageChain, images: np.ndarray, labels: np.ndarray, masks: Optional[np.ndarray],
                spec: InputSpec, frozen_stages: int, views: Sequence[int], batch_size: int = 32,
                quiet: bool = False) -> FeatureCache:
    """Run stages [0, frozen_stages) on every view of every image."""
    chain.eval()
    n = len(images)
    progress = Progress("features", n * len(views), quiet=quiet)
    inputs: List[torch.Tensor] = []
    taps: List[List[torch.Tensor]] = []
    for view in views:
        for start in range(0, n, batch_size):
            batch = dihedral_numpy(images[start:start + batch_size], view)
            x, found = chain.run(normalise(batch, spec), 0, frozen_stages)
            if frozen_stages < len(chain.stages):
                inputs.append(x.half())
            taps.append([t.half() for t in found])
            progress.step(len(batch))
    tap_tensors = [torch.cat([row[i] for row in taps]) for i in range(len(taps[0]))] if taps[0] else []
    all_masks = None
    if masks is not None:
        all_masks = torch.from_numpy(np.concatenate([dihedral_numpy(masks, v) for v in views]))  # uint8
    return FeatureCache(
        inputs=torch.cat(inputs) if inputs else None,
        taps=tap_tensors,
        labels=torch.from_numpy(np.tile(labels, len(views))).float(),
        masks=all_masks,
        views=len(views),
        images_per_view=n,
    )
