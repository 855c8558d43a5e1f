"""Latency summaries and batch-size differences: pure functions over numbers."""

from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np

HISTOGRAM_BINS = 40


def latency_summary(latencies_s: Sequence[float]) -> Dict[str, Any]:
    """mean/min/max and p50/p90/p99 in milliseconds (None when nothing completed)."""
    if len(latencies_s) == 0:
        return {k: None for k in ("mean", "min", "p50", "p90", "p99", "max")}
    ms = np.asarray(latencies_s, dtype=np.float64) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"mean": _r(ms.mean()), "min": _r(ms.min()), "p50": _r(p50), "p90": _r(p90), "p99": _r(p99),
            "max": _r(ms.max())}


def latency_histogram(latencies_s: Sequence[float]) -> Dict[str, Any]:
    """Log-spaced histogram in ms, enough to redraw the distribution from the JSON."""
    if len(latencies_s) == 0:
        return {"edges_ms": [], "counts": []}
    ms = np.asarray(latencies_s, dtype=np.float64) * 1000.0
    low, high = max(ms.min(), 1e-3), max(ms.max(), 1e-3)
    edges = np.geomspace(low, high * 1.0001, HISTOGRAM_BINS + 1) if high > low else np.array([low, low * 1.0001])
    counts, _ = np.histogram(np.clip(ms, edges[0], edges[-1]), bins=edges)
    return {"edges_ms": [_r(e) for e in edges], "counts": [int(c) for c in counts]}


def bucket_delta(before: Dict[str, int], after: Dict[str, int]) -> Dict[str, int]:
    """Per-bucket (not cumulative) counts between two cumulative `le` snapshots: {"1": n, "2": n, ...}.

    Bounds are taken in numeric order, "+Inf" last: the agent's metrics JSON sorts its keys as text
    ("+Inf", "1", "16", "2", ...), and differences taken in that order came out negative.
    """
    out: Dict[str, int] = {}
    previous = 0
    for bound in sorted(after, key=_bound_value):
        cumulative = after[bound] - before.get(bound, 0)
        if cumulative - previous:
            out[bound] = cumulative - previous
        previous = cumulative
    return out


def _bound_value(bound: str) -> float:
    return float("inf") if bound.lstrip("+").lower() == "inf" else float(bound)


def _r(value: float) -> float:
    return round(float(value), 3)
