"""Calibrated scores: the exported `score` is a probability whose decision threshold is 0.5.

A network's raw score (a sigmoid output, or a one-class distance) is mapped by
p = sigmoid(slope * (f(raw) - centre)), f = logit for probabilities and log for distances, and that
map is folded into the exported graph (`CalibratedNet`), so the agent, the REST API and evaluation
all read the calibrated probability and compare it with 0.5.

Supervised models (`fit_platt`): Platt scaling fitted on the held-out validation images, with
Platt's smoothed targets so that separable validation scores do not give an infinite slope. The
centre is pinned to the raw threshold that maximises validation F1 (what the old threshold search
chose), and only the slope is fitted by maximum likelihood: the decisions stay those of the F1
threshold and the confidences get the validation set's sharpness. One-class models
(`fit_normal_only`): there are no anomalies to fit on, so the centre is a high quantile of the
normal validation scores (mean + k standard deviations of f) and the slope makes one standard
deviation of normal variation worth `NORMAL_SLOPE` in logit units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Union

import numpy as np
import torch
from torch import nn

from edge_runtime.evaluate.metrics import pr_curve

DECISION_THRESHOLD = 0.5  # what every package trained here writes as its threshold
EPS = 1e-6
NORMAL_SIGMAS = 3.0  # one-class: the threshold sits this many normal standard deviations above the mean
NORMAL_SLOPE = 1.5  # one-class: logit units per normal standard deviation


@dataclass(frozen=True)
class Calibration:
    method: str  # "platt-pinned" | "normal-quantile"
    feature: str  # "logit" (raw is a probability) | "log" (raw is a positive distance)
    slope: float
    centre: float  # f(raw) at which the calibrated score is 0.5

    @property
    def raw_threshold(self) -> float:
        if self.feature == "logit":
            return float(1.0 / (1.0 + np.exp(-self.centre)))
        return float(np.exp(self.centre))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        z = self.slope * (raw_feature(np.asarray(raw, dtype=np.float64), self.feature) - self.centre)
        return 1.0 / (1.0 + np.exp(-z))

    def summary(self) -> Dict[str, Any]:
        return {"method": self.method, "feature": self.feature, "slope": round(self.slope, 6),
                "centre": round(self.centre, 6), "raw_threshold": round(self.raw_threshold, 6),
                "threshold": DECISION_THRESHOLD}


def raw_feature(raw: np.ndarray, feature: str) -> np.ndarray:
    if feature == "logit":
        p = np.clip(raw, EPS, 1.0 - EPS)
        return np.log(p) - np.log1p(-p)
    return np.log(np.maximum(raw, EPS))


def _fit_slope(z: np.ndarray, targets: np.ndarray) -> float:
    """Maximum-likelihood slope a of sigmoid(a * z) (Newton's method on a concave one-parameter problem)."""
    a = 1.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * z, -50, 50)))
        gradient = float(np.sum((targets - p) * z))
        curvature = float(np.sum(p * (1.0 - p) * z * z)) + 1e-9
        step = gradient / curvature
        a = float(np.clip(a + step, 0.05, 50.0))
        if abs(step) < 1e-7:
            break
    return a


def best_f1_centre(labels: np.ndarray, f: np.ndarray) -> float:
    """The cut in feature space with the best F1 (predict anomalous at or above it): halfway between the
    lowest accepted value and the next one down, so neither sits on the decision boundary."""
    y = np.asarray(labels, dtype=np.int64)
    if not y.any() or y.all():
        raise ValueError("calibration needs both normal and anomalous validation images")
    precision, recall, cuts = pr_curve(y, f)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    best = int(np.argmax(f1))
    lower = cuts[best + 1] if best + 1 < len(cuts) else cuts[best] - 1.0
    return float((cuts[best] + lower) / 2.0)


def fit_platt(labels: np.ndarray, raw: np.ndarray) -> Calibration:
    """Centre at the best-F1 cut of the validation scores, slope by maximum likelihood."""
    y = np.asarray(labels, dtype=np.int64)
    positives, negatives = int(y.sum()), int((1 - y).sum())
    targets = np.where(y == 1, (positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0))
    f = raw_feature(np.asarray(raw, dtype=np.float64), "logit")
    centre = best_f1_centre(y, f)
    z = f - centre
    return Calibration("platt-pinned", "logit", _fit_slope(z, targets), centre)


def fit_normal_only(normal_raw: np.ndarray) -> Calibration:
    """Centre at mean + NORMAL_SIGMAS standard deviations of log(raw) over normal validation images."""
    f = raw_feature(np.asarray(normal_raw, dtype=np.float64), "log")
    spread = max(float(f.std(ddof=1)) if len(f) > 1 else 0.0, 0.05)
    centre = float(f.mean()) + NORMAL_SIGMAS * spread
    return Calibration("normal-quantile", "log", NORMAL_SLOPE / spread, centre)


class CalibratedNet(nn.Module):
    """Wraps a network whose first (or only) output is the raw score; replaces it by the calibrated one."""

    def __init__(self, net: nn.Module, calibration: Calibration) -> None:
        super().__init__()
        self.net = net
        self.feature = calibration.feature
        self.slope = float(calibration.slope)
        self.centre = float(calibration.centre)

    def forward(self, image: torch.Tensor) -> Union[torch.Tensor, List[torch.Tensor]]:
        out = self.net(image)
        raw = out[0] if isinstance(out, (list, tuple)) else out
        if self.feature == "logit":
            p = raw.clamp(EPS, 1.0 - EPS)
            f = torch.log(p) - torch.log1p(-p)
        else:
            f = torch.log(raw.clamp_min(EPS))
        score = torch.sigmoid(self.slope * (f - self.centre))
        return [score] + list(out[1:]) if isinstance(out, (list, tuple)) else score
