"""How well scores work as probabilities: reliability bins and the expected calibration error (ECE).

ECE = sum over equal-width score bins of (share of images in the bin) * |mean score - share anomalous|,
on the score of the anomalous class, 10 bins (the common convention). A calibrated model (what
training exports: threshold 0.5) has a low ECE; a raw score with another threshold usually not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List

import numpy as np
from numpy.typing import ArrayLike

BINS = 10


@dataclass(frozen=True)
class Reliability:
    """Per bin (only bins holding images): mean score, share anomalous, image count; and the ECE."""

    mean_score: List[float]
    anomalous_share: List[float]
    counts: List[int]
    edges: List[float]
    ece: float

    def to_dict(self) -> Dict[str, Any]:
        return {"ExpectedCalibrationError": round(self.ece, 6), "Bins": [
            {"MeanScore": round(m, 6), "AnomalousShare": round(a, 6), "Images": n}
            for m, a, n in zip(self.mean_score, self.anomalous_share, self.counts)]}


def reliability(labels: ArrayLike, scores: ArrayLike, bins: int = BINS) -> Reliability:
    y = np.asarray(labels, dtype=np.float64)
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.minimum(np.digitize(s, edges[1:-1], right=False), bins - 1)
    mean_score, share, counts = [], [], []
    ece = 0.0
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        if not n:
            continue
        m, a = float(s[inside].mean()), float(y[inside].mean())
        mean_score.append(m)
        share.append(a)
        counts.append(n)
        ece += n / max(len(s), 1) * abs(m - a)
    return Reliability(mean_score, share, counts, edges.tolist(), float(ece))
