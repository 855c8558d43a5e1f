"""Confidence is the confidence in the verdict: >= 0.5 for every anomalous and every normal detection.

Lookout's clients keep a result only when confidence >= 0.5 (issue 15: a package with threshold 0.41
answered IsAnomalous true with confidence 0.43-0.49). Unit checks of the rule, then the real daemon
with a package whose threshold is 0.41 and frames whose scores sweep across it.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.runtime.postprocess import decide
from tests.agent.conftest import build_package, frame
from tests.agent.test_flow import detect_inline


@pytest.mark.parametrize("threshold", [0.05, 0.41, 0.5, 0.77, 0.99])
def test_confidence_agrees_with_the_verdict_at_any_threshold(threshold: float) -> None:
    for score in np.linspace(0.0, 1.0, 401):
        anomalous, confidence = decide(float(score), threshold)
        assert anomalous == (round(float(score), 4) >= round(threshold, 4))
        assert 0.5 <= confidence <= 1.0, (score, threshold, confidence)
    assert decide(1.0, threshold) == (True, 1.0) and decide(0.0, threshold) == (False, 1.0)


def test_a_calibrated_model_keeps_lookouts_original_confidences() -> None:
    """Threshold 0.5 (what training writes): the score for an anomaly, 1 - score for a normal image."""
    assert decide(0.8, 0.5) == (True, pytest.approx(0.8))
    assert decide(0.3, 0.5) == (False, pytest.approx(0.7))
    assert decide(0.5, 0.5) == (True, pytest.approx(0.5))


def test_the_agent_never_answers_below_one_half(start_agent, lookout_client, tmp_path) -> None:
    pb2, _ = lookout_client
    package = build_package(str(tmp_path / "off-centre"), "off-centre", "classification", threshold=0.41)
    agent = start_agent(packages={"off-centre": package})
    agent.start_and_wait(pb2, "off-centre")
    verdicts = []
    scores = []
    # score = sigmoid(4 * normalised red): ~0 to ~1, densely around 0.41..0.5 (red 112..127)
    for red in list(range(0, 256, 16)) + list(range(112, 128)):
        result = detect_inline(agent, pb2, "off-centre", frame(64, 64, (red, 0, 0)))
        assert result.anomaly_threshold == pytest.approx(0.41)
        assert result.is_anomalous == (round(result.anomaly_score, 4) >= 0.41)
        assert result.confidence >= 0.5, (red, result.anomaly_score, result.confidence)
        verdicts.append(result.is_anomalous)
        scores.append(result.anomaly_score)
    assert any(verdicts) and not all(verdicts)
    assert any(0.41 <= s < 0.5 for s in scores)  # where the old rule answered an anomaly below 0.5
