"""Benchmark settings: small frozen dataclasses validated on creation (the CLI builds them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from edge_runtime.errors import InvalidArgument
from edge_runtime.image_limits import MAX_SIDE, MIN_SIDE

TARGET_KINDS = ("socket", "address", "in-process")
TRANSPORTS = ("inline", "shm")
MAX_CONCURRENCY = 1024


def parse_concurrency(text: str) -> Tuple[int, ...]:
    """"1,2,4,8" -> (1, 2, 4, 8); every value 1..1024."""
    values = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise InvalidArgument("--concurrency must be whole numbers separated by commas, like 1,2,4,8; "
                                  "got %r" % text) from None
        if not 1 <= value <= MAX_CONCURRENCY:
            raise InvalidArgument("--concurrency values must be 1..%d clients, got %d" % (MAX_CONCURRENCY, value))
        values.append(value)
    return tuple(values)


def parse_size(text: str) -> Tuple[int, int]:
    """"640x480" -> (640, 480), each side 64..4096 (what the agent accepts)."""
    parts = str(text).lower().split("x")
    try:
        width, height = int(parts[0]), int(parts[1])
        if len(parts) != 2:
            raise ValueError
    except (ValueError, IndexError):
        raise InvalidArgument("--size must be WIDTHxHEIGHT like 640x480, got %r" % text) from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidArgument("--size must be %d..%d pixels a side, got %dx%d" % (MIN_SIDE, MAX_SIDE, width, height))
    return width, height


@dataclass(frozen=True)
class TargetSpec:
    """What is measured: an agent on a Unix socket, an agent on host:port, or a package in-process."""

    kind: str
    location: str  # socket path/URI, host:port, or package folder
    model: str
    transport: str = "inline"
    agent_pid: int = 0  # 0: find it (SO_PEERCRED on a Unix socket) or go without process stats
    max_batch_size: int = 8  # in-process only: the batcher's settings (the agent's defaults)
    max_wait_ms: float = 2.0
    instances: int = 1  # in-process only: predictor instances (the agent's models.instances)
    cpu_engine: str = "auto"  # in-process only: the agent's models.cpu_engine (auto | openvino | onnxruntime)
    intra_op_threads: int = 0  # in-process only: the agent's models.intra_op_threads (0: from the CPU count)

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise InvalidArgument("target kind must be one of %s, got %r" % (", ".join(TARGET_KINDS), self.kind))
        if not self.location:
            raise InvalidArgument("the %s target needs a location" % self.kind)
        if not self.model:
            raise InvalidArgument("--model must name the model component to benchmark")
        if self.transport not in TRANSPORTS:
            raise InvalidArgument("--transport must be inline or shm, got %r" % self.transport)
        if self.transport == "shm" and self.kind != "socket":
            raise InvalidArgument("--transport shm needs the agent on this machine (--socket), not %s" % self.kind)
        if self.intra_op_threads < 0:
            raise InvalidArgument("intra_op_threads must be >= 0, got %d" % self.intra_op_threads)
        if self.agent_pid < 0:
            raise InvalidArgument("--agent-pid must be a process id, got %d" % self.agent_pid)
        if self.cpu_engine not in ("auto", "openvino", "onnxruntime"):
            raise InvalidArgument("cpu engine must be auto, openvino or onnxruntime, got %r" % (self.cpu_engine,))
        if not 1 <= self.instances <= 16:
            raise InvalidArgument("--instances must be 1..16, got %d" % self.instances)
        if self.instances != 1 and self.kind != "in-process":
            raise InvalidArgument("--instances applies to --in-process; a running agent takes models.instances "
                                  "from its own config")
        if not 1 <= self.max_batch_size <= 256:
            raise InvalidArgument("max batch size must be 1..256, got %d" % self.max_batch_size)


@dataclass(frozen=True)
class RunSettings:
    """How long and how hard: warm-up, then `duration_s` at each concurrency."""

    concurrency: Tuple[int, ...] = (1, 2, 4, 8, 16)
    duration_s: float = 10.0
    warmup_s: float = 3.0
    request_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.concurrency:
            raise InvalidArgument("--concurrency needs at least one value")
        if any(not 1 <= c <= MAX_CONCURRENCY for c in self.concurrency):
            raise InvalidArgument("--concurrency values must be 1..%d clients, got %s"
                                  % (MAX_CONCURRENCY, ",".join(str(c) for c in self.concurrency)))
        if not 0 < self.duration_s <= 3600:
            raise InvalidArgument("--duration must be > 0 and at most 3600 seconds, got %r" % self.duration_s)
        if not 0 <= self.warmup_s <= 600:
            raise InvalidArgument("--warmup must be 0..600 seconds, got %r" % self.warmup_s)
        if self.request_timeout_s <= 0:
            raise InvalidArgument("request timeout must be > 0 seconds")


@dataclass(frozen=True)
class ImageSpec:
    """The frame every request sends: a file, or a synthetic image of a given size."""

    path: str = ""
    size: Optional[Tuple[int, int]] = None  # (width, height)

    def __post_init__(self) -> None:
        if self.path and self.size:
            raise InvalidArgument("give --image or --size, not both")
