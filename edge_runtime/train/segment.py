"""Segmentation training: frozen backbone taps cached once, a light decoder trained on them.

Loss: class-weighted cross-entropy at the input resolution (weights from inverse square-root pixel
frequency, so thin defects count) plus a soft Dice term over the anomaly classes, which is what
IoU rewards.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from edge_runtime.progress import Progress
from edge_runtime.train.backbones import StageChain
from edge_runtime.train.features import FeatureCache
from edge_runtime.train.heads import SegmentationDecoder, SegmenterNet, anomaly_score, upsample_logits
from edge_runtime.train.schedule import one_cycle


def class_weights(masks: torch.Tensor, num_classes: int) -> torch.Tensor:
    counts = torch.bincount(masks.reshape(-1).long(), minlength=num_classes).double()
    freq = counts / counts.sum()
    weights = 1.0 / torch.sqrt(freq.clamp_min(1e-6))
    weights[counts == 0] = 0.0
    return (weights / weights[weights > 0].mean()).float()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """1 - soft Dice, averaged over the anomaly classes present in the batch (truth or prediction)."""
    probs = torch.softmax(logits, dim=1)[:, 1:]
    onehot = F.one_hot(target, num_classes).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    total = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = onehot.sum(dim=(0, 2, 3)) > 0
    if not present.any():
        return logits.new_zeros(())
    dice = (2 * inter + 1.0) / (total + 1.0)
    return 1.0 - dice[present].mean()


def train_segmenter(backbone: StageChain, cache: FeatureCache, num_classes: int, epochs: int,
                    batch_size: int, seed: int, quiet: bool = False) -> Tuple[SegmenterNet, List[float]]:
    """Train the decoder on cached taps; returns the network (backbone frozen) and the loss per epoch."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    assert cache.masks is not None
    decoder = SegmentationDecoder(backbone.info.tap_channels, num_classes, fine=backbone.info.tap_strides[0] == 4)
    weights = class_weights(cache.masks, num_classes)
    optimiser = torch.optim.AdamW(decoder.parameters(), lr=3e-3, weight_decay=1e-4)
    rows = len(cache.labels)
    steps = epochs * ((rows + batch_size - 1) // batch_size)
    schedule = one_cycle(optimiser, 3e-3, steps, 0.15)
    progress = Progress("train", epochs, quiet=quiet, every=0.0)
    losses = []
    size = tuple(cache.masks.shape[-2:])
    for _ in range(epochs):
        decoder.train()
        total = 0.0
        order = torch.from_numpy(rng.permutation(rows))
        for start in range(0, rows, batch_size):
            index = order[start:start + batch_size]
            taps = [t[index].float() for t in cache.taps]
            target = cache.masks[index].long()
            logits = decoder(taps)
            full = upsample_logits(logits, size)  # type: ignore[arg-type]
            loss = F.cross_entropy(full, target, weight=weights) + dice_loss(full, target, num_classes)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(index)
        losses.append(total / rows)
        progress.step(note="loss %.4f" % losses[-1])
    decoder.eval()
    return SegmenterNet(backbone, decoder).eval(), losses


@torch.no_grad()
def segmenter_scores(net: SegmenterNet, cache: FeatureCache, batch_size: int = 64) -> np.ndarray:
    """Image scores of the view-0 rows of a cache (the untransformed images)."""
    scores = []
    for start in range(0, cache.images_per_view, batch_size):
        stop = min(start + batch_size, cache.images_per_view)
        logits = net.decoder([t[start:stop].float() for t in cache.taps])
        scores.append(anomaly_score(logits))
    return torch.cat(scores).numpy().astype(np.float64)
