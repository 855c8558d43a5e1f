"""Classification training: frozen backbone taps cached once, a light pooled head trained on them.

Each epoch also scores the held-out validation images; the head state with the best validation ROC
AUC is kept (the validation part is also what calibrates the threshold, never the test set).
"""

from __future__ import annotations

import copy
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from edge_runtime.evaluate.metrics import roc_auc
from edge_runtime.progress import Progress
from edge_runtime.train.backbones import StageChain
from edge_runtime.train.features import FeatureCache
from edge_runtime.train.heads import ClassifierNet, PooledClassifierHead
from edge_runtime.train.schedule import one_cycle


def feature_flip(taps: List[torch.Tensor], rng: np.random.Generator) -> List[torch.Tensor]:
    """A random rotation/mirror applied to every tap alike: cheap extra variety on square feature maps."""
    if any(t.shape[-1] != t.shape[-2] for t in taps):
        return taps
    turns, mirror = int(rng.integers(4)), bool(rng.integers(2))
    out = [torch.rot90(t, turns, dims=(2, 3)) for t in taps]
    return [t.flip(3) for t in out] if mirror else out


@torch.no_grad()
def head_scores(head: PooledClassifierHead, cache: FeatureCache, batch_size: int = 128) -> np.ndarray:
    """Probability per image, averaged over the cache's views (one view: no test-time augmentation)."""
    head.eval()
    out = []
    for start in range(0, len(cache.labels), batch_size):
        stop = min(start + batch_size, len(cache.labels))
        out.append(torch.sigmoid(head([t[start:stop].float() for t in cache.taps])))
    per_row = torch.cat(out).numpy().astype(np.float64)
    return per_row.reshape(cache.views, cache.images_per_view).mean(axis=0)


def _epoch(head: PooledClassifierHead, cache: FeatureCache, optimiser: torch.optim.Optimizer,
           schedule: torch.optim.lr_scheduler.LRScheduler, batch_size: int, pos_weight: torch.Tensor,
           rng: np.random.Generator) -> float:
    head.train()
    rows = len(cache.labels)
    order = torch.from_numpy(rng.permutation(rows))
    total = 0.0
    for start in range(0, rows, batch_size):
        index = order[start:start + batch_size]
        if len(index) < 2:  # batch norm needs two samples
            continue
        taps = feature_flip([t[index].float() for t in cache.taps], rng)
        loss = F.binary_cross_entropy_with_logits(head(taps), cache.labels[index], pos_weight=pos_weight)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        total += loss.item() * len(index)
    return total / rows


def train_classifier(backbone: StageChain, fit: FeatureCache, val: Optional[FeatureCache], epochs: int,
                     batch_size: int, seed: int, quiet: bool = False, mirror_tta: bool = False
                     ) -> Tuple[ClassifierNet, List[float]]:
    """Returns the network (frozen backbone + best head) and the training loss per epoch.

    `val` holds the views the exported network averages over (the image, and its mirror with
    `mirror_tta`), so the epoch is chosen on exactly the scores the package will produce.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = PooledClassifierHead(backbone.info.tap_channels)
    positives = float(fit.labels.sum())
    pos_weight = torch.tensor((len(fit.labels) - positives) / max(positives, 1.0))
    optimiser = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=1e-2)
    steps = epochs * ((len(fit.labels) + batch_size - 1) // batch_size)
    schedule = one_cycle(optimiser, 2e-3, steps, 0.2)
    progress = Progress("train", epochs, quiet=quiet, every=0.0)
    best_auc, best_state = -1.0, copy.deepcopy(head.state_dict())
    losses = []
    for _ in range(epochs):
        losses.append(_epoch(head, fit, optimiser, schedule, batch_size, pos_weight, rng))
        note = "loss %.4f" % losses[-1]
        if val is not None:
            auc = roc_auc(val.labels[:val.images_per_view].numpy(), head_scores(head, val))
            note += " val ROC AUC %.4f" % auc
            if auc >= best_auc or auc != auc:
                best_auc, best_state = auc, copy.deepcopy(head.state_dict())
        else:
            best_state = copy.deepcopy(head.state_dict())
        progress.step(note=note)
    head.load_state_dict(best_state)
    head.eval()
    return ClassifierNet(backbone, head, mirror_tta).eval(), losses
