"""The seams of the runtime: a Predictor turns RGB frames into Predictions; an Engine runs tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

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


class Predictor(Protocol):
    """Frames in (uint8 RGB, HxWx3, any size, possibly views on shared memory), predictions out."""

    @property
    def backend(self) -> str: ...

    @property
    def max_batch_size(self) -> int: ...

    def load(self) -> None: ...

    def warmup(self) -> None: ...

    def predict(self, frames: Sequence[np.ndarray]) -> List[Prediction]: ...

    def close(self) -> None: ...
