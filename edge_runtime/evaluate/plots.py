"""ROC, precision-recall and reliability curves as PNG files (matplotlib Agg backend: no display needed)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from edge_runtime.errors import require
from edge_runtime.evaluate.calibration import Reliability
from edge_runtime.evaluate.metrics import ImageMetrics, pr_curve, roc_curve


def _figure():  # type: ignore[no-untyped-def]
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # a Figure without pyplot keeps no global state

    return Figure(figsize=(5, 4.5), dpi=100)


def _finish(fig, ax, path: str, xlabel: str, ylabel: str, title: str, legend: str) -> None:  # type: ignore[no-untyped-def]
    """Unit-square axes, labels, title and legend, then the PNG."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(loc=legend)
    fig.tight_layout()
    fig.savefig(path)


def write_roc_plot(path: str, labels: ArrayLike, scores: ArrayLike, metrics: ImageMetrics,
                   title: str) -> None:
    fpr, tpr = roc_curve(np.asarray(labels), np.asarray(scores))
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(fpr, tpr, lw=2, label="ROC AUC %.4f" % metrics.roc_auc)
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="grey")
    _finish(fig, ax, path, "false positive rate", "true positive rate", title, "lower right")


def write_pr_plot(path: str, labels: ArrayLike, scores: ArrayLike, metrics: ImageMetrics,
                  title: str) -> None:
    precision, recall, _ = pr_curve(np.asarray(labels), np.asarray(scores))
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.step(np.r_[0.0, recall], np.r_[1.0, precision], where="post", lw=2,
            label="AP %.4f" % metrics.average_precision)
    ax.plot([metrics.recall], [metrics.precision], "o", color="red",
            label="threshold %.4f: F1 %.3f" % (metrics.threshold, metrics.f1))
    _finish(fig, ax, path, "recall", "precision", title, "lower left")


def write_reliability_plot(path: str, reliability: Reliability, title: str) -> None:
    """Share of anomalous images against the mean score per bin; the diagonal is perfect calibration."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="grey", label="perfectly calibrated")
    ax.plot(reliability.mean_score, reliability.anomalous_share, "o-", lw=2,
            label="ECE %.4f" % reliability.ece)
    for x, y, n in zip(reliability.mean_score, reliability.anomalous_share, reliability.counts):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.axvline(0.5, ls=":", lw=1, color="red")
    _finish(fig, ax, path, "mean score in bin (numbers: images)", "share anomalous", title, "upper left")
