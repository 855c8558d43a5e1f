"""`edge-runtime dataset synth|check|elpv`: write the synthetic set, check a manifest, write ELPV manifests."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dataset", help="Lookout datasets: synthesise, check, ELPV manifests")
    commands = parser.add_subparsers(dest="dataset_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    synth = commands.add_parser("synth", help="write a small synthetic dataset with four Lookout manifests")
    synth.add_argument("--output", required=True, help="folder to create (must be new or empty)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--count", type=int, default=60,
                       help="normal and anomalous training images each; the test set gets a third of it (min 10)")
    synth.add_argument("--size", type=int, default=256, help="image side in pixels (64..4096)")
    synth.add_argument("--texture", default="brushed", help="brushed, woven, cast or mixed")
    synth.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    synth.set_defaults(func=run_synth)

    check = commands.add_parser("check", help="parse a manifest and check Lookout's limits before training")
    check.add_argument("--manifest", required=True, help="local path or s3://bucket/key")
    check.add_argument("--role", choices=("train", "test", "single"), default="single",
                       help="train or test set of a two-dataset project, or a single dataset (default)")
    check.add_argument("--endpoint-url", default=None, help="S3 endpoint (default: AWS_ENDPOINT_URL or AWS)")
    check.set_defaults(func=run_check)

    elpv = commands.add_parser("elpv", help="write train/test manifests for the installed elpv-dataset images")
    elpv.add_argument("--output", required=True, help="folder for elpv-train.manifest and elpv-test.manifest")
    elpv.add_argument("--seed", type=int, default=0)
    elpv.add_argument("--test-fraction", type=float, default=0.2)
    elpv.set_defaults(func=run_elpv)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_synth(args: argparse.Namespace) -> int:
    from edge_runtime.datasets.synth import SynthConfig, write_synthetic_dataset

    test_count = max(10, args.count // 3)
    config = SynthConfig(seed=args.seed, normal_train=args.count, anomalous_train=args.count,
                         normal_test=test_count, anomalous_test=test_count, size=args.size, texture=args.texture)
    paths = write_synthetic_dataset(args.output, config=config, overwrite=args.force)
    print("wrote %d images under %s" % (2 * args.count + 2 * test_count, paths.root))
    for name in ("classification_train", "classification_test", "segmentation_train", "segmentation_test"):
        print("  %-21s %s" % (name, getattr(paths, name)))
    return 0


def run_check(args: argparse.Namespace) -> int:
    from edge_runtime.datasets.limits import check_limits
    from edge_runtime.datasets.manifest import read_manifest

    dataset = read_manifest(args.manifest, endpoint_url=args.endpoint_url)
    report = check_limits(dataset, args.role, endpoint_url=args.endpoint_url)
    counts = report.counts
    print("%s: %s manifest, role %s, label attribute %r" % (dataset.path, dataset.task, args.role,
                                                           dataset.label_attribute))
    print("  images: %d normal, %d anomalous, %d unlabeled" % (counts["normal"], counts["anomaly"],
                                                               counts["unlabeled"]))
    print("  sizes:  %s" % ", ".join("%dx%d (%d)" % (w, h, n) for (w, h), n in sorted(report.sizes.items())))
    for cls in report.classes:
        print("  class:  %-20s %s in %d mask(s)" % (cls.name, cls.color, report.masks_per_class.get(cls.name, 0)))
    for warning in report.warnings:
        print("warning: %s" % warning, file=sys.stderr)
    print("OK: within Lookout's limits")
    return 0


def run_elpv(args: argparse.Namespace) -> int:
    from edge_runtime.datasets.elpv import write_elpv_manifests

    train, test = write_elpv_manifests(args.output, seed=args.seed, test_fraction=args.test_fraction)
    print("train: %s\ntest:  %s" % (train, test))
    return 0
