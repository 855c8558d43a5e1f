"""One pipeline slot: a CUDA stream with its own engine input/output buffers and completion events.

Two slots make the double buffer: while slot A's batch is in inference, slot B's frames are already
being resized into B's input buffer on B's stream. A slot is handed out only when its previous batch
has been collected, so its buffers are never rewritten under the GPU.
Python 3.8 compatible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

import numpy as np

from edge_runtime.modelpkg.manifest import INPUT_NAME, SCORE_OUTPUT
from edge_runtime.runtime.gpu.copy_counter import BatchCopies
from edge_runtime.runtime.gpu.cuda_device import DeviceLayer
from edge_runtime.runtime.gpu.tensorrt_engine import TensorRTEngine


class PipelineSlot:
    """Stream, events and device buffers for one batch in flight."""

    def __init__(self, index: int, device: DeviceLayer, engine: TensorRTEngine) -> None:
        self.index = index
        self.device = device
        self.context_index = index % max(1, len(engine.contexts))
        self.stream = device.stream_create()
        self.done = device.event_create()
        self.infer_done = device.event_create()
        outputs = [name for name, info in engine.tensors.items() if not info.is_input]
        self.buffers: Dict[str, int] = {
            name: device.alloc(engine.buffer_bytes(name)) for name in [INPUT_NAME] + outputs
        }
        self.score_dtype = engine.tensors[SCORE_OUTPUT].dtype
        self.host_score = device.host_alloc_mapped(engine.buffer_bytes(SCORE_OUTPUT))
        self._frames: Dict[int, Tuple[int, int]] = {}  # batch index -> (device frame buffer, capacity)

    def frame_buffer(self, index: int, nbytes: int) -> int:
        """Device memory for frame `index` (DMA transfer), grown on demand: the slot is idle while filled."""
        ptr, capacity = self._frames.get(index, (0, 0))
        if capacity < nbytes:
            if ptr:
                self.device.free(ptr)
            capacity = ((nbytes + (1 << 20) - 1) >> 20) << 20
            ptr = self.device.alloc(capacity)
            self._frames[index] = (ptr, capacity)
        return ptr

    def scores(self, frames: int) -> np.ndarray:
        """The first `frames` scores as float32 (one value per frame, checked at load), once `done` completed."""
        return self.host_score.array.view(self.score_dtype)[:frames].astype(np.float32)

    def free(self) -> None:
        for ptr in list(self.buffers.values()) + [p for p, _ in self._frames.values()]:
            self.device.free(ptr)
        self._frames = {}
        self.buffers = {}
        self.device.host_free(self.host_score)


@dataclass
class PendingBatch:
    """A submitted batch: which slot runs it and the frame sizes (width, height) to postprocess."""

    slot: PipelineSlot
    sizes: List[Tuple[int, int]]
    copies: BatchCopies
    sequence: int
    collected: bool = False
    error: Any = None
