"""ONNX Runtime engine (CPU, or CUDA provider where present)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from edge_runtime.errors import require
from edge_runtime.modelpkg.manifest import INPUT_NAME

log = logging.getLogger(__name__)


class OrtEngine:
    """One InferenceSession; thread count and providers fixed at load."""

    def __init__(
        self,
        model_path: str,
        max_batch_size: int = 8,
        intra_op_threads: int = 0,
        providers: Optional[Sequence[str]] = None,
    ) -> None:
        self.model_path = model_path
        self.max_batch_size = max_batch_size
        self.intra_op_threads = intra_op_threads
        self._providers = list(providers) if providers else None
        self._session: Any = None
        self._output_names: List[str] = []
        self.backend = "onnxruntime-cpu"

    def load(self) -> None:
        if self._session is not None:  # loaded already (e.g. timed by cpu_engines.measured_choice)
            return
        ort = require("onnxruntime", "agent")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.intra_op_threads:
            options.intra_op_num_threads = self.intra_op_threads
        available = ort.get_available_providers()
        providers = self._providers or [
            p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available
        ]
        session = ort.InferenceSession(self.model_path, sess_options=options, providers=providers)
        self._output_names = [o.name for o in session.get_outputs()]
        used = session.get_providers()[0]
        self._session = session
        self.backend = "onnxruntime-cuda" if used == "CUDAExecutionProvider" else "onnxruntime-cpu"
        log.info("loaded %s with %s", self.model_path, used)

    def infer(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        if self._session is None:
            raise RuntimeError("engine not loaded")
        values = self._session.run(self._output_names, {INPUT_NAME: batch})
        return dict(zip(self._output_names, values))

    def close(self) -> None:
        self._session = None
