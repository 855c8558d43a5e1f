"""Lookout's evaluation outputs for a trained model: EvaluationManifest and EvaluationResult JSON.

The trained package is run over the test manifest with the same runtime that serves DetectAnomalies,
so the manifest shows what the hosted model will answer. Image-level metrics come from the package
manifest (the trainer computed them, with ROC AUC and average precision) and, where it holds none,
from these predictions.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from edge_runtime.datasets.images import load_image
from edge_runtime.modelpkg.manifest import ModelManifest
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.loader import load_package
from edge_runtime.runtime.postprocess import decide

DETECTED = "anomaly-label-detected"


@dataclass(frozen=True)
class Decision:
    label: int | None  # ground truth: 1 anomaly, 0 normal
    anomalous: bool
    confidence: float


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def predict_test_set(package_dir: str, lines: list[dict[str, Any]], labels: list[int | None]) -> list[Decision]:
    """One decision per test line (references are staged local files)."""
    package = load_package(package_dir)
    predictor = create_predictor(package, PredictorOptions(max_batch_size=1, prefer_gpu=False))
    predictor.load()
    try:
        decisions = []
        for line, label in zip(lines, labels):
            prediction = predictor.predict([load_image(line["source-ref"])])[0]
            anomalous, confidence = decide(prediction.score, package.manifest.threshold)
            decisions.append(Decision(label, anomalous, confidence))
        return decisions
    finally:
        predictor.close()


def performance(manifest: ModelManifest, decisions: list[Decision]) -> dict[str, float]:
    """F1Score, Precision, Recall: the trainer's when the package has them, else from `decisions`."""
    metrics = manifest.metrics or {}
    if all(isinstance(metrics.get(k), (int, float)) for k in ("F1Score", "Precision", "Recall")):
        return {k: float(metrics[k]) for k in ("F1Score", "Precision", "Recall")}
    tp = sum(1 for d in decisions if d.anomalous and d.label == 1)
    fp = sum(1 for d in decisions if d.anomalous and d.label == 0)
    fn = sum(1 for d in decisions if not d.anomalous and d.label == 1)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"F1Score": f1, "Precision": precision, "Recall": recall}


def evaluation_manifest(lines: list[dict[str, Any]], decisions: list[Decision], model_arn: str, project: str,
                        version: int, finished: float) -> bytes:
    """Each test line plus `anomaly-label-detected` (1/0) and its metadata, as Lookout wrote them."""
    out = []
    for line, decision in zip(lines, decisions):
        detected = dict(line)
        detected[DETECTED] = 1 if decision.anomalous else 0
        detected[DETECTED + "-metadata"] = {
            "class-name": "anomaly" if decision.anomalous else "normal",
            "confidence": round(decision.confidence, 6), "type": "groundtruth/image-classification",
            "human-annotated": "no", "creation-date": _iso(finished), "job-name": "%s-%d" % (project, version),
            "model-arn": model_arn, "project-name": project, "model-version": str(version),
        }
        out.append(json.dumps(detected, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode("utf-8")


def evaluation_result(manifest: ModelManifest, decisions: list[Decision], model_arn: str, train_count: int,
                      finished: float) -> bytes:
    metrics: dict[str, Any] = dict(performance(manifest, decisions))
    for key in ("ROCAUC", "AveragePrecision", "PixelAnomalyClassMetrics"):
        if key in (manifest.metrics or {}):
            metrics[key] = manifest.metrics[key]
    document = {
        "Version": 1,
        "EvaluationDetails": {"ModelArn": model_arn, "EvaluationEndTimestamp": _iso(finished),
                              "NumberOfTrainingImages": train_count, "NumberOfTestingImages": len(decisions)},
        "AggregatedEvaluationResults": {"Metrics": metrics},
    }
    return json.dumps(document, indent=2, sort_keys=True).encode("utf-8")
