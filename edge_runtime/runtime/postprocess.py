"""Network outputs to Predictions, and Predictions to the Lookout result rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from edge_runtime.modelpkg.manifest import ClassInfo, ModelManifest
from edge_runtime.runtime.types import Prediction


def predictions_from_outputs(
    outputs: dict, frame_sizes: Sequence[Tuple[int, int]], manifest: ModelManifest
) -> List[Prediction]:
    """`outputs` has `score` [N] and, for segmentation, `seg` [N, C, h, w]; sizes are (width, height)."""
    scores = np.asarray(outputs["score"], dtype=np.float32).reshape(-1)
    if len(scores) < len(frame_sizes):
        raise RuntimeError("engine returned %d scores for %d frames" % (len(scores), len(frame_sizes)))
    seg = outputs.get("seg") if manifest.task == "segmentation" else None
    preds = []
    for i, (w, h) in enumerate(frame_sizes):
        if seg is None:
            preds.append(Prediction(score=float(scores[i])))
            continue
        labels = np.argmax(seg[i], axis=0).astype(np.uint8)
        class_map = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        counts = np.bincount(class_map.reshape(-1), minlength=len(manifest.classes))
        fractions = (counts / float(w * h)).tolist()
        preds.append(Prediction(score=float(scores[i]), class_map=class_map, class_fractions=fractions))
    return preds


@dataclass(frozen=True)
class AnomalyArea:
    name: str
    fraction: float
    hex_color: str


@dataclass(frozen=True)
class DetectionResult:
    """The wire-independent form of DetectAnomalyResult."""

    is_anomalous: bool
    confidence: float
    anomaly_score: float
    anomaly_threshold: float
    anomalies: Tuple[AnomalyArea, ...] = ()


def decide(score: float, threshold: float) -> Tuple[bool, float]:
    """Lookout's rule: anomalous when round(score, 4) >= round(threshold, 4); confidence in that verdict.

    Lookout defines Confidence as the confidence in IsAnomalous, so it is never below 0.5 (clients keep a
    result only when confidence >= 0.5). The score is mapped piecewise linearly so that the threshold
    lands on 0.5 and 0 and 1 stay put: for a calibrated model (threshold 0.5, what training writes) the
    confidence is the score for an anomaly and 1 - score for a normal image; older packages with another
    threshold still get a confidence that agrees with the verdict.
    """
    anomalous = round(score, 4) >= round(threshold, 4)
    return anomalous, verdict_confidence(score, threshold, anomalous)


def verdict_confidence(score: float, threshold: float, anomalous: bool) -> float:
    s = min(max(float(score), 0.0), 1.0)
    t = min(max(float(threshold), 1e-6), 1.0 - 1e-6)
    confidence = 0.5 + 0.5 * ((s - t) / (1.0 - t) if anomalous else (t - s) / t)
    return min(max(confidence, 0.5), 1.0)  # rounding at the threshold can put the score a hair on the other side


def detection_result(pred: Prediction, manifest: ModelManifest) -> DetectionResult:
    anomalous, confidence = decide(pred.score, manifest.threshold)
    anomalies: Tuple[AnomalyArea, ...] = ()
    if manifest.task == "segmentation" and pred.class_fractions is not None:
        anomalies = tuple(
            AnomalyArea(c.name if c.index else "background", float(pred.class_fractions[c.index]), c.color)
            for c in manifest.classes
            if c.index == 0 or pred.class_fractions[c.index] > 0.0
        )
    return DetectionResult(anomalous, float(confidence), float(pred.score), float(manifest.threshold), anomalies)


def palette_lut(classes: Sequence[ClassInfo]) -> np.ndarray:
    """(256, 3) uint8 lookup from class index to RGB; background white, unknown indices white."""
    lut = np.full((256, 3), 255, dtype=np.uint8)
    for c in classes:
        lut[c.index] = c.rgb
    return lut


def render_mask(class_map: np.ndarray, lut: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """RGB888 mask (H, W, 3) for a class map; writes into `out` (e.g. a shared-memory view) when given."""
    if out is None:
        return lut[class_map]
    np.take(lut, class_map, axis=0, out=out)
    return out
