#!/usr/bin/env python
"""Train and evaluate on the ELPV solar cells with the trainer's own defaults, over one or more seeded splits.

ELPV (`elpv-dataset`): defect probability 0 is normal, 1 anomalous (the uncertain 1/3 and 2/3 cells are
left out), a seeded random stratified split (70/30 unless --test-fraction says otherwise). Manifests,
model packages and evaluations go to benchmarks/work/ (git-ignored: the images are never copied or
committed). Each seed runs in its own process, so its peak RSS is its own. Prints and writes, per seed
and as mean and spread (sample standard deviation, min..max) over the seeds: ROC AUC, F1, precision and
recall at the calibrated threshold (0.5), training wall time and peak RSS; writes
benchmarks/results/train_elpv[_normal_only].json and the ROC / precision-recall plots of the first seed.

--normal-only trains on the normal training cells alone (a one-class model) and tests on both.

Targets (supervised): ROC AUC >= 0.95, F1 >= 0.85, training < 15 min and peak RSS < 4 GB on a 2-core CPU;
normal-only: ROC AUC >= 0.85.

Run: python benchmarks/train_elpv.py [--seeds 3] [--seed 1] [--test-fraction 0.3] [--normal-only]
     [--image-size N] [--tta/--no-tta] [--time-budget SECONDS] [--epochs N] [--views N] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "benchmarks", "work", "elpv")
RESULTS = os.path.join(ROOT, "benchmarks", "results")
TARGETS = {"ROCAUC": 0.95, "F1Score": 0.85, "train_seconds": 15 * 60, "peak_rss_mb": 4096}
NORMAL_ONLY_TARGETS = {"ROCAUC": 0.85, "train_seconds": 15 * 60, "peak_rss_mb": 4096}
FIGURES = ("ROCAUC", "F1Score", "Precision", "Recall", "AveragePrecision", "train_seconds", "peak_rss_mb")


def peak_rss_mb() -> float:
    """ru_maxrss of this process and of waited-for children (Linux reports KB), the larger of the two."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="first split and training seed")
    parser.add_argument("--seeds", type=int, default=1, help="run this many seeds (seed, seed+1, ...)")
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--normal-only", action="store_true", help="train on the normal training cells only")
    parser.add_argument("--image-size", type=int, default=None, help="default: the trainer's choice")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="mirror test-time augmentation (default: the trainer's choice)")
    parser.add_argument("--time-budget", type=float, default=None, help="the trainer's --time-budget")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--views", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default=WORK)
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--one-json", default=None, help=argparse.SUPPRESS)  # internal: run one seed, write here
    return parser.parse_args(argv)


def _normal_lines_only(path: str) -> str:
    """A copy of a training manifest with its anomalous lines left out."""
    target = path.replace(".manifest", "-normal.manifest")
    with open(path, encoding="utf-8") as source, open(target, "w", encoding="utf-8") as out:
        out.writelines(line for line in source if json.loads(line)["anomaly-label"] == 0)
    return target


def run_one(args: argparse.Namespace) -> Dict[str, Any]:
    """One seed in this process: manifests, training with the defaults, evaluation of the package."""
    sys.path.insert(0, ROOT)
    from edge_runtime.datasets.elpv import write_elpv_manifests
    from edge_runtime.evaluate.report import write_evaluation
    from edge_runtime.evaluate.runner import evaluate_dataset
    from edge_runtime.train.config import TrainConfig
    from edge_runtime.train.pipeline import train_model

    work = os.path.join(args.work, "seed%d%s" % (args.seed, "-normal-only" if args.normal_only else ""))
    package, evaluation_dir = os.path.join(work, "model"), os.path.join(work, "evaluation")
    for folder in (package, evaluation_dir):
        shutil.rmtree(folder, ignore_errors=True)
    train_manifest, test_manifest = write_elpv_manifests(os.path.join(work, "manifests"), seed=args.seed,
                                                         test_fraction=args.test_fraction)
    if args.normal_only:
        train_manifest = _normal_lines_only(train_manifest)
    options: Dict[str, Any] = {"image_size": args.image_size, "mirror_tta": args.tta, "epochs": args.epochs,
                               "views": args.views, "time_budget": args.time_budget}
    config = TrainConfig(task="classification", train_manifest=train_manifest, test_manifest=test_manifest,
                         output=package, name="elpv", seed=args.seed, threads=args.threads,
                         normal_only=args.normal_only, **{k: v for k, v in options.items() if v is not None})
    started = time.monotonic()
    result = train_model(config)
    train_seconds = time.monotonic() - started
    evaluation, n_train = evaluate_dataset(package, test_manifest, threads=args.threads, quiet=True)
    paths = write_evaluation(evaluation, evaluation_dir, n_train)
    m = evaluation.image
    training = result.manifest.training
    return {
        "seed": args.seed, "ROCAUC": m.roc_auc, "F1Score": m.f1, "Precision": m.precision, "Recall": m.recall,
        "AveragePrecision": m.average_precision, "ExpectedCalibrationError": evaluation.reliability.ece,
        "confusion": m.counts, "train_seconds": round(train_seconds, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
        "counts": training["counts"], "method": training.get("method"), "chosen": training.get("defaults"),
        "input_size": training["input_size"], "mirror_tta": training.get("mirror_tta"),
        "epochs": training.get("epochs"), "views": training.get("views"), "validation": training["validation"],
        "plots": {"roc": paths["roc"], "pr": paths["pr"]},
    }


def spread(values: List[float]) -> Dict[str, float]:
    return {"mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
            "min": round(min(values), 4), "max": round(max(values), 4)}


def _child(args: argparse.Namespace, seed: int, out: str) -> Dict[str, Any]:
    argv = [sys.executable, os.path.abspath(__file__), "--seed", str(seed), "--one-json", out,
            "--test-fraction", str(args.test_fraction), "--threads", str(args.threads), "--work", args.work]
    for flag, value in (("--image-size", args.image_size), ("--epochs", args.epochs), ("--views", args.views),
                        ("--time-budget", args.time_budget)):
        if value is not None:
            argv += [flag, str(value)]
    if args.tta is not None:
        argv.append("--tta" if args.tta else "--no-tta")
    if args.normal_only:
        argv.append("--normal-only")
    subprocess.run(argv, check=True)
    with open(out, encoding="utf-8") as handle:
        return dict(json.load(handle))


def report(args: argparse.Namespace, runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    targets = NORMAL_ONLY_TARGETS if args.normal_only else TARGETS
    summary = {key: spread([float(r[key]) for r in runs]) for key in FIGURES}
    passed = {key: (summary[key]["mean"] >= goal if key in ("ROCAUC", "F1Score") else summary[key]["max"] < goal)
              for key, goal in targets.items()}
    return {
        "dataset": "elpv-dataset: probability 0 normal, 1 anomalous; stratified %d/%d split per seed"
                   % (round(100 * (1 - args.test_fraction)), round(100 * args.test_fraction)),
        "normal_only": args.normal_only,
        "flags": {k: v for k, v in (("image_size", args.image_size), ("tta", args.tta), ("epochs", args.epochs),
                                    ("views", args.views), ("time_budget", args.time_budget)) if v is not None}
        or "none (the trainer's defaults)",
        "seeds": [r["seed"] for r in runs], "runs": runs, "summary": summary, "targets": targets,
        "passed": passed,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()]},
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.one_json:
        result = run_one(args)
        with open(args.one_json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
        return 0
    os.makedirs(args.work, exist_ok=True)
    runs = []
    for seed in range(args.seed, args.seed + args.seeds):
        run = _child(args, seed, os.path.join(args.work, "run-seed%d.json" % seed))
        runs.append(run)
        print("seed %d: ROC AUC %.4f  F1 %.4f  precision %.4f  recall %.4f  train %.0f s  peak RSS %.0f MB  "
              "(input %s, tta %s)" % (seed, run["ROCAUC"], run["F1Score"], run["Precision"], run["Recall"],
                                      run["train_seconds"], run["peak_rss_mb"], run["input_size"],
                                      run["mirror_tta"]), flush=True)
    out = report(args, runs)
    name = "train_elpv_normal_only" if args.normal_only else "train_elpv"
    os.makedirs(args.results, exist_ok=True)
    for key, suffix in (("roc", "roc"), ("pr", "precision_recall")):
        shutil.copyfile(runs[0]["plots"][key], os.path.join(args.results, "%s_%s.png" % (name, suffix)))
    with open(os.path.join(args.results, name + ".json"), "w", encoding="utf-8") as handle:
        json.dump(out, handle, indent=2)
        handle.write("\n")
    s = out["summary"]
    print("%d seed(s): ROC AUC %.4f +- %.4f  F1 %.4f +- %.4f  train %.0f s (max %.0f)  peak RSS max %.0f MB"
          % (len(runs), s["ROCAUC"]["mean"], s["ROCAUC"]["std"], s["F1Score"]["mean"], s["F1Score"]["std"],
             s["train_seconds"]["mean"], s["train_seconds"]["max"], s["peak_rss_mb"]["max"]))
    print("targets %s" % ("met" if all(out["passed"].values()) else "NOT met: %s" % out["passed"]))
    return 0 if all(out["passed"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
