"""The seams of the runtime: a Predictor turns RGB frames into Predictions; an Engine runs tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from edge_runtime.modelpkg.manifest import ModelManifest

try:  # Python 3.8 has typing.Protocol
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore


@dataclass
class Prediction:
    """One frame's result before it becomes a wire message.

    `class_map` (segmentation only) is uint8 (H, W) at the frame's own size, one class index a pixel.
    `class_fractions` (segmentation only) is the share of the frame's pixels per class index.
    """

    score: float
    class_map: Optional[np.ndarray] = None
    class_fractions: Optional[Sequence[float]] = None


class Engine(Protocol):
    """Runs the network on an already preprocessed float batch (NCHW)."""

    @property
    def backend(self) -> str: ...

    @property
    def max_batch_size(self) -> int: ...

    def load(self) -> None: ...

    def infer(self, batch: np.ndarray) -> Dict[str, np.ndarray]: ...

    def close(self) -> None: ...


class CopyCounts(Protocol):
    """The GPU path's count of host copies of frame bytes (runtime/gpu/copy_counter.py)."""

    def snapshot(self) -> Dict[str, int]: ...


class Predictor(Protocol):
    """Frames in (uint8 RGB, HxWx3, any size, possibly views on shared memory), predictions out.

    It also says what the agent needs to serve it: which backend runs and why (`backend_note` for the
    metrics; `backend_reason`, empty on the default CPU path, for DescribeModel's status), how many
    `predict` calls may run at once (`instances`: one batch worker each), and the GPU path's copy
    counter (None elsewhere).
    """

    @property
    def backend(self) -> str: ...

    @property
    def backend_note(self) -> str: ...

    @property
    def backend_reason(self) -> str: ...

    @property
    def manifest(self) -> ModelManifest: ...

    @property
    def max_batch_size(self) -> int: ...

    @property
    def instances(self) -> int: ...

    @property
    def copy_counter(self) -> Optional[CopyCounts]: ...

    def load(self) -> None: ...

    def warmup(self) -> None: ...

    def predict(self, frames: Sequence[np.ndarray]) -> List[Prediction]: ...

    def close(self) -> None: ...
