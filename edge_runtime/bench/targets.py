"""What a benchmark measures, behind one small interface.

`AgentTarget`: the running agent over its Unix socket (inline bytes or shared memory) or host:port,
one `EdgeAgentClient` per client thread, like separate camera programs. `InProcessTarget`: the same
package loaded with `load_package` + `create_predictor` in this process, behind the agent's own
`Batcher`, i.e. the agent minus gRPC. Both report server-side counters so the runner can check that
every request it sent was seen, and how requests were batched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from edge_runtime.bench.config import ImageSpec, TargetSpec
from edge_runtime.errors import FailedPrecondition

DEFAULT_SIZE = (640, 480)


@dataclass(frozen=True)
class Counters:
    """Server-side totals for the model so far; the runner takes differences."""

    requests: int = 0
    batches: int = 0
    frames: int = 0
    batch_buckets: Dict[str, int] = field(default_factory=dict)  # cumulative, Prometheus `le` bounds
    resident_memory_bytes: int = 0


class Worker:
    """One client thread's connection: `call(frame)` blocks until the result is back."""

    def __init__(self, call: Callable[[np.ndarray], Any], close: Callable[[], None]) -> None:
        self.call = call
        self.close = close


def make_frame(spec: ImageSpec) -> Tuple[np.ndarray, Dict[str, Any]]:
    """The RGB frame every request sends, and how to describe it in the results."""
    if spec.path:
        from edge_runtime.client.images import read_image_file

        frame = read_image_file(spec.path)
        source = spec.path
    else:
        width, height = spec.size or DEFAULT_SIZE
        rng = np.random.default_rng(0)
        ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
        noise = rng.integers(0, 48, size=(height, width, 3)).astype(np.float32)
        frame = np.clip(ramp * 0.8 + noise, 0, 255).astype(np.uint8)
        source = "synthetic"
    info = {"source": source, "width": int(frame.shape[1]), "height": int(frame.shape[0]),
            "bytes": int(frame.nbytes)}
    return np.ascontiguousarray(frame), info


class AgentTarget:
    """The agent over gRPC. `open()` checks it answers and the model is RUNNING."""

    def __init__(self, spec: TargetSpec, timeout_s: float = 30.0, credentials: Any = None) -> None:
        self.spec = spec
        self.timeout_s = timeout_s
        self.credentials = credentials
        self.pid: Optional[int] = spec.agent_pid or None
        self._admin: Any = None
        self.backend = ""  # DescribeModel's status message: the engine serving the model, and why

    @property
    def description(self) -> Dict[str, Any]:
        return {"kind": self.spec.kind, "location": self.spec.location, "model": self.spec.model,
                "transport": self.spec.transport, "pid": self.pid, "backend": self.backend}

    def _client(self, shm: bool = False) -> Any:
        from edge_runtime.client import EdgeAgentClient

        return EdgeAgentClient(self.spec.location, timeout=self.timeout_s, shared_memory=shm,
                               credentials=self.credentials)

    def open(self) -> None:
        from edge_runtime.bench.procstats import peer_pid

        self._admin = self._client()
        info = self._admin.describe_model(self.spec.model)  # UNAVAILABLE / NOT_FOUND surface here
        if info.status != "RUNNING":
            raise FailedPrecondition(
                "model %s is %s on the agent, not RUNNING; start it first: edge-runtime models start %s --wait%s"
                % (self.spec.model, info.status, self.spec.model,
                   " (%s)" % info.status_message if info.status_message else ""))
        self.backend = info.status_message.replace("RUNNING on ", "", 1)
        if self.pid is None and self.spec.kind == "socket":
            self.pid = peer_pid(self._admin.target)

    def worker(self) -> Worker:
        client = self._client(shm=self.spec.transport == "shm")
        model = self.spec.model

        def call(frame: np.ndarray) -> Any:
            return client.detect(model, frame, color_order="RGB")

        return Worker(call, client.close)

    def counters(self) -> Counters:
        data = self._admin.metrics()
        model = data.get("models", {}).get(self.spec.model, {})
        sizes = model.get("batch_size", {})
        return Counters(
            requests=int(sum(model.get("requests", {}).values())),
            batches=int(model.get("batches", 0)),
            frames=int(round(sizes.get("sum", 0))),
            batch_buckets={str(k): int(v) for k, v in sizes.get("buckets", {}).items()},
            resident_memory_bytes=int(data.get("resident_memory_bytes", 0)),
        )

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()


class InProcessTarget:
    """The package in this process: load_package + create_predictor behind the agent's Batcher."""

    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec
        self.pid: Optional[int] = os.getpid()
        self.backend = ""
        self._predictor: Any = None
        self._batcher: Any = None
        self._metrics: Any = None

    @property
    def description(self) -> Dict[str, Any]:
        return {"kind": "in-process", "location": os.path.abspath(self.spec.location), "model": self.spec.model,
                "transport": "in-process", "pid": self.pid, "backend": self.backend,
                "batching": "agent Batcher" if self._batcher is not None else "none (batch 1 per thread)",
                "instances": self.spec.instances}

    def open(self) -> None:
        from edge_runtime.runtime.factory import PredictorOptions, create_predictor
        from edge_runtime.runtime.loader import load_package

        package = load_package(self.spec.location)
        options = PredictorOptions(max_batch_size=self.spec.max_batch_size, instances=self.spec.instances,
                                   cpu_engine=self.spec.cpu_engine, intra_op_threads=self.spec.intra_op_threads)
        predictor = create_predictor(package, options)
        predictor.load()
        predictor.warmup()
        self._predictor = predictor
        self.backend = "%s (%s)" % (predictor.backend, predictor.backend_note)
        self._batcher, self._metrics = _start_batcher(self.spec, predictor)

    def worker(self) -> Worker:
        if self._batcher is not None:
            batcher = self._batcher

            def call(frame: np.ndarray) -> Any:
                return batcher.submit(frame).result()

            return Worker(call, lambda: None)

        def call_unbatched(frame: np.ndarray) -> Any:
            return self._predictor.predict([frame])[0]  # waits for a free instance (each has its own buffer)

        return Worker(call_unbatched, lambda: None)

    def counters(self) -> Counters:
        if self._metrics is None:
            return Counters()
        data = self._metrics.to_dict()
        sizes = data["batch_size"]
        frames = int(round(sizes["sum"]))
        return Counters(requests=frames, batches=int(data["batches"]), frames=frames,
                        batch_buckets={str(k): int(v) for k, v in sizes["buckets"].items()})

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.stop(timeout=10)
        if self._predictor is not None:
            self._predictor.close()


def _start_batcher(spec: TargetSpec, predictor: Any) -> Tuple[Any, Any]:
    """The agent's Batcher with the agent's metrics, when the agent package is installed."""
    try:
        from edge_runtime.agent.batcher import Batcher
        from edge_runtime.agent.config import BatchingConfig
        from edge_runtime.agent.metrics import ModelMetrics
    except ImportError:
        return None, None
    config = BatchingConfig(max_batch_size=spec.max_batch_size, max_wait_ms=spec.max_wait_ms, queue_size=4096)
    metrics = ModelMetrics()
    batcher = Batcher(spec.model, predictor.predict, config, metrics, max_batch_size=predictor.max_batch_size,
                      workers=getattr(predictor, "instances", 1))
    batcher.start()
    return batcher, metrics
