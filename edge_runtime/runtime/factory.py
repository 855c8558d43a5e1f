"""Pick the predictor for a loaded package: TensorRT + CUDA preprocessing where possible, else CPU
(OpenVINO or ONNX Runtime: see cpu_engines.py).

The predictor carries the choice and the reason for a fallback (`backend_note`, `backend_reason`) so
the agent can show them in DescribeModel's status message and in its metrics.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from edge_runtime.modelpkg.manifest import ModelManifest
from edge_runtime.runtime.cpu_engines import cpu_predictor_for
from edge_runtime.runtime.cpu_predictor import CpuPredictor
from edge_runtime.runtime.loader import LoadedPackage
from edge_runtime.runtime.ort_engine import OrtEngine
from edge_runtime.runtime.types import Predictor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictorOptions:
    max_batch_size: int = 8
    intra_op_threads: int = 0  # per instance; 0: ONNX Runtime's default, or the CPUs split among instances
    prefer_gpu: bool = True
    instances: int = 1  # CPU path: sessions that run batches side by side (TensorRT: always 1)
    cpu_engine: str = "auto"  # auto | openvino | onnxruntime (cpu_engines.py)
    choice_cache: str = ""  # JSON file for auto's measured choice (cpu_engines.py); "" = measure each load


def available_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def threads_per_instance(options: PredictorOptions) -> int:
    """ONNX Runtime intra-op threads for each instance (0 = its default: one per core)."""
    if options.intra_op_threads or options.instances <= 1:
        return options.intra_op_threads
    return max(1, available_cpus() // options.instances)


def cpu_predictor(package: LoadedPackage, onnx_path: str, options: PredictorOptions) -> CpuPredictor:
    """The CPU path for a CPU build or a plain package: OpenVINO or ONNX Runtime (cpu_engines.py)."""
    return cpu_predictor_for(package, onnx_path, options, threads_per_instance(options), available_cpus(),
                             _instances_note(options))


def create_predictor(package: LoadedPackage, options: PredictorOptions) -> Predictor:
    """The predictor for `package`; its `backend_note` says which backend was chosen and why."""
    if package.backend == "tensorrt" and options.prefer_gpu:
        try:
            from edge_runtime.runtime.gpu.tensorrt_predictor import create_tensorrt_predictor
        except ImportError as exc:  # the GPU subpackage or its libraries are missing
            note = "TensorRT path unavailable (%s); using the CPU path" % exc
        else:
            predictor, note = create_tensorrt_predictor(package, options)
            if predictor is not None:
                return predictor
        log.warning(note)
        return _ort_predictor(package.manifest, package.onnx_path, options, note + _instances_note(options))
    return cpu_predictor(package, package.model_path, options)


def _ort_predictor(manifest: ModelManifest, onnx_path: str, options: PredictorOptions, reason: str) -> CpuPredictor:
    threads = threads_per_instance(options)
    engines = [OrtEngine(onnx_path, options.max_batch_size, threads) for _ in range(max(1, options.instances))]
    return CpuPredictor(manifest, engines, backend_note=reason, backend_reason=reason)


def _instances_note(options: PredictorOptions) -> str:
    if options.instances <= 1:
        return ""
    return ", %d instances x %d threads" % (options.instances, threads_per_instance(options))
