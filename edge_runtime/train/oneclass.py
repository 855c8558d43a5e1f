"""Normal-only training: a one-class model on the frozen backbone's patch features (PatchCore-style).

When a project's training images hold no (or too few) anomalies there is nothing to fit a supervised
head on; what the normal images do show is what normal patches look like. Each position of the
stride-8 grid gets a descriptor (the stride-8 and stride-16 taps, each averaged over its 3x3
neighbourhood, the stride-16 one upsampled, concatenated); a memory bank keeps a greedy k-center
coreset of the normal descriptors, and a patch's anomaly is its distance to the nearest bank entry.
The image score is the mean of the largest TOP_FRACTION of the patch distances (steadier than the single
largest); the map is the distance at every position.

A memory bank rather than a Gaussian per position (PaDiM): with Lookout's minimum of 10 normal
images a per-position covariance cannot be estimated, and parts that are not aligned (or look
different from one unit to the next) make the normal patches multimodal, which a nearest neighbour
follows and one Gaussian does not.

The exported graph is plain ONNX (convolutions, pooling, a matrix product and a min), so the agent and
runtime serve it unchanged. The threshold comes from the normal validation images' distances
(`calibrate.fit_normal_only`) and is folded in: `score` >= 0.5 is anomalous, and for segmentation the
`seg` output is [1 - p, p] per pixel with the same calibration.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edge_runtime.progress import Progress
from edge_runtime.train.backbones import StageChain
from edge_runtime.train.calibrate import EPS, Calibration
from edge_runtime.train.features import FeatureCache

BANK_SIZE = 4096  # coreset entries kept (at most)
CANDIDATES = 160_000  # patches the coreset is chosen from (a random subset when there are more)
PROJECTION = 64  # dimensions of the random projection the greedy coreset search measures distances in
TAPS_USED = 2  # the stride-8 and stride-16 taps: local detail; the stride-32 tap is too coarse for a map
TOP_FRACTION = 0.01  # image score: mean of the largest 1% of patch distances (ELPV normal-only, one split:
# ROC AUC 0.877, against 0.858 for the largest alone and 0.823 for the mean of all)


class PatchDescriptor(nn.Module):
    """Taps -> [N, D, h, w] descriptors on the first tap's grid (3x3 neighbourhood means, concatenated)."""

    def __init__(self, taps_used: int = TAPS_USED) -> None:
        super().__init__()
        self.taps_used = taps_used

    def forward(self, taps: Sequence[torch.Tensor]) -> torch.Tensor:
        size = taps[0].shape[-2:]
        parts = []
        for tap in taps[: self.taps_used]:
            pooled = F.avg_pool2d(tap, 3, stride=1, padding=1, count_include_pad=False)
            if pooled.shape[-2:] != size:
                pooled = F.interpolate(pooled, size=size, mode="bilinear", align_corners=False)
            parts.append(pooled)
        return torch.cat(parts, dim=1)


class NearestPatchDistance(nn.Module):
    """[N, D, h, w] -> [N, h, w]: Euclidean distance of every descriptor to its nearest bank entry."""

    bank: torch.Tensor
    bank_sq: torch.Tensor

    def __init__(self, bank: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("bank", bank.float().contiguous())
        self.register_buffer("bank_sq", (bank.float() ** 2).sum(dim=1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n, _, h, w = features.shape
        flat = features.flatten(2).transpose(1, 2)  # N, P, D
        d2 = (flat * flat).sum(dim=2, keepdim=True) - 2.0 * torch.matmul(flat, self.bank.t()) + self.bank_sq
        return d2.amin(dim=2).clamp_min(0.0).sqrt().reshape(n, h, w)


def image_score(distances: torch.Tensor) -> torch.Tensor:
    """[N, h, w] patch distances -> [N]: the mean of the largest TOP_FRACTION of them (at least one)."""
    flat = distances.flatten(1)
    k = max(1, int(flat.shape[1] * TOP_FRACTION))
    return flat.topk(k, dim=1).values.mean(dim=1)


class OneClassNet(nn.Module):
    """image -> calibrated score [N] (and for segmentation `seg` [N, 2, H, W]: background, anomaly).

    Without a calibration (before it is fitted) the score is the raw `image_score`.
    """

    def __init__(self, backbone: StageChain, bank: torch.Tensor, segmentation: bool = False,
                 calibration: Optional[Calibration] = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.describe = PatchDescriptor()
        self.distance = NearestPatchDistance(bank)
        self.segmentation = segmentation
        self.slope = float(calibration.slope) if calibration is not None else 0.0
        self.centre = float(calibration.centre) if calibration is not None else 0.0
        self.calibrated = calibration is not None

    def raw_map(self, taps: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.distance(self.describe(taps))

    def _calibrate(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.slope * (torch.log(raw.clamp_min(EPS)) - self.centre))

    def forward(self, image: torch.Tensor) -> Union[torch.Tensor, List[torch.Tensor]]:
        distances = self.raw_map(self.backbone(image))
        raw = image_score(distances)
        score = self._calibrate(raw) if self.calibrated else raw
        if not self.segmentation:
            return score
        size = (image.shape[-2], image.shape[-1])
        fine = F.interpolate(distances.unsqueeze(1), size=size, mode="bilinear", align_corners=False)
        p = self._calibrate(fine) if self.calibrated else fine
        return [score, torch.cat([1.0 - p, p], dim=1)]


def greedy_coreset(points: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """Indices of `size` points chosen by greedy k-center (each pick the point farthest from those picked),
    measured in a random projection to PROJECTION dimensions, as PatchCore approximates it."""
    if size >= len(points):
        return torch.arange(len(points))
    generator = torch.Generator().manual_seed(seed)
    projected = points
    if points.shape[1] > PROJECTION:
        matrix = torch.randn(points.shape[1], PROJECTION, generator=generator) / PROJECTION ** 0.5
        projected = points @ matrix
    squares = (projected * projected).sum(dim=1)
    chosen = [int(torch.randint(len(points), (1,), generator=generator))]
    nearest = torch.full((len(points),), float("inf"))
    for _ in range(size):
        centre = projected[chosen[-1]]
        # |p - c|^2 as |p|^2 - 2 p.c + |c|^2: one matrix-vector product, no temporary of the points' size
        nearest = torch.minimum(nearest, squares - 2.0 * (projected @ centre) + squares[chosen[-1]])
        if len(chosen) == size:
            break
        chosen.append(int(torch.argmax(nearest)))
    return torch.tensor(chosen)


@torch.no_grad()
def sample_descriptors(cache: FeatureCache, rows: torch.Tensor, limit: int, seed: int, batch_size: int = 32
                       ) -> Tuple[torch.Tensor, int]:
    """Patch descriptors of the given cache rows as float32 [<= limit, D], an even random sample when there
    are more than `limit` (drawn batch by batch: the full set is never held, it can be a gigabyte); also
    returns how many patches there were."""
    describe = PatchDescriptor()
    generator = torch.Generator().manual_seed(seed)
    per_row = int(cache.taps[0].shape[-2] * cache.taps[0].shape[-1])  # descriptors are on the first tap's grid
    share = min(per_row, -(-limit // max(1, len(rows))))  # per row, rounded up
    kept: List[torch.Tensor] = []
    for start in range(0, len(rows), batch_size):
        features = describe([t[rows[start:start + batch_size]].float() for t in cache.taps])
        for row in features.permute(0, 2, 3, 1).reshape(len(features), per_row, -1):
            kept.append(row[torch.randperm(per_row, generator=generator)[:share]].clone())
    total = per_row * len(rows)
    return torch.cat(kept)[:limit], total


@torch.no_grad()
def fit_memory_bank(backbone: Optional[StageChain], cache: FeatureCache, seed: int, bank_size: int = BANK_SIZE,
                    quiet: bool = False) -> Tuple[torch.Tensor, Dict[str, Any]]:
    """The coreset of the normal rows' patch descriptors; returns (bank [M, D], a summary)."""
    normal = torch.nonzero(cache.labels < 0.5).flatten()
    if len(normal) == 0:
        raise ValueError("a one-class model needs normal images")
    patches, total = sample_descriptors(cache, normal, CANDIDATES, seed)
    progress = Progress("memory bank", 1, quiet=quiet)
    bank = patches[greedy_coreset(patches, min(bank_size, len(patches)), seed)].clone()
    progress.step(note="%d of %d patches" % (len(bank), total))
    return bank, {"method": "patch memory bank (greedy coreset)", "bank_size": int(len(bank)),
                  "patches": int(total), "candidates": int(len(patches)), "descriptor_dims": int(bank.shape[1]),
                  "normal_rows": int(len(normal))}


@torch.no_grad()
def one_class_scores(net: OneClassNet, cache: FeatureCache, batch_size: int = 16) -> np.ndarray:
    """Raw image scores (top patch distances) of a cache's rows, averaged over its views."""
    out = []
    for start in range(0, len(cache.labels), batch_size):
        distances = net.raw_map([t[start:start + batch_size].float() for t in cache.taps])
        out.append(image_score(distances))
    per_row = torch.cat(out).numpy().astype(np.float64)
    return per_row.reshape(cache.views, cache.images_per_view).mean(axis=0)
