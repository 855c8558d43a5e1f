"""In-process metrics: per-model counters and histograms, rendered as Prometheus text and JSON.

No client library: a device should not need one, and the exposition format is a few lines of text.
Everything here is thread-safe (one lock per model); recording costs a bisect and two additions.
"""

from __future__ import annotations

import bisect
import json
import os
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
PREFIX = "edge_agent_"


class Histogram:
    """Cumulative-on-read histogram with fixed upper bounds (Prometheus `le` semantics)."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # last slot: above every bound (+Inf)
        self.total = 0.0
        self.count = 0
        self.max = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1
        self.max = max(self.max, value)

    def cumulative(self) -> List[Tuple[str, int]]:
        out, running = [], 0
        for bound, n in zip([_fmt(b) for b in self.bounds] + ["+Inf"], self.counts):
            running += n
            out.append((bound, running))
        return out

    def to_dict(self) -> Dict[str, Any]:
        return {
            "count": self.count,
            "sum": self.total,
            "mean": self.total / self.count if self.count else 0.0,
            "max": self.max,
            "buckets": dict(self.cumulative()),
        }


class ModelMetrics:
    """Counters and histograms of one model."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Dict[str, int] = {}  # status code name -> count
        self.in_flight = 0  # DetectAnomalies calls between validation and response
        self.batches = 0
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.queue_time = Histogram(LATENCY_BUCKETS_S)
        self.inference_time = Histogram(LATENCY_BUCKETS_S)
        self.request_time = Histogram(LATENCY_BUCKETS_S)
        self.backend = ""  # e.g. onnxruntime-cpu, tensorrt; set when the model starts
        self.backend_note = ""  # why that backend (a fallback's reason)
        self._copies: Optional[Callable[[], Dict[str, int]]] = None  # GPU path: host copies of frame bytes

    def set_backend(self, backend: str, note: str, copies: Optional[Callable[[], Dict[str, int]]] = None) -> None:
        """Record which predictor serves the model; `copies` returns the GPU path's copy-counter snapshot."""
        with self.lock:
            self.backend, self.backend_note, self._copies = backend, note, copies

    def begin_request(self) -> None:
        with self.lock:
            self.in_flight += 1

    def record_request(self, code: str, seconds: float) -> None:
        """Ends a request begun with begin_request."""
        with self.lock:
            self.in_flight -= 1
            self.requests[code] = self.requests.get(code, 0) + 1
            self.request_time.observe(seconds)

    def record_batch(self, size: int, inference_s: float, queue_waits_s: Sequence[float]) -> None:
        with self.lock:
            self.batches += 1
            self.batch_size.observe(size)
            self.inference_time.observe(inference_s)
            for wait in queue_waits_s:
                self.queue_time.observe(wait)

    def to_dict(self) -> Dict[str, Any]:
        with self.lock:
            copies = self._copies
            data = {
                "backend": self.backend,
                "backend_note": self.backend_note,
                "requests": dict(self.requests),
                "in_flight": self.in_flight,
                "batches": self.batches,
                "batch_size": self.batch_size.to_dict(),
                "queue_time_seconds": self.queue_time.to_dict(),
                "inference_time_seconds": self.inference_time.to_dict(),
                "request_time_seconds": self.request_time.to_dict(),
            }
        data["frame_copies"] = copies() if copies is not None else None
        return data


class AgentMetrics:
    """All models' metrics plus per-RPC counters and the process's resident memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: Dict[str, ModelMetrics] = {}
        self._rpcs: Dict[Tuple[str, str], int] = {}

    def model(self, name: str) -> ModelMetrics:
        with self._lock:
            metrics = self._models.get(name)
            if metrics is None:
                metrics = self._models[name] = ModelMetrics()
            return metrics

    def record_rpc(self, method: str, code: str) -> None:
        with self._lock:
            self._rpcs[(method, code)] = self._rpcs.get((method, code), 0) + 1

    def snapshot(self) -> Dict[str, Any]:
        with self._lock:
            models = dict(self._models)
            rpcs = dict(self._rpcs)
        return {
            "resident_memory_bytes": resident_memory_bytes(),
            "rpcs": [{"method": m, "code": c, "count": n} for (m, c), n in sorted(rpcs.items())],
            "models": {name: m.to_dict() for name, m in sorted(models.items())},
        }

    def to_json(self, statuses: Optional[Dict[str, str]] = None) -> str:
        data = self.snapshot()
        data["model_status"] = dict(statuses or {})
        return json.dumps(data, sort_keys=True)

    def prometheus_text(self, statuses: Optional[Dict[str, str]] = None) -> str:
        """Prometheus text exposition format 0.0.4."""
        return render_prometheus(self.snapshot(), statuses or {})


def render_prometheus(data: Dict[str, Any], statuses: Dict[str, str]) -> str:
    lines: List[str] = []
    _family(lines, "resident_memory_bytes", "gauge", "Resident memory of the agent process.")
    lines.append("%sresident_memory_bytes %d" % (PREFIX, data["resident_memory_bytes"]))
    _family(lines, "rpcs_total", "counter", "gRPC calls by method and status code.")
    for row in data["rpcs"]:
        lines.append("%srpcs_total%s %d" % (PREFIX, _labels(method=row["method"], code=row["code"]), row["count"]))
    _family(lines, "model_up", "gauge", "1 when the model is RUNNING.")
    for name, status in sorted(statuses.items()):
        lines.append("%smodel_up%s %d" % (PREFIX, _labels(model=name, status=status), int(status == "RUNNING")))
    models = data["models"]
    _family(lines, "requests_total", "counter", "DetectAnomalies requests by model and status code.")
    for name, m in models.items():
        for code, n in sorted(m["requests"].items()):
            lines.append("%srequests_total%s %d" % (PREFIX, _labels(model=name, code=code), n))
    _family(lines, "model_backend_info", "gauge", "The predictor serving each model (CPU fallback or GPU).")
    for name, m in models.items():
        if m.get("backend"):
            lines.append("%smodel_backend_info%s 1" % (PREFIX, _labels(model=name, backend=m["backend"])))
    for key, help_text in (
        ("host_copies", "GPU path: host-side copies of frame bytes (0 per shared-memory frame)."),
        ("host_copy_bytes", "GPU path: bytes copied on the host while staging frames."),
        ("zero_copy_frames", "GPU path: frames the kernel read in place, with no host copy."),
    ):
        _family(lines, key + "_total", "counter", help_text)
        for name, m in models.items():
            if m.get("frame_copies"):
                lines.append("%s%s_total%s %d" % (PREFIX, key, _labels(model=name), m["frame_copies"][key]))
    _family(lines, "in_flight_requests", "gauge", "DetectAnomalies calls in progress (queued or running).")
    for name, m in models.items():
        lines.append("%sin_flight_requests%s %d" % (PREFIX, _labels(model=name), m["in_flight"]))
    for key, help_text in (
        ("batch_size", "Frames per predictor call."),
        ("queue_time_seconds", "Time a request waited in the batch queue."),
        ("inference_time_seconds", "Predictor time per batch (preprocess, inference, postprocess)."),
        ("request_time_seconds", "DetectAnomalies time inside the agent, validation to response."),
    ):
        _family(lines, key, "histogram", help_text)
        for name, m in models.items():
            _histogram(lines, key, name, m[key])
    return "\n".join(lines) + "\n"


def _family(lines: List[str], name: str, kind: str, help_text: str) -> None:
    lines.append("# HELP %s%s %s" % (PREFIX, name, help_text))
    lines.append("# TYPE %s%s %s" % (PREFIX, name, kind))


def _histogram(lines: List[str], key: str, model: str, h: Dict[str, Any]) -> None:
    for bound, n in h["buckets"].items():
        lines.append("%s%s_bucket%s %d" % (PREFIX, key, _labels(model=model, le=bound), n))
    lines.append("%s%s_sum%s %s" % (PREFIX, key, _labels(model=model), repr(float(h["sum"]))))
    lines.append("%s%s_count%s %d" % (PREFIX, key, _labels(model=model), h["count"]))


def _labels(**labels: str) -> str:
    parts = []
    for key, value in labels.items():
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append('%s="%s"' % (key, escaped))
    return "{" + ",".join(parts) + "}"


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def resident_memory_bytes() -> int:
    """RSS from /proc (Linux); 0 elsewhere. No psutil needed."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
