"""Write an Evaluation as Lookout's files plus plots, atomically, and summarise it in a few lines."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Dict, List

from edge_runtime.evaluate.lookout import (
    dumps_manifest,
    dumps_result,
    evaluation_result,
    manifest_line,
    timestamp,
)
from edge_runtime.evaluate.plots import write_pr_plot, write_reliability_plot, write_roc_plot
from edge_runtime.evaluate.runner import Evaluation

ROC_PLOT = "roc.png"
PR_PLOT = "precision-recall.png"
RELIABILITY_PLOT = "reliability.png"
CALIBRATION_FILE = "calibration.json"


def file_names(project: str) -> Dict[str, str]:
    return {"result": "EvaluationResult-%s.json" % project, "manifest": "EvaluationManifest-%s.json" % project,
            "roc": ROC_PLOT, "pr": PR_PLOT, "reliability": RELIABILITY_PLOT, "calibration": CALIBRATION_FILE}


def write_evaluation(evaluation: Evaluation, output_dir: str, n_train: int) -> Dict[str, str]:
    """Stage every file in a temp folder beside `output_dir`, then move each into place; returns paths."""
    manifest = evaluation.manifest
    project, version = manifest.name, manifest.version
    names = file_names(project)
    parent = os.path.dirname(os.path.abspath(output_dir)) or "."
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".eval-%s.tmp-" % project, dir=parent)
    try:
        result = evaluation_result(project, version, evaluation.image, evaluation.pixels, n_train,
                                   len(evaluation.samples), manifest.task == "segmentation")
        created = timestamp()
        lines = [manifest_line(s, bool(a), float(c), project, version, created)
                 for s, a, c in zip(evaluation.samples, evaluation.anomalous, evaluation.confidences)]
        _write_text(os.path.join(staging, names["result"]), dumps_result(result))
        _write_text(os.path.join(staging, names["manifest"]), dumps_manifest(lines))
        title = "%s v%d (%d test images)" % (project, version, len(evaluation.samples))
        write_roc_plot(os.path.join(staging, names["roc"]), evaluation.labels, evaluation.scores,
                       evaluation.image, title)
        write_pr_plot(os.path.join(staging, names["pr"]), evaluation.labels, evaluation.scores,
                      evaluation.image, title)
        write_reliability_plot(os.path.join(staging, names["reliability"]), evaluation.reliability, title)
        _write_text(os.path.join(staging, names["calibration"]), json.dumps(dict(
            evaluation.reliability.to_dict(), Threshold=evaluation.image.threshold,
            Warnings=list(evaluation.warnings)), indent=2) + "\n")
        os.makedirs(output_dir, exist_ok=True)
        paths = {}
        for key, name in names.items():
            paths[key] = os.path.join(output_dir, name)
            os.replace(os.path.join(staging, name), paths[key])
        return paths
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def summary_lines(evaluation: Evaluation) -> List[str]:
    m = evaluation.image
    counts = m.counts
    lines = [
        "test images: %d (%d anomalous), threshold %.4f" % (len(evaluation.samples), int(evaluation.labels.sum()),
                                                           m.threshold),
        "image level: precision %.4f  recall %.4f  F1 %.4f  ROC AUC %.4f  AP %.4f"
        % (m.precision, m.recall, m.f1, m.roc_auc, m.average_precision),
        "confusion: tp %d  fp %d  tn %d  fn %d" % (counts["tp"], counts["fp"], counts["tn"], counts["fn"]),
        "calibration: expected calibration error %.4f (10 bins)" % evaluation.reliability.ece,
    ]
    for p in evaluation.pixels:
        lines.append("pixel %-12s precision %.4f  recall %.4f  F1 %.4f  AIOU %.4f"
                     % (p.name, p.precision, p.recall, p.f1, p.aiou))
    lines.extend("warning: " + text for text in evaluation.warnings)
    return lines
