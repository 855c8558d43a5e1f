"""`edge-runtime evaluate`: a model package and a test manifest in, Lookout's evaluation files out."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="evaluate a model package on a test manifest (Lookout's metrics, JSON and plots)",
        description="Runs the package through the same runtime the agent uses, then writes "
        "EvaluationResult-<name>.json, EvaluationManifest-<name>.json, roc.png and precision-recall.png.")
    parser.add_argument("--model", required=True, help="model package folder")
    parser.add_argument("--manifest", required=True, help="test manifest (local path or s3://bucket/key)")
    parser.add_argument("--output", required=True, help="folder for the evaluation files")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: its default)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from edge_runtime.evaluate.report import summary_lines, write_evaluation
    from edge_runtime.evaluate.runner import evaluate_dataset

    evaluation, n_train = evaluate_dataset(args.model, args.manifest, args.batch_size, args.threads, args.quiet)
    paths = write_evaluation(evaluation, args.output, n_train)
    print("evaluation of %s v%d on %s" % (evaluation.manifest.name, evaluation.manifest.version, args.manifest))
    for line in summary_lines(evaluation):
        print(line)
    for path in paths.values():
        print("wrote %s" % path)
    return 0
