"""OpenVINO engine for CPU builds (the `openvino` extra): Intel's CPU runtime, on AMD and ARM64 too.

One compiled model per predictor, shared by its instances: each instance (`OpenVinoEngine`) owns one
infer request, and the compiled model gets one stream per instance, so N batches run side by side
on one copy of the weights (ONNX Runtime needs N sessions for that). The settings come from the
agent's config and the CPU count (`openvino_settings`):

    INFERENCE_PRECISION_HINT  f32 unless the build asks for bf16. OpenVINO's own default on a CPU
                              with bf16 units is bf16, which moved this project's demo score by up
                              to 0.05; a build measured at f32 is served at f32.
    PERFORMANCE_HINT          LATENCY for one instance (every core on one request), THROUGHPUT for more
    NUM_STREAMS               the instance count
    INFERENCE_NUM_THREADS     models.intra_op_threads x instances, or every CPU this process may use
    ENABLE_CPU_PINNING        NO. OpenVINO pins its threads to cores by default; on this project's CPU,
                              shared with other work as a device's is with line software, a pinned
                              thread waits for its core while another is free: the demo model ran at
                              16-25 req/s pinned and 35-37 unpinned, one client, same process, alternated.

Runs on Python 3.8 (openvino 2024.4 is the last wheel for it); imported only when a build asks for it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import numpy as np

from edge_runtime.errors import require
from edge_runtime.modelpkg.manifest import INPUT_NAME

log = logging.getLogger(__name__)

PRECISIONS = {"f32": "f32", "bf16": "bf16"}


@dataclass(frozen=True)
class OpenVinoSettings:
    """What the compiled model is told; `to_config` is the property map OpenVINO takes."""

    precision: str = "f32"  # INFERENCE_PRECISION_HINT
    streams: int = 1
    threads: int = 0  # 0: OpenVINO's choice (every core it may use)
    max_batch_size: int = 8
    pin_threads: bool = False  # ENABLE_CPU_PINNING

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError("OpenVINO precision must be f32 or bf16, got %r" % self.precision)
        if self.streams < 1 or self.threads < 0 or self.max_batch_size < 1:
            raise ValueError("OpenVINO streams and batch must be >= 1 and threads >= 0")

    @property
    def hint(self) -> str:
        return "LATENCY" if self.streams == 1 else "THROUGHPUT"

    def to_config(self) -> Dict[str, str]:
        config = {"INFERENCE_PRECISION_HINT": PRECISIONS[self.precision], "PERFORMANCE_HINT": self.hint,
                  "NUM_STREAMS": str(self.streams), "ENABLE_CPU_PINNING": "YES" if self.pin_threads else "NO"}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = str(self.threads)
        return config

    def describe(self) -> str:
        threads = "1 thread" if self.threads == 1 else "%s threads" % (self.threads or "all")
        return "%s, %s hint, %d stream%s, %s%s" % (self.precision, self.hint.lower(), self.streams,
                                                   "" if self.streams == 1 else "s", threads,
                                                   "" if self.pin_threads else " unpinned")


def openvino_settings(precision: str, instances: int, threads_per_instance: int, cpus: int,
                      max_batch_size: int) -> OpenVinoSettings:
    """Streams = instances; threads = the per-instance count times instances, else every CPU."""
    instances = max(1, instances)
    threads = threads_per_instance * instances if threads_per_instance else cpus
    return OpenVinoSettings(precision=precision, streams=instances, threads=max(0, threads),
                            max_batch_size=max_batch_size)


def openvino_version() -> Optional[str]:
    """The installed openvino's version, or None when the extra is absent (or broken)."""
    try:
        import openvino
    except Exception:  # ImportError, or a wheel whose native libraries do not load
        return None
    return str(getattr(openvino, "__version__", "unknown")).split("-")[0]


class OpenVinoModel:
    """One model file (IR .xml or .onnx) compiled for the CPU with a bounded dynamic batch."""

    def __init__(self, model_path: str, settings: OpenVinoSettings) -> None:
        self.model_path = model_path
        self.settings = settings
        self._lock = threading.Lock()
        self._compiled: Any = None
        self.output_names: List[str] = []

    def compiled(self) -> Any:
        with self._lock:
            if self._compiled is None:
                self._compiled = self._compile()
            return self._compiled

    def _compile(self) -> Any:
        ov = require("openvino", "openvino")
        core = ov.Core()
        model = core.read_model(self.model_path)
        shape = model.input(INPUT_NAME).get_partial_shape()
        shape[0] = ov.Dimension(1, self.settings.max_batch_size)
        model.reshape({INPUT_NAME: shape})
        compiled = core.compile_model(model, "CPU", self.settings.to_config())
        self.output_names = [o.get_any_name() for o in compiled.outputs]
        log.info("compiled %s on OpenVINO %s (%s)", self.model_path, ov.__version__, self.settings.describe())
        return compiled

    def close(self) -> None:
        with self._lock:
            self._compiled = None


class OpenVinoEngine:
    """One instance: an infer request on the shared compiled model (the runtime's Engine seam)."""

    backend = "openvino-cpu"

    def __init__(self, model: OpenVinoModel) -> None:
        self.model = model
        self.max_batch_size = model.settings.max_batch_size
        self._request: Any = None

    def load(self) -> None:
        self._request = self.model.compiled().create_infer_request()

    def infer(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        if self._request is None:
            raise RuntimeError("engine not loaded")
        results = self._request.infer({INPUT_NAME: batch}, share_inputs=True)
        return {name: np.asarray(results[name]) for name in self.model.output_names}

    def close(self) -> None:
        self._request = None
        self.model.close()
