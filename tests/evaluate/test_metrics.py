"""Image and pixel metrics against scikit-learn on hand-made examples (ties, extremes, rounding)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from edge_runtime.evaluate.metrics import (
    PixelAccumulator,
    average_precision,
    best_f1_threshold,
    image_metrics,
    predict_labels,
    roc_auc,
)

LABELS = np.array([0, 0, 1, 1, 0, 1, 0, 1, 1, 0])
SCORES = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.05, 0.4, 0.65, 0.7])  # ties at 0.4 across labels


def test_roc_auc_and_average_precision_match_sklearn_with_ties() -> None:
    assert roc_auc(LABELS, SCORES) == pytest.approx(roc_auc_score(LABELS, SCORES), abs=1e-12)
    assert average_precision(LABELS, SCORES) == pytest.approx(average_precision_score(LABELS, SCORES), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_scores_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) * 0.5 + labels * 0.3, 2)  # coarse: many ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_precision_recall_f1_at_threshold_match_sklearn() -> None:
    m = image_metrics(LABELS, SCORES, 0.4)
    predicted = (SCORES >= 0.4).astype(int)
    assert m.precision == pytest.approx(precision_score(LABELS, predicted))
    assert m.recall == pytest.approx(recall_score(LABELS, predicted))
    assert m.f1 == pytest.approx(f1_score(LABELS, predicted))
    assert m.counts == {"tp": 4, "fp": 3, "tn": 2, "fn": 1}


def test_decision_uses_the_runtimes_rounding_rule() -> None:
    # round(0.49996, 4) == 0.5 >= round(0.5, 4): anomalous, as the agent decides
    assert predict_labels(np.array([0.49996, 0.49994]), 0.5).tolist() == [1, 0]


def test_one_class_only_gives_undefined_auc() -> None:
    assert np.isnan(roc_auc(np.zeros(4), np.arange(4.0)))


def test_best_f1_threshold_separates_and_is_between_scores() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    threshold, f1 = best_f1_threshold(labels, scores)
    assert f1 == 1.0
    assert 0.3 < threshold <= 0.6
    assert image_metrics(labels, scores, threshold).f1 == 1.0


def test_best_f1_threshold_needs_both_labels() -> None:
    with pytest.raises(ValueError, match="both normal and anomalous"):
        best_f1_threshold(np.ones(3), np.array([0.1, 0.2, 0.3]))


def test_pixel_metrics_match_sklearn_per_class() -> None:
    rng = np.random.default_rng(3)
    truths = [rng.integers(0, 3, (8, 9)) for _ in range(4)]
    preds = [np.where(rng.random((8, 9)) < 0.7, t, rng.integers(0, 3, (8, 9))) for t in truths]
    acc = PixelAccumulator(["background", "scratch", "dent"])
    for t, p in zip(truths, preds):
        acc.add(t, p)
    result = acc.result()
    assert [r.name for r in result] == ["scratch", "dent"]
    flat_t, flat_p = np.concatenate([t.ravel() for t in truths]), np.concatenate([p.ravel() for p in preds])
    for index, r in enumerate(result, start=1):
        t, p = flat_t == index, flat_p == index
        assert r.precision == pytest.approx(precision_score(t, p))
        assert r.recall == pytest.approx(recall_score(t, p))
        assert r.f1 == pytest.approx(f1_score(t, p))
        per_image = [((a == index) & (b == index)).sum() / ((a == index) | (b == index)).sum()
                     for a, b in zip(truths, preds)]
        assert r.aiou == pytest.approx(np.mean(per_image))
        assert r.iou == pytest.approx((t & p).sum() / (t | p).sum())


def test_pixel_accumulator_refuses_size_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        PixelAccumulator(["background", "a"]).add(np.zeros((2, 2)), np.zeros((2, 3)))
