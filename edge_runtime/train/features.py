"""Run the frozen backbone once over every training image (and its augmented views), through ONNX Runtime.

Training then touches only the cache, which is what makes CPU training fast: the backbone never runs
twice on an image. The frozen backbone is exported to ONNX first because ONNX Runtime runs it about
five times faster than eager torch on a small CPU. Views are elements of the dihedral group (rotations
by 90 degrees and mirror images), real re-renderings of the image, not approximations on features.
Cached tensors are float16, preallocated, to keep peak memory low.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import numpy as np
import torch

from edge_runtime.errors import require
from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.progress import Progress
from edge_runtime.runtime.preprocess import preprocess_batch
from edge_runtime.train.backbones import StageChain

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
    """Tap outputs of every view of every image, view-major (all view-0 rows first), with labels and masks."""

    taps: List[torch.Tensor]
    labels: torch.Tensor
    masks: Optional[torch.Tensor]  # uint8 class maps, aligned with the rows
    views: int
    images_per_view: int


def normalise(images: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """uint8 NHWC at the input size -> the network's float NCHW, through the runtime's own code."""
    return torch.from_numpy(preprocess_batch(list(images), spec))


class TapRunner:
    """The frozen backbone as an ONNX Runtime session that returns its taps."""

    def __init__(self, chain: StageChain, spec: InputSpec, threads: int) -> None:
        ort = require("onnxruntime", "train")
        chain.eval()
        names = ["tap%d" % i for i in range(len(chain.taps))]
        with tempfile.TemporaryDirectory(prefix="edge-taps-") as folder:
            path = os.path.join(folder, "taps.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(chain, (torch.zeros(1, 3, spec.height, spec.width),), path,
                                  input_names=["image"], output_names=names, opset_version=17, dynamo=False,
                                  dynamic_axes={n: {0: "batch"} for n in ["image"] + names})
            options = ort.SessionOptions()
            options.intra_op_num_threads = max(1, threads)
            self._session: Any = ort.InferenceSession(path, sess_options=options,
                                                      providers=["CPUExecutionProvider"])
        self._names = names

    def __call__(self, batch: np.ndarray) -> List[np.ndarray]:
        return list(self._session.run(self._names, {"image": batch}))


def build_cache(runner: TapRunner, images: np.ndarray, labels: np.ndarray, masks: Optional[np.ndarray],
                spec: InputSpec, views: Sequence[int], batch_size: int = 16, quiet: bool = False) -> FeatureCache:
    """Tap outputs for every view of every image, float16, in preallocated tensors."""
    n = len(images)
    progress = Progress("features", n * len(views), quiet=quiet)
    taps: List[torch.Tensor] = []
    for v_index, view in enumerate(views):
        for start in range(0, n, batch_size):
            batch = preprocess_batch(list(dihedral_numpy(images[start:start + batch_size], view)), spec)
            outputs = runner(batch)
            if not taps:
                taps = [torch.empty((n * len(views),) + o.shape[1:], dtype=torch.float16) for o in outputs]
            row = v_index * n + start
            for cache, output in zip(taps, outputs):
                cache[row:row + len(batch)] = torch.from_numpy(output)
            progress.step(len(batch))
    all_masks = None
    if masks is not None:
        all_masks = torch.from_numpy(np.concatenate([dihedral_numpy(masks, v) for v in views]))  # uint8
    return FeatureCache(taps=taps, labels=torch.from_numpy(np.tile(labels, len(views))).float(), masks=all_masks,
                        views=len(views), images_per_view=n)
