"""The CPU path: OpenCV/numpy preprocessing, an Engine, numpy postprocessing.

A CpuPredictor may hold several instances of the engine (separate ONNX Runtime sessions, each with
its own input buffer). `predict` is then safe to call from that many threads at once: each call
takes a free instance, so batches run side by side instead of queueing behind one session. On a
small CPU two single-threaded sessions keep the cores busier than one two-threaded session (one
batch's preprocessing, Python work and the serial parts of the network overlap the other's
inference): the agent's `models.instances`, like Triton's instance_group count.
"""

from __future__ import annotations

import queue
from typing import List, Optional, Sequence, Tuple

import numpy as np

from edge_runtime.modelpkg.manifest import ModelManifest
from edge_runtime.runtime.postprocess import predictions_from_outputs
from edge_runtime.runtime.preprocess import preprocess_batch
from edge_runtime.runtime.types import CopyCounts, Engine, Prediction

_Slot = Tuple[Engine, np.ndarray]


class CpuPredictor:
    """Preprocess on the CPU into a reused batch buffer, run the engine, postprocess."""

    def __init__(self, manifest: ModelManifest, engines: Sequence[Engine], backend_note: str = "onnxruntime",
                 backend_reason: str = "") -> None:
        if not engines:
            raise ValueError("a CpuPredictor needs at least one engine")
        self.manifest = manifest
        self.backend_note = backend_note  # which backend and why, as the metrics show it
        self.backend_reason = backend_reason  # why not the package's own backend; "" on the default path
        self.copy_counter: Optional[CopyCounts] = None  # only the GPU path copies frames it counts
        self.engines: List[Engine] = list(engines)
        self.max_batch_size = self.engines[0].max_batch_size
        self._free: "queue.Queue[_Slot]" = queue.Queue()
        self._loaded = False

    @property
    def backend(self) -> str:
        return self.engines[0].backend

    @property
    def instances(self) -> int:
        """How many `predict` calls can run at once (the agent starts one batch worker per instance)."""
        return len(self.engines)

    def load(self) -> None:
        if self._loaded:
            return
        spec = self.manifest.input
        for engine in self.engines:
            engine.load()
            self._free.put((engine, np.empty((self.max_batch_size, 3, spec.height, spec.width), dtype=np.float32)))
        self._loaded = True

    def warmup(self) -> None:
        spec = self.manifest.input
        frame = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
        for n in sorted({1, self.max_batch_size}):
            for _ in self.engines:  # each call takes the instance that waited longest: every one runs each size
                self.predict([frame] * n)

    def predict(self, frames: Sequence[np.ndarray]) -> List[Prediction]:
        if not frames:
            return []
        if len(frames) > self.max_batch_size:
            raise ValueError("batch of %d exceeds max batch size %d" % (len(frames), self.max_batch_size))
        if not self._loaded:
            raise RuntimeError("predictor not loaded")
        engine, buffer = slot = self._free.get()
        try:
            batch = preprocess_batch(frames, self.manifest.input, out=buffer)
            outputs = engine.infer(batch)
        finally:
            self._free.put(slot)
        sizes = [(f.shape[1], f.shape[0]) for f in frames]
        return predictions_from_outputs(outputs, sizes, self.manifest)

    def close(self) -> None:
        for engine in self.engines:
            engine.close()
