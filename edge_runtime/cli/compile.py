"""`edge-runtime compile`: a model package -> a compiled package for a Lookout target.

    edge-runtime compile --model PKG --target-device jetson_xavier --output DIR
    edge-runtime compile --model PKG --target-platform Os=LINUX,Arch=X86_64 \\
        --compiler-options '{"mcpu": "cascadelake", "precision": "int8"}' --output DIR
"""

from __future__ import annotations

import argparse
from typing import Any

OPTIONS_HELP = (
    "JSON object (3..1024 characters), Lookout's CompilerOptions. CPU: mcpu (default core-avx2 / generic), "
    "mattr ['+f', '-f'], precision fp32|int8, graph-optimization basic|extended, calibration-method "
    "minmax|percentile (int8). NVIDIA (required: gpu-code, "
    "trt-ver, cuda-ver): precision fp16|fp32|int8, workspace-mb. Both: max-batch-size, opt-batch-size."
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("compile", help="compile a model package for a CPU or an NVIDIA target",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model package folder (edge-model.json + model.onnx)")
    # Not an argparse mutually-exclusive group: validate_target gives the Lookout-style message.
    parser.add_argument("--target-device", default=None, help="jetson_xavier")
    parser.add_argument("--target-platform", default=None,
                        help="Os=LINUX,Arch=ARM64|X86_64[,Accelerator=NVIDIA] (or the same as JSON)")
    parser.add_argument("--compiler-options", default=None, help=OPTIONS_HELP)
    parser.add_argument("--output", required=True, help="folder for the compiled package (must be new or empty)")
    parser.add_argument("--max-calibration-images", type=int, default=256,
                        help="INT8 calibration and accuracy images taken from calibration.npz (default 256)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    parser.set_defaults(func=run_compile)


def run_compile(args: argparse.Namespace) -> int:
    from edge_runtime.compiler.compile import CompileSettings, compile_package
    from edge_runtime.compiler.targets import target_from_text

    target = target_from_text(args.target_device, args.target_platform, args.compiler_options)
    settings = CompileSettings(max_calibration_images=args.max_calibration_images, overwrite=args.force)
    result = compile_package(args.model, target, args.output, settings)
    build = result.build
    print("compiled %s -> %s" % (args.model, result.output_dir))
    print("  target:    %s" % target.describe())
    print("  backend:   %s (%s)" % (build.backend, build.precision))
    if build.cpu is not None:
        print("  artifact:  %s" % build.cpu.model_artifact)
        print("  requires:  %s" % (" ".join(build.cpu.required) or "-"))
        serving = build.cpu.serving
        print("  serves on: %s (%s)" % (serving.get("engine", "onnxruntime"), serving.get("reason", "")))
    elif build.tensorrt is not None:
        trt = build.tensorrt
        print("  engine:    %s" % (trt.engine or "deferred: built on the device at first start (%s)"
                                   % (trt.deferred_reason or "")))
    accuracy = build.accuracy
    if accuracy.get("measured"):
        print("  accuracy:  score MAE %.5f, max |diff| %.5f, labels agree %.1f%% on %d images"
              % (accuracy["score_mae"], accuracy["score_max_abs_diff"], 100 * accuracy["label_agreement"],
                 accuracy["images"]))
    return 0
