"""The one-class score as an extra signal beside a supervised classification head.

The supervised head learns the defects the training set shows; the one-class memory bank (oneclass.py)
flags whatever is unlike the normal patches, including defect kinds the training set lacks. Their
combination is logit(p_head) + weight * z, z the one-class score standardised on the normal validation
images; the weight is fitted by logistic regression on the validation images.

The branch is not free: the exported model then runs a nearest-neighbour search over BANK_SIZE bank
entries at every stride-8 position of every image. Measured (benchmarks/hybrid_cost.py, ONNX Runtime CPU,
2 threads, EfficientNet-Lite0 with mirror TTA): about COST_RATIO times the head-only latency at 300 px and
224 px, batch 1 and 8, and 2.5 MB more ONNX. So the trainer keeps it only when it raises the validation
ROC AUC by at least MIN_GAIN (absolute); a gain below that is within the noise of a few hundred validation
images and does not pay for nearly doubling the device's work per image. (On ELPV, seed 1, 70/30, 300 px,
the blend moved the validation ROC AUC by 0.0001 and the test ROC AUC by 0.003: not kept under this rule.)
`TrainConfig(one_class_signal=True)` still forces it on, and the training summary says which way it went and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Tuple

import numpy as np
import torch
from torch import nn

from edge_runtime.evaluate.metrics import roc_auc
from edge_runtime.train.calibrate import EPS, raw_feature
from edge_runtime.train.heads import ClassifierNet
from edge_runtime.train.oneclass import NearestPatchDistance, PatchDescriptor, image_score

MIN_GAIN = 0.005  # validation ROC AUC (absolute) the one-class signal must add to be kept
COST_RATIO = 1.7  # hybrid / head-only latency, benchmarks/results/hybrid_cost.md (1.4-2.1, three runs)


@dataclass(frozen=True)
class Blend:
    weight: float
    mean: float  # of log(one-class score) over the normal validation images
    std: float

    def apply(self, head_p: np.ndarray, one_class: np.ndarray) -> np.ndarray:
        z = (np.log(np.maximum(one_class, EPS)) - self.mean) / self.std
        return 1.0 / (1.0 + np.exp(-(raw_feature(head_p, "logit") + self.weight * z)))


def fit_blend(labels: np.ndarray, head_p: np.ndarray, one_class: np.ndarray) -> Blend:
    """Logistic regression of the labels on (logit p_head, z) with an intercept; the head's slope is then
    divided out, so the weight is relative to the head's logit (calibration fixes the scale afterwards)."""
    f = np.log(np.maximum(one_class, EPS))
    normal = f[labels == 0]
    mean, std = float(normal.mean()), max(float(normal.std()), 1e-3)
    x = np.stack([raw_feature(head_p, "logit"), (f - mean) / std, np.ones_like(f)], axis=1)
    w = np.zeros(3)
    for _ in range(100):  # Newton's method, a little ridge for separable validation sets
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-2 * np.eye(3)
        step = np.linalg.solve(hessian, x.T @ (labels - p) - 1e-2 * w)
        w += step
        if np.abs(step).max() < 1e-8:
            break
    weight = float(w[1] / w[0]) if w[0] > 1e-6 else 0.0
    return Blend(max(weight, 0.0), mean, std)


def worth_keeping(weight: float, plain: float, blended: float) -> bool:
    """The rule: a positive weight and a validation ROC AUC gain of at least MIN_GAIN (paying for the cost)."""
    return weight > 0 and blended - plain >= MIN_GAIN - 1e-9


def judge_blend(labels: np.ndarray, head_p: np.ndarray, one_class: np.ndarray) -> Tuple[Blend, bool, Dict[str, Any]]:
    blend = fit_blend(labels, head_p, one_class)
    plain, blended = roc_auc(labels, head_p), roc_auc(labels, blend.apply(head_p, one_class))
    keep = worth_keeping(blend.weight, plain, blended)
    return blend, keep, {"weight": round(blend.weight, 6), "validation_roc_auc_head": round(plain, 6),
                         "validation_roc_auc_blend": round(blended, 6), "kept": keep,
                         "min_gain": MIN_GAIN, "latency_ratio": COST_RATIO}


def explain_blend(info: Dict[str, Any], keep: bool, forced: bool) -> str:
    """The training summary's line: which way it went, why, with the validation figures and the cost."""
    head, blended = info["validation_roc_auc_head"], info["validation_roc_auc_blend"]
    figures = "validation ROC AUC %.4f blended (weight %.3f), %.4f head alone (gain %+.4f)" % (
        blended, info["weight"], head, blended - head)
    cost = "x%.1f inference latency" % COST_RATIO
    if forced:
        return "one-class signal %s as asked: %s; it costs %s" % ("on" if keep else "off (weight 0)", figures, cost)
    if keep:
        return "one-class signal on: %s, at least the %.3f needed to pay for its %s" % (figures, MIN_GAIN, cost)
    if info["weight"] <= 0:
        return "one-class signal off: %s; the fitted weight is 0, it adds nothing" % figures
    return "one-class signal off: %s, below the %.3f needed to pay for its %s" % (
        figures, MIN_GAIN, cost)


class HybridNet(nn.Module):
    """image -> score: the classifier's probability (with its mirror TTA) blended with the one-class score
    of the plain image, computed from the same backbone pass."""

    def __init__(self, classifier: ClassifierNet, bank: torch.Tensor, blend: Blend) -> None:
        super().__init__()
        self.classifier = classifier
        self.describe = PatchDescriptor()
        self.distance = NearestPatchDistance(bank)
        self.weight, self.mean, self.std = float(blend.weight), float(blend.mean), float(blend.std)

    @property
    def mirror_tta(self) -> bool:
        return bool(self.classifier.mirror_tta)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        n = image.shape[0]
        mirror = self.classifier.mirror_tta
        taps = self.classifier.backbone(torch.cat([image, image.flip(3)], dim=0) if mirror else image)
        p = torch.sigmoid(self.classifier.head(taps))
        if mirror:
            p = p.reshape(2, -1).mean(dim=0)
        one_class = image_score(self.distance(self.describe([t[:n] for t in taps])))
        z = (torch.log(one_class.clamp_min(EPS)) - self.mean) / self.std
        p = p.clamp(EPS, 1.0 - EPS)
        return torch.sigmoid(torch.log(p) - torch.log1p(-p) + self.weight * z)
