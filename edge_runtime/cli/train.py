"""`edge-runtime train`: a Lookout manifest in, a model package out (see edge_runtime/train/pipeline.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train", help="train an anomaly classification or segmentation model on a CPU",
        description="Train from a Lookout manifest. With only --manifest, the images are split into train "
        "and test as Lookout did. The threshold is calibrated on a held-out part of the training images.")
    parser.add_argument("--manifest", required=True, help="training manifest (local path or s3://bucket/key)")
    parser.add_argument("--test-manifest", default=None, help="test manifest; without it --manifest is split")
    parser.add_argument("--task", required=True, choices=("classification", "segmentation"))
    parser.add_argument("--output", required=True, help="model package folder to create (must be new or empty)")
    parser.add_argument("--name", default="model", help="model name (later the component name)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: 6 classification, "
                        "25 segmentation)")
    parser.add_argument("--seed", type=int, default=0, help="split and training seed")
    parser.add_argument("--image-size", type=int, default=None, help="network input side in pixels (default: "
                        "the largest the images' size and --time-budget allow)")
    parser.add_argument("--time-budget", type=float, default=None, help="seconds the default input size is "
                        "chosen to fit (default 600)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 classification, 8 segmentation")
    parser.add_argument("--views", type=int, default=4, help="augmented views per training image (1..8: "
                        "mirrors and 90-degree rotations)")
    parser.add_argument("--tta", dest="tta", action="store_const", const=True, default=None,
                        help="classification: score the image and its mirror image and average (twice the "
                        "inference cost); default: on when it scores at least as well on the validation images")
    parser.add_argument("--no-tta", dest="tta", action="store_const", const=False, help="never mirror TTA")
    parser.add_argument("--normal-only", action="store_true", help="train a one-class model on the normal "
                        "images only (the default when the training images hold fewer than 5 anomalies)")
    parser.add_argument("--backbone", default="efficientnet-lite0", help="efficientnet-lite0 (default) or tiny")
    parser.add_argument("--backbone-weights", default=None, help="state dict (.pth) replacing the default "
                        "ImageNet weights of --backbone")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from edge_runtime.errors import require

    require("torch", "train")
    require("onnx", "train")
    from edge_runtime.evaluate.report import summary_lines
    from edge_runtime.train.config import TrainConfig
    from edge_runtime.train.pipeline import train_model

    extra = {"time_budget": args.time_budget} if args.time_budget is not None else {}
    config = TrainConfig(
        task=args.task, train_manifest=args.manifest, test_manifest=args.test_manifest, output=args.output,
        name=args.name, image_size=args.image_size, epochs=args.epochs, seed=args.seed,
        batch_size=args.batch_size, views=args.views, mirror_tta=args.tta, backbone=args.backbone,
        backbone_weights=args.backbone_weights, threads=args.threads, quiet=args.quiet,
        normal_only=args.normal_only, **extra)
    result = train_model(config)
    manifest = result.manifest
    print("model package: %s" % result.package_dir)
    print("task %s (%s), backbone %s, input %dx%d, threshold %.4f, trained in %.0f s"
          % (manifest.task, manifest.training.get("method"), manifest.backbone, manifest.input.width,
             manifest.input.height, manifest.threshold, result.seconds))
    for reason in manifest.training.get("defaults", []):
        print("chosen: %s" % reason)
    for line in summary_lines(result.evaluation):
        print(line)
    sys.stdout.flush()
    return 0
