"""CPU builds: an offline-optimised ONNX Runtime model (FP32) or an INT8 QDQ model, with its accuracy change.

Offline optimisation uses `SessionOptions.optimized_model_filepath` at the `basic` or `extended`
level. The `all` level adds NCHWc layout transforms specific to the building CPU's vector width,
which ONNX Runtime documents as not portable, so it is left to load time on the device, where the
runtime's sessions apply it for the CPU they actually run on. The saved graph may use ONNX Runtime's
contrib ops (FusedConv, FusedGemm); onnxruntime 1.19 on the device's Python 3.8 loads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np

from edge_runtime.compiler.accuracy import accuracy_change
from edge_runtime.compiler.quantize import int8_choices, quantize_int8
from edge_runtime.errors import CompileError, require
from edge_runtime.modelpkg.manifest import ModelManifest
from edge_runtime.progress import ProgressSink
from edge_runtime.runtime.build.cpu_features import CpuTarget

_LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED"}


@dataclass(frozen=True)
class CpuBuildResult:
    artifact: str  # file name inside the output package
    precision: str
    onnxruntime: Dict[str, Any]
    accuracy: Dict[str, Any]


def optimize_offline(src: str, dst: str, level: str) -> Dict[str, Any]:
    """Save ONNX Runtime's graph-optimised model at `level` (basic | extended) to `dst`."""
    ort = require("onnxruntime", "compile")
    if level not in _LEVELS:
        raise CompileError("graph-optimization must be basic or extended, got %r" % level)
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[level])
    options.optimized_model_filepath = dst
    ort.InferenceSession(src, sess_options=options, providers=["CPUExecutionProvider"])
    if not os.path.isfile(dst):
        raise CompileError("ONNX Runtime did not write the optimised model %s" % dst)
    return {"graph_optimization_level": level, "optimized_with": "onnxruntime %s" % ort.__version__,
            "runtime_level": "all (applied at load time on the device)"}


def build_cpu(
    source_model: str,
    out_dir: str,
    manifest: ModelManifest,
    options: Any,  # options.CompilerOptions
    cpu: CpuTarget,
    images: Optional[np.ndarray],
    progress: ProgressSink,
) -> CpuBuildResult:
    """Write the CPU artifact into `out_dir` and measure its change against the source model."""
    if options.precision == "int8":
        return _build_int8(source_model, out_dir, manifest, cpu, images, options.calibration_method or "minmax",
                           progress)
    name = "model.cpu-fp32.onnx"
    progress("optimising the graph offline (ONNX Runtime, %s level)" % options.graph_optimization)
    ort_info = optimize_offline(source_model, os.path.join(out_dir, name), options.graph_optimization)
    progress("measuring the build against the source model")
    accuracy = accuracy_change(source_model, os.path.join(out_dir, name), images, manifest)
    return CpuBuildResult(name, "fp32", ort_info, accuracy)


def _build_int8(source_model: str, out_dir: str, manifest: ModelManifest, cpu: CpuTarget,
                images: Optional[np.ndarray], method: str, progress: ProgressSink) -> CpuBuildResult:
    if images is None:
        raise CompileError("precision int8 needs calibration images, but the package has no calibration.npz "
                           "(training writes it); compile with precision fp32 or add the file")
    choices = int8_choices(cpu, method)
    name = "model.cpu-int8.onnx"
    progress("quantising to INT8 (%s, per_channel=%s, reduce_range=%s, %s ranges) on %d calibration images"
             % (choices.quant_format, choices.per_channel, choices.reduce_range, method, len(images)))
    quant = quantize_int8(source_model, os.path.join(out_dir, name), images, manifest.input, choices)
    progress("measuring the INT8 accuracy change against the FP32 source model")
    accuracy = accuracy_change(source_model, os.path.join(out_dir, name), images, manifest)
    ort = require("onnxruntime", "compile")
    info = {"graph_optimization_level": "none (QDQ kept portable; fused at load time)",
            "optimized_with": "onnxruntime %s" % ort.__version__, "quantization": quant}
    return CpuBuildResult(name, "int8", info, accuracy)
