#!/usr/bin/env python
"""Issue 2's acceptance numbers: train and evaluate an anomaly classifier on the ELPV solar cells.

ELPV (`elpv-dataset`): defect probability 0 is normal, 1 anomalous (the uncertain 1/3 and 2/3 cells are
left out), a fixed random stratified 80/20 split (seed 0). Manifests, the model package and the
evaluation go to benchmarks/work/ (git-ignored: the images are never copied or committed). Prints ROC
AUC, F1, precision and recall at the calibrated threshold, training wall time and peak RSS (this
process and its children), and writes benchmarks/results/train_elpv.json plus the ROC and
precision-recall plots.

Targets: ROC AUC >= 0.95, F1 >= 0.85, training < 15 min and peak RSS < 4 GB on a 2-core CPU.

Run: python benchmarks/train_elpv.py [--image-size 300] [--epochs N] [--views 4] [--no-tta] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "benchmarks", "work", "elpv")
RESULTS = os.path.join(ROOT, "benchmarks", "results")
TARGETS = {"ROCAUC": 0.95, "F1Score": 0.85, "train_seconds": 15 * 60, "peak_rss_mb": 4096}


def peak_rss_mb() -> float:
    """ru_maxrss of this process and of waited-for children (Linux reports KB), the larger of the two."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=300, help="network input side (ELPV cells are 300)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                        help="average the score over the image and its mirror image (default: on)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=WORK)
    parser.add_argument("--results", default=RESULTS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    sys.path.insert(0, ROOT)
    from edge_runtime.datasets.elpv import write_elpv_manifests
    from edge_runtime.evaluate.report import summary_lines, write_evaluation
    from edge_runtime.evaluate.runner import evaluate_dataset
    from edge_runtime.train.config import TrainConfig
    from edge_runtime.train.pipeline import train_model

    package = os.path.join(args.work, "model")
    evaluation_dir = os.path.join(args.work, "evaluation")
    for folder in (package, evaluation_dir):
        shutil.rmtree(folder, ignore_errors=True)
    train_manifest, test_manifest = write_elpv_manifests(os.path.join(args.work, "manifests"), seed=args.seed)
    config = TrainConfig(task="classification", train_manifest=train_manifest, test_manifest=test_manifest,
                         output=package, name="elpv", image_size=args.image_size, epochs=args.epochs,
                         seed=args.seed, views=args.views, threads=args.threads,
                         mirror_tta=args.tta)
    started = time.monotonic()
    result = train_model(config)
    train_seconds = time.monotonic() - started
    evaluation, n_train = evaluate_dataset(package, test_manifest, threads=args.threads, quiet=True)
    paths = write_evaluation(evaluation, evaluation_dir, n_train)
    rss = peak_rss_mb()
    m = evaluation.image
    report: Dict[str, Any] = {
        "dataset": "elpv-dataset: probability 0 normal, 1 anomalous; stratified 80/20 split, seed %d" % args.seed,
        "counts": result.manifest.training["counts"],
        "config": {"image_size": args.image_size, "epochs": config.effective_epochs, "views": args.views,
                   "mirror_tta": args.tta, "batch_size": config.effective_batch_size,
                   "threads": args.threads, "backbone": result.manifest.backbone},
        "threshold": result.manifest.threshold,
        "ROCAUC": m.roc_auc, "AveragePrecision": m.average_precision, "F1Score": m.f1,
        "Precision": m.precision, "Recall": m.recall, "confusion": m.counts,
        "validation": result.manifest.training["validation"],
        "train_seconds": round(train_seconds, 1),
        "peak_rss_mb": round(rss, 1),
        "targets": TARGETS,
        "passed": {"ROCAUC": m.roc_auc >= TARGETS["ROCAUC"], "F1Score": m.f1 >= TARGETS["F1Score"],
                   "train_seconds": train_seconds < TARGETS["train_seconds"],
                   "peak_rss_mb": rss < TARGETS["peak_rss_mb"]},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()]},
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    os.makedirs(args.results, exist_ok=True)
    for key, name in (("roc", "train_elpv_roc.png"), ("pr", "train_elpv_precision_recall.png")):
        shutil.copyfile(paths[key], os.path.join(args.results, name))
    with open(os.path.join(args.results, "train_elpv.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
        handle.write("\n")
    for line in summary_lines(evaluation):
        print(line)
    print("ROC AUC %.4f  F1 %.4f  precision %.4f  recall %.4f  (threshold %.4f)"
          % (m.roc_auc, m.f1, m.precision, m.recall, result.manifest.threshold))
    print("training wall time %.0f s, peak RSS %.0f MB; targets %s" % (train_seconds, rss,
                                                                      "met" if all(report["passed"].values())
                                                                      else "NOT met: %s" % report["passed"]))
    return 0 if all(report["passed"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
