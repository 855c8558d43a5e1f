"""Pick the predictor for a loaded package: TensorRT + CUDA preprocessing where possible, else CPU.

The choice and the reason for a fallback are returned so the agent can show them in DescribeModel's
status message and in its metrics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Tuple

from edge_runtime.modelpkg.loader import LoadedPackage
from edge_runtime.runtime.cpu_predictor import CpuPredictor
from edge_runtime.runtime.ort_engine import OrtEngine
from edge_runtime.runtime.types import Predictor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictorOptions:
    max_batch_size: int = 8
    intra_op_threads: int = 0  # 0: ONNX Runtime's default
    prefer_gpu: bool = True


def create_predictor(package: LoadedPackage, options: PredictorOptions) -> Tuple[Predictor, str]:
    """Return (predictor, note); the note says which backend was chosen and why."""
    if package.backend == "tensorrt" and options.prefer_gpu:
        try:
            from edge_runtime.runtime.gpu.tensorrt_predictor import create_tensorrt_predictor
        except ImportError as exc:  # the GPU subpackage or its libraries are missing
            note = "TensorRT path unavailable (%s); using the CPU path" % exc
        else:
            predictor, note = create_tensorrt_predictor(package, options)
            if predictor is not None:
                return predictor, note
        log.warning(note)
        onnx_path = (package.build or {}).get("onnx_path") or package.model_path
        engine = OrtEngine(onnx_path, options.max_batch_size, options.intra_op_threads)
        return CpuPredictor(package.manifest, engine), note
    engine = OrtEngine(package.model_path, options.max_batch_size, options.intra_op_threads)
    return CpuPredictor(package.manifest, engine), "onnxruntime"
