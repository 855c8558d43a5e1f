"""Image-level and pixel-level metrics in plain numpy.

Kept free of scikit-learn so evaluation runs wherever the runtime runs; the tests check every number
against scikit-learn. The decision rule is the runtime's own (`runtime.postprocess.decide`): anomalous
when round(score, 4) >= round(threshold, 4), so reported precision and recall match what the agent does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class ImageMetrics:
    precision: float
    recall: float
    f1: float
    roc_auc: float
    average_precision: float
    threshold: float
    counts: Dict[str, int]  # tp, fp, tn, fn


@dataclass(frozen=True)
class PixelClassMetrics:
    name: str
    precision: float
    recall: float
    f1: float
    aiou: float  # mean over test images of the per-image IoU (images where the class is true or predicted)
    iou: float  # pooled over all pixels of the test set


def predict_labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The runtime's rule, vectorised."""
    return (np.round(np.asarray(scores, dtype=np.float64), 4) >= round(float(threshold), 4)).astype(np.int64)


def _safe_div(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def f1_from_counts(tp: float, fp: float, fn: float) -> float:
    return _safe_div(2.0 * tp, 2.0 * tp + fp + fn)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney) statistic; ties count one half."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(average, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def pr_curve(labels: np.ndarray, scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) at every distinct score, highest threshold first."""
    labels = np.asarray(labels).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    last = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(scores) - 1]  # last index of each tie group
    tp = np.cumsum(sorted_labels)[last]
    fp = (last + 1) - tp
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / max(int(labels.sum()), 1)
    return precision, recall, sorted_scores[last]


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate), starting at (0, 0)."""
    labels = np.asarray(labels).astype(np.int64)
    _, recall, _ = pr_curve(labels, scores)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    last = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(scores) - 1]
    fp = (last + 1) - np.cumsum(labels[order])[last]
    fpr = fp / max(int((labels == 0).sum()), 1)
    return np.r_[0.0, fpr], np.r_[0.0, recall]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Sum over thresholds of (R_n - R_n-1) * P_n: the step-wise area, as scikit-learn defines it."""
    if not np.asarray(labels).astype(bool).any():
        return float("nan")
    precision, recall, _ = pr_curve(labels, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def image_metrics(labels: ArrayLike, scores: ArrayLike, threshold: float) -> ImageMetrics:
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    pred = predict_labels(s, threshold)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    return ImageMetrics(
        precision=_safe_div(tp, tp + fp),
        recall=_safe_div(tp, tp + fn),
        f1=f1_from_counts(tp, fp, fn),
        roc_auc=roc_auc(y, s),
        average_precision=average_precision(y, s),
        threshold=float(threshold),
        counts={"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    )


class PixelAccumulator:
    """Adds up per-class pixel counts image by image, so test sets never sit in memory as whole masks."""

    def __init__(self, class_names: Sequence[str]) -> None:
        self.class_names = list(class_names)  # index 0 = background
        n = len(self.class_names)
        self.tp = np.zeros(n, dtype=np.int64)
        self.fp = np.zeros(n, dtype=np.int64)
        self.fn = np.zeros(n, dtype=np.int64)
        self._ious: List[List[float]] = [[] for _ in range(n)]

    def add(self, truth: np.ndarray, predicted: np.ndarray) -> None:
        """Both HxW integer class maps of the same size."""
        if truth.shape != predicted.shape:
            raise ValueError("truth %s and prediction %s differ in size" % (truth.shape, predicted.shape))
        for index in range(len(self.class_names)):
            t, p = truth == index, predicted == index
            tp = int((t & p).sum())
            fp = int((p & ~t).sum())
            fn = int((t & ~p).sum())
            self.tp[index] += tp
            self.fp[index] += fp
            self.fn[index] += fn
            if tp + fp + fn:
                self._ious[index].append(tp / float(tp + fp + fn))

    def result(self) -> List[PixelClassMetrics]:
        """Metrics of the anomaly classes (background left out, as Lookout reports them)."""
        out = []
        for index in range(1, len(self.class_names)):
            tp, fp, fn = self.tp[index], self.fp[index], self.fn[index]
            ious = self._ious[index]
            out.append(PixelClassMetrics(
                name=self.class_names[index],
                precision=_safe_div(tp, tp + fp),
                recall=_safe_div(tp, tp + fn),
                f1=f1_from_counts(tp, fp, fn),
                aiou=float(np.mean(ious)) if ious else 0.0,
                iou=_safe_div(tp, tp + fp + fn),
            ))
        return out


def best_f1_threshold(labels: ArrayLike, scores: ArrayLike) -> Tuple[float, float]:
    """(threshold, F1) maximising F1 under the runtime's rounding rule; midpoint between distinct scores.

    A threshold halfway between the last accepted score and the next one down generalises better than
    the accepted score itself, and it is rounded to 4 places because the runtime compares rounded values.
    """
    y = np.asarray(labels, dtype=np.int64)
    s = np.round(np.asarray(scores, dtype=np.float64), 4)
    if not y.any() or y.all():
        raise ValueError("threshold calibration needs both normal and anomalous images")
    precision, recall, thresholds = pr_curve(y, s)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    best = int(np.argmax(f1))
    lower = thresholds[best + 1] if best + 1 < len(thresholds) else 0.0
    candidate = round((thresholds[best] + lower) / 2.0, 4)
    if candidate <= lower:  # distinct scores closer than 1e-4: keep the accepted score itself
        candidate = float(thresholds[best])
    return float(min(max(candidate, 0.0), 1.0)), float(f1[best])
