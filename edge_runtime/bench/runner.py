"""Closed-loop load: N client threads each send one request, wait for it, send the next.

A warm-up at the highest concurrency first, then each concurrency for `duration_s`. Per level the
runner records every latency, counts errors by status name, samples the serving process, and reads
the server's counters before and after so batch sizes and request counts come from the server too.
"""

from __future__ import annotations

import platform
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from edge_runtime.bench.config import RunSettings
from edge_runtime.bench.procstats import ProcessSampler
from edge_runtime.bench.stats import bucket_delta, latency_histogram, latency_summary
from edge_runtime.bench.status_line import StatusLine
from edge_runtime.bench.targets import Counters, Worker
from edge_runtime.errors import EdgeRuntimeError

SCHEMA = "edge-runtime-bench/1"
ERROR_PAUSE_S = 0.01  # after a failed call, so a dead server does not make the clients spin
COUNTER_SETTLE_S = 0.05  # the batcher records a batch just after answering it


class Load:
    """The outcome of one closed-loop run; `latencies` (seconds) stay out of the JSON."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.latencies: List[float] = []
        self.errors: Dict[str, int] = {}
        self.first_error: Dict[str, str] = {}
        self.elapsed_s = 0.0
        self._lock = threading.Lock()

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def requests(self) -> int:
        return self.ok + sum(self.errors.values())

    def add_error(self, exc: BaseException) -> None:
        code = str(getattr(exc, "code", "") or type(exc).__name__)
        with self._lock:
            self.errors[code] = self.errors.get(code, 0) + 1
            self.first_error.setdefault(code, str(exc))


def run_load(workers: List[Worker], frame: np.ndarray, concurrency: int, duration_s: float,
             progress: StatusLine, label: str) -> Load:
    load = Load(concurrency)
    start = threading.Event()
    deadline = [0.0]

    ends = [0.0] * concurrency

    def client(index: int, worker: Worker, latencies: List[float]) -> None:
        start.wait()
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            try:
                worker.call(frame)
            except Exception as exc:  # counted by status; the load goes on
                load.add_error(exc)
                time.sleep(ERROR_PAUSE_S)
            else:
                latencies.append(time.perf_counter() - t0)
        ends[index] = time.perf_counter()

    per_thread: List[List[float]] = [[] for _ in range(concurrency)]
    threads = [threading.Thread(target=client, args=(i, workers[i], per_thread[i]), daemon=True)
               for i in range(concurrency)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + duration_s
    start.set()
    while any(t.is_alive() for t in threads):
        done = sum(len(p) for p in per_thread)
        elapsed = time.perf_counter() - t0
        progress.update("%s  c=%-3d %5.1f/%.0f s  %7d ok  %5d errors  %8.1f req/s"
                        % (label, concurrency, min(elapsed, duration_s), duration_s, done,
                           sum(load.errors.values()), done / max(elapsed, 1e-9)))
        time.sleep(0.25)
    load.elapsed_s = max(ends) - t0  # when the last in-flight request came back
    load.latencies = [x for p in per_thread for x in p]
    return load


def level_record(load: Load, before: Counters, after: Counters, process: Dict[str, Any]) -> Dict[str, Any]:
    frames = after.frames - before.frames
    batches = after.batches - before.batches
    return {
        "concurrency": load.concurrency,
        "duration_s": round(load.elapsed_s, 3),
        "requests": load.requests,
        "ok": load.ok,
        "errors": dict(load.errors),
        "error_examples": dict(load.first_error),
        "throughput_rps": round(load.ok / load.elapsed_s, 2) if load.elapsed_s else 0.0,
        "latency_ms": latency_summary(load.latencies),
        "latency_histogram": latency_histogram(load.latencies),
        "server": {
            "requests": after.requests - before.requests,
            "batches": batches,
            "frames": frames,
            "mean_batch_size": round(frames / batches, 3) if batches else None,
            "batch_size_buckets_le": bucket_delta(before.batch_buckets, after.batch_buckets),
            "resident_memory_mb": round(after.resident_memory_bytes / 1e6, 1) if after.resident_memory_bytes else None,
        },
        "process": process,
    }


def run_benchmark(target: Any, frame: np.ndarray, image_info: Dict[str, Any], settings: RunSettings,
                  progress: Optional[StatusLine] = None, label: str = "bench") -> Tuple[Dict[str, Any], List[Load]]:
    """Warm up, run every concurrency, return (the JSON-ready result, the raw loads for plots)."""
    progress = progress or StatusLine(enabled=False)
    workers = [target.worker() for _ in range(max(settings.concurrency))]
    try:
        warm = _warm_up(target, workers, frame, settings, progress, label)
        levels, loads = [], []
        for concurrency in settings.concurrency:
            before = _settled(target)
            sampler = ProcessSampler(target.pid, children=getattr(target, "process_tree", False))
            sampler.start()
            own_cpu = time.process_time()
            load = run_load(workers, frame, concurrency, settings.duration_s, progress, label)
            process = sampler.stop()
            # The load generator's own CPU (this process, all threads): on a shared box it competes too.
            process["client_cpu_percent"] = round(100.0 * (time.process_time() - own_cpu) / load.elapsed_s, 1)
            record = level_record(load, before, _settled(target), process)
            levels.append(record)
            loads.append(load)
            progress.done(_level_line(label, record))
    finally:
        for worker in workers:
            worker.close()
    result = {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "target": target.description,
        "image": image_info,
        "settings": {"concurrency": list(settings.concurrency), "duration_s": settings.duration_s,
                     "warmup_s": settings.warmup_s},
        "host": {"cpu_count": _cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
        "warmup": warm,
        "levels": levels,
        "totals": _totals(warm, levels),
    }
    return result, loads


def _warm_up(target: Any, workers: List[Worker], frame: np.ndarray, settings: RunSettings,
             progress: StatusLine, label: str) -> Dict[str, Any]:
    before = _settled(target)
    load = Load(max(settings.concurrency))
    if settings.warmup_s > 0:
        load = run_load(workers, frame, max(settings.concurrency), settings.warmup_s, progress, label + " warm-up")
        if load.ok == 0 and load.errors:
            code, message = next(iter(load.first_error.items()))
            raise EdgeRuntimeError("every warm-up request failed (%d x %s): %s" % (load.requests, code, message))
    after = _settled(target)
    progress.done("%s  warm-up: %d requests in %.1f s" % (label, load.requests, load.elapsed_s))
    return {"requests": load.requests, "ok": load.ok, "errors": dict(load.errors),
            "seconds": round(load.elapsed_s, 3), "server_requests": after.requests - before.requests}


def _settled(target: Any) -> Counters:
    time.sleep(COUNTER_SETTLE_S)
    return target.counters()


def _totals(warm: Dict[str, Any], levels: List[Dict[str, Any]]) -> Dict[str, Any]:
    sent = warm["requests"] + sum(lv["requests"] for lv in levels)
    seen = warm["server_requests"] + sum(lv["server"]["requests"] for lv in levels)
    return {"requests": sent, "ok": warm["ok"] + sum(lv["ok"] for lv in levels), "server_requests": seen}


def _level_line(label: str, r: Dict[str, Any]) -> str:
    lat = r["latency_ms"]
    return "%s  c=%-3d %8.1f req/s  p50 %s  p99 %s ms  batch %s  %d errors" % (
        label, r["concurrency"], r["throughput_rps"], _fmt(lat["p50"]), _fmt(lat["p99"]),
        _fmt(r["server"]["mean_batch_size"]), sum(r["errors"].values()))


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else "%.2f" % value


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0
