"""Calibration of scores: ECE by hand, Platt's slope recovered from data, the folded network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_runtime.evaluate.calibration import reliability
from edge_runtime.train.calibrate import CalibratedNet, fit_normal_only, fit_platt


def test_expected_calibration_error_by_hand() -> None:
    r = reliability([0, 0, 1, 1, 1], [0.1, 0.1, 0.9, 0.9, 0.55])
    # bins: 0.1 (2 images, 0 anomalous), 0.55 (1, 1), 0.9 (2, 2)
    assert r.counts == [2, 1, 2]
    assert r.ece == pytest.approx((2 * 0.1 + 1 * 0.45 + 2 * 0.1) / 5)
    assert reliability([0, 1], [0.0, 1.0]).ece == 0.0


def test_platt_recovers_the_slope_of_a_logistic_truth() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 2.0, 6000)
    labels = (rng.random(len(z)) < 1 / (1 + np.exp(-1.7 * (z - 0.4)))).astype(np.int64)
    calibration = fit_platt(labels, 1 / (1 + np.exp(-z)))
    assert calibration.slope == pytest.approx(1.7, rel=0.15)
    assert reliability(labels, calibration.apply(1 / (1 + np.exp(-z)))).ece < 0.05
    uncalibrated = reliability(labels, 1 / (1 + np.exp(-z))).ece
    assert uncalibrated > 0.05  # the raw score was not a calibrated probability


def test_calibrated_net_matches_numpy_and_keeps_other_outputs() -> None:
    calibration = fit_platt(np.array([0, 0, 1, 0, 1, 1]), np.array([0.1, 0.3, 0.35, 0.4, 0.7, 0.9]))

    class TwoOutputs(torch.nn.Module):
        def forward(self, image: torch.Tensor):  # type: ignore[no-untyped-def]
            return [image.mean(dim=(1, 2, 3)), image * 2]

    net = CalibratedNet(TwoOutputs(), calibration)
    image = torch.rand(5, 3, 4, 4)
    score, seg = net(image)
    np.testing.assert_allclose(score.numpy(), calibration.apply(image.mean(dim=(1, 2, 3)).numpy()), atol=1e-5)
    assert torch.equal(seg, image * 2)
    assert calibration.apply(np.array([calibration.raw_threshold]))[0] == pytest.approx(0.5)


def test_normal_only_calibration_puts_normal_scores_well_below_one_half() -> None:
    normal = np.random.default_rng(1).lognormal(0.0, 0.2, 200)
    calibration = fit_normal_only(normal)
    p = calibration.apply(normal)
    assert (p < 0.5).mean() > 0.98 and np.median(p) < 0.05
    assert calibration.apply(np.array([normal.max() * 3]))[0] > 0.9
