"""Interleaved measurement: every series at one concurrency, back to back, for several rounds.

On a CPU shared with other jobs the background load drifts by the minute; measuring one server for
all concurrencies and then the next would hand each server a different machine. Here all servers
are up at once; for each round and concurrency the series run in a rotated order, and each
(series, concurrency) cell merges its rounds: latencies pooled, requests and time summed.

A server that burns CPU while idle would take that CPU from whichever series is being measured.
LitServe does (its worker polls its queues: about a fifth of a core here), so a target with
`pause()`/`resume()` is paused (SIGSTOP to its process group) while any other series runs, and
resumed for its own cells. Each series' idle CPU is measured first, with nothing paused, and
reported: on a device it is CPU the line software does not get.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from _common import RESULTS, log, machine_note

from edge_runtime.bench.procstats import ProcessSampler
from edge_runtime.bench.runner import Load, level_record, run_load
from edge_runtime.bench.status_line import StatusLine
from edge_runtime.bench.targets import Counters

Cell = List[Tuple[Load, Counters, Counters, Dict[str, Any]]]


IDLE_SAMPLE_S = 3.0
RESUME_SETTLE_S = 0.3


def measure_interleaved(targets: Dict[str, Any], frame: np.ndarray, concurrency: Tuple[int, ...],
                        duration_s: float, warmup_s: float, rounds: int
                        ) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Optional[float]]]:
    """(levels per series, merged Loads per series for the plots, idle CPU % per series)."""
    progress = StatusLine()
    names = list(targets)
    workers = {name: [t.worker() for _ in range(max(concurrency))] for name, t in targets.items()}
    cells: Dict[str, Dict[int, Cell]] = {name: {c: [] for c in concurrency} for name in names}
    try:
        for name in names:  # warm every series (one request each at least) before sampling idle CPU
            _focus(targets, name)
            load, _ = _load(targets[name], workers[name], frame, max(concurrency), warmup_s, progress,
                            name + " warm-up")
            progress.done("%s warm-up: %d requests, %d errors" % (name, load.requests, sum(load.errors.values())))
        idle = idle_cpu(targets)
        for r in range(rounds):
            log("== round %d of %d" % (r + 1, rounds))
            for i, c in enumerate(concurrency):
                shift = (r + i) % len(names)
                for name in names[shift:] + names[:shift]:
                    _focus(targets, name)
                    cells[name][c].append(_one(targets[name], workers[name], frame, c, duration_s, progress, name))
    finally:
        for target in targets.values():
            if hasattr(target, "resume"):
                target.resume()
        for group in workers.values():
            for worker in group:
                worker.close()
    levels = {name: [_merge(cells[name][c]) for c in concurrency] for name in names}
    loads = {name: [_merged_load(cells[name][c]) for c in concurrency] for name in names}
    return levels, loads, idle


def idle_cpu(targets: Dict[str, Any], seconds: float = IDLE_SAMPLE_S) -> Dict[str, Optional[float]]:
    """CPU % each server uses with no requests, all sampled over the same window, nothing paused."""
    for target in targets.values():
        if hasattr(target, "resume"):
            target.resume()
    time.sleep(RESUME_SETTLE_S)
    samplers = {name: ProcessSampler(t.pid, gpu=False, children=getattr(t, "process_tree", False))
                for name, t in targets.items()}
    for sampler in samplers.values():
        sampler.start()
    time.sleep(seconds)
    idle = {name: sampler.stop()["cpu_percent"] for name, sampler in samplers.items()}
    log("idle CPU %%: %s" % ", ".join("%s %s" % kv for kv in idle.items()))
    return idle


def _focus(targets: Dict[str, Any], name: str) -> None:
    """Pause every pausable target but `name`; resume `name` and let it settle if it was paused."""
    for other, target in targets.items():
        if other != name and hasattr(target, "pause"):
            target.pause()
    target = targets[name]
    if hasattr(target, "resume") and target.resume():
        time.sleep(RESUME_SETTLE_S)


def _one(target: Any, workers: List[Any], frame: np.ndarray, c: int, duration_s: float, progress: StatusLine,
         name: str) -> Tuple[Load, Counters, Counters, Dict[str, Any]]:
    before = target.counters()
    sampler = ProcessSampler(target.pid, children=getattr(target, "process_tree", False))
    sampler.start()
    load, client_cpu_s = _load(target, workers, frame, c, duration_s, progress, name)
    process = sampler.stop()
    process["client_cpu_percent"] = round(100.0 * client_cpu_s / max(load.elapsed_s, 1e-9), 1)
    after = target.counters()
    progress.done("%-24s c=%-3d %7.1f req/s" % (name, c, load.ok / load.elapsed_s if load.elapsed_s else 0.0))
    return load, before, after, process


def _load(target: Any, workers: List[Any], frame: np.ndarray, c: int, duration_s: float, progress: StatusLine,
          name: str) -> Tuple[Load, float]:
    """One closed-loop run: here, or in the target's own client process (`remote_load`: Triton's clients)."""
    if hasattr(target, "remote_load"):
        progress.update("%s  c=%d (clients in their own process)" % (name, c))
        return target.remote_load(c, duration_s)
    own_cpu = time.process_time()
    load = run_load(workers, frame, c, duration_s, progress, name)
    return load, time.process_time() - own_cpu


def _merged_load(cell: Cell) -> Load:
    merged = Load(cell[0][0].concurrency)
    for load, _, _, _ in cell:
        merged.latencies.extend(load.latencies)
        merged.elapsed_s += load.elapsed_s
        for code, n in load.errors.items():
            merged.errors[code] = merged.errors.get(code, 0) + n
        for code, text in load.first_error.items():
            merged.first_error.setdefault(code, text)
    return merged


def _merge(cell: Cell) -> Dict[str, Any]:
    buckets: Dict[str, int] = {}
    for _, before, after, _ in cell:
        for key, value in after.batch_buckets.items():
            buckets[key] = buckets.get(key, 0) + value - before.batch_buckets.get(key, 0)
    delta = Counters(requests=sum(a.requests - b.requests for _, b, a, _ in cell),
                     batches=sum(a.batches - b.batches for _, b, a, _ in cell),
                     frames=sum(a.frames - b.frames for _, b, a, _ in cell), batch_buckets=buckets,
                     resident_memory_bytes=cell[-1][2].resident_memory_bytes)
    process = _merge_process([p for _, _, _, p in cell])
    record = level_record(_merged_load(cell), Counters(), delta, process)
    record["rounds"] = len(cell)
    record["per_round"] = [{"throughput_rps": round(load.ok / load.elapsed_s, 2) if load.elapsed_s else 0.0,
                            "p50_ms": round(1000.0 * float(np.median(load.latencies)), 3) if load.latencies else None}
                           for load, _, _, _ in cell]  # the spread between rounds, and per-round ratios
    return record


def _merge_process(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    def mean(key: str) -> Any:
        values = [p[key] for p in parts if p.get(key) is not None]
        return round(sum(values) / len(values), 1) if values else None

    peaks = [p["rss_mb_max"] for p in parts if p.get("rss_mb_max") is not None]
    return {"cpu_percent": mean("cpu_percent"), "client_cpu_percent": mean("client_cpu_percent"),
            "rss_mb_max": max(peaks) if peaks else None, "rss_mb_mean": mean("rss_mb_mean"), "gpu": None}


def add_run_arguments(parser: argparse.ArgumentParser, rounds: int, size: str) -> None:
    """The options every interleaved benchmark takes: concurrency levels, cell duration, warm-up, rounds,
    frame size and output folder."""
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--size", default=size)
    parser.add_argument("--output", default=RESULTS)


def run_header(args: argparse.Namespace, image: Dict[str, Any], concurrency: Tuple[int, ...],
               **extra: Any) -> Dict[str, Any]:
    """The start of a results file: when, on what machine, which frame, and the run's settings."""
    return {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_note(),
            "image": image, **extra,
            "settings": {"duration_s": args.duration, "rounds": args.rounds, "size": args.size,
                         "concurrency": list(concurrency)}}
