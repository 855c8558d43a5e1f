"""The memory budget: refuse a StartModel that would not fit instead of letting the device swap or OOM.

The estimate is made before loading, from file sizes, because loading is what must be avoided:
ONNX Runtime holds the weights, plus an optimised copy while it builds the session, so the model
file counts `WEIGHT_FACTOR` times; the batch input buffer (float32, max batch) and a fixed per-session
overhead for arenas and threads come on top. It errs high on purpose (see tests/agent for a measured
comparison). The original agent needed about 6 GB per model; this one needs tens of MB for small ones.
"""

from __future__ import annotations

import os
import threading
from typing import Dict, Optional

from edge_runtime.errors import ResourceExhausted
from edge_runtime.modelpkg.manifest import ModelManifest

WEIGHT_FACTOR = 2.5
SESSION_OVERHEAD_BYTES = 48 * 1024 * 1024
MODEL_FILE_SUFFIXES = (".onnx", ".plan", ".engine", ".trt")
MB = 1024 * 1024


def physical_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small device
        return 4 * 1024 * MB


def estimate_model_bytes(package_dir: str, manifest: Optional[ModelManifest], max_batch_size: int,
                         instances: int = 1) -> int:
    """Bytes a running model will need; `manifest` may be None when it cannot be read yet.

    Each instance is its own session with its own buffers; weights are counted once per instance too
    (ONNX Runtime keeps a copy per session)."""
    weights = 0
    for entry in os.scandir(package_dir):
        if entry.name.endswith(MODEL_FILE_SUFFIXES) and entry.is_file():
            weights += entry.stat().st_size
    buffers = 0
    if manifest is not None:
        buffers = max_batch_size * 3 * manifest.input.width * manifest.input.height * (4 + 1)
    return max(1, instances) * (int(weights * WEIGHT_FACTOR) + buffers + SESSION_OVERHEAD_BYTES)


class MemoryBudget:
    """Reservations per model against a fixed budget; reserve-and-check is atomic."""

    def __init__(self, budget_mb: int = 0) -> None:
        self.budget_bytes = budget_mb * MB if budget_mb else int(physical_memory_bytes() * 0.8)
        self._reserved: Dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, name: str, size: int) -> None:
        with self._lock:
            used = sum(v for k, v in self._reserved.items() if k != name)
            if used + size > self.budget_bytes:
                raise ResourceExhausted(
                    "not enough memory to start %s: it needs about %d MB, %d MB of the %d MB budget are in use "
                    "(models.memory_budget_mb); stop another model first"
                    % (name, size // MB, used // MB, self.budget_bytes // MB)
                )
            self._reserved[name] = size

    def release(self, name: str) -> None:
        with self._lock:
            self._reserved.pop(name, None)

    def used_bytes(self) -> int:
        with self._lock:
            return sum(self._reserved.values())
