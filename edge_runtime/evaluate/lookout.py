"""Lookout's evaluation files: `EvaluationResult-<project>.json` and `EvaluationManifest-<project>.json`.

Shapes follow shared/specs/LOOKOUT_FORMATS.md exactly, so scripts written against Lookout's output
keep working. The model ARN is a local stand-in naming the project and model version.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence

from edge_runtime.datasets.types import Sample
from edge_runtime.evaluate.metrics import ImageMetrics, PixelClassMetrics

DETECTED_KEY = "anomaly-label-detected"


def timestamp() -> str:
    """Lookout's creation-date style: 2020-11-10T03:37:09.600 (UTC, milliseconds)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def model_arn(project: str, version: int) -> str:
    return "arn:edge-runtime:lookoutvision:local:model/%s/%d" % (project, version)


def _number(value: float) -> Optional[float]:
    """JSON has no NaN: an undefined metric (e.g. ROC AUC with one class) is written as null."""
    return None if value != value else round(float(value), 6)


def evaluation_result(project: str, version: int, image: ImageMetrics, pixels: Sequence[PixelClassMetrics],
                      n_train: int, n_test: int, segmentation: bool) -> Dict[str, Any]:
    metrics: Dict[str, Any] = {
        "ROCAUC": _number(image.roc_auc),
        "AveragePrecision": _number(image.average_precision),
        "Precision": _number(image.precision),
        "Recall": _number(image.recall),
        "F1Score": _number(image.f1),
    }
    if segmentation:
        metrics["PixelAnomalyClassMetrics"] = [
            {"ClassName": p.name, "Precision": _number(p.precision), "Recall": _number(p.recall),
             "F1Score": _number(p.f1), "AIOU": _number(p.aiou)}
            for p in pixels
        ]
    return {
        "Version": 1,
        "EvaluationDetails": {
            "ModelArn": model_arn(project, version),
            "EvaluationEndTimestamp": timestamp(),
            "NumberOfTrainingImages": int(n_train),
            "NumberOfTestingImages": int(n_test),
        },
        "AggregatedEvaluationResults": {"Metrics": metrics},
    }


def manifest_line(sample: Sample, anomalous: bool, confidence: float, project: str, version: int,
                  created: str) -> Dict[str, Any]:
    """The test line as it came in, plus Lookout's detected label and its metadata."""
    line: Dict[str, Any] = dict(sample.raw) if sample.raw else {"source-ref": sample.image_ref}
    line[DETECTED_KEY] = 1 if anomalous else 0
    line[DETECTED_KEY + "-metadata"] = {
        "class-name": "anomaly" if anomalous else "normal",
        "confidence": round(float(confidence), 6),
        "type": "groundtruth/image-classification",
        "human-annotated": "no",
        "creation-date": created,
        "job-name": "evaluation-%s-%d" % (project, version),
        "model-arn": model_arn(project, version),
        "project-name": project,
        "model-version": str(version),
    }
    return line


def dumps_result(result: Dict[str, Any]) -> str:
    return json.dumps(result, indent=2) + "\n"


def dumps_manifest(lines: List[Dict[str, Any]]) -> str:
    """JSON Lines, one test image a line."""
    return "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
