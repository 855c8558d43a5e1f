"""The CPU path: OpenCV/numpy preprocessing, an Engine, numpy postprocessing."""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

from edge_runtime.modelpkg.manifest import ModelManifest
from edge_runtime.runtime.postprocess import predictions_from_outputs
from edge_runtime.runtime.preprocess import preprocess_batch
from edge_runtime.runtime.types import Engine, Prediction


class CpuPredictor:
    """Preprocess on the CPU into a reused batch buffer, run the engine, postprocess."""

    def __init__(self, manifest: ModelManifest, engine: Engine) -> None:
        self.manifest = manifest
        self.engine = engine
        self.max_batch_size = engine.max_batch_size
        self._buffer = np.empty(0, dtype=np.float32)

    @property
    def backend(self) -> str:
        return self.engine.backend

    def load(self) -> None:
        spec = self.manifest.input
        self.engine.load()
        self._buffer = np.empty((self.max_batch_size, 3, spec.height, spec.width), dtype=np.float32)

    def warmup(self) -> None:
        spec = self.manifest.input
        frame = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
        for n in sorted({1, self.max_batch_size}):
            self.predict([frame] * n)

    def predict(self, frames: Sequence[np.ndarray]) -> List[Prediction]:
        if not frames:
            return []
        if len(frames) > self.max_batch_size:
            raise ValueError("batch of %d exceeds max batch size %d" % (len(frames), self.max_batch_size))
        batch = preprocess_batch(frames, self.manifest.input, out=self._buffer)
        outputs = self.engine.infer(batch)
        sizes = [(f.shape[1], f.shape[0]) for f in frames]
        return predictions_from_outputs(outputs, sizes, self.manifest)

    def close(self) -> None:
        self.engine.close()
