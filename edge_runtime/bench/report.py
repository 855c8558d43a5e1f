"""Benchmark output: a text table, the JSON file and two PNG plots, each written atomically.

Plots take several named series (one per server or transport) so the comparison script draws the
agent, in-process ONNX Runtime and LitServe on the same axes. matplotlib is optional (`bench` extra):
without it the plots are skipped with a note, the numbers are still written.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from edge_runtime.errors import InvalidArgument

COLUMNS = ("clients", "req/s", "p50 ms", "p90 ms", "p99 ms", "batch", "errors", "cpu %", "rss MB", "gpu %")


def table(result: Dict[str, Any]) -> str:
    rows = [list(COLUMNS)]
    for lv in result["levels"]:
        lat, proc, server = lv["latency_ms"], lv["process"], lv["server"]
        rss = proc.get("rss_mb_max") or server.get("resident_memory_mb")
        gpu = (proc.get("gpu") or {}).get("util_percent_mean")
        rows.append([str(lv["concurrency"]), "%.1f" % lv["throughput_rps"], _f(lat["p50"]), _f(lat["p90"]),
                     _f(lat["p99"]), _f(server["mean_batch_size"]), str(sum(lv["errors"].values())),
                     _f(proc.get("cpu_percent"), 0), _f(rss, 0), _f(gpu, 0)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _f(value: Optional[float], digits: int = 2) -> str:
    return "-" if value is None else "%.*f" % (digits, value)


def prepare_output_dir(path: str) -> str:
    """Create the folder (parents must exist or be creatable); refuse a file in the way."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise InvalidArgument("--output must be a folder, but %s is a file" % path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument("cannot create output folder %s: %s" % (path, exc.strerror or exc)) from exc
    return path


def write_json(path: str, data: Dict[str, Any]) -> str:
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def write_text(path: str, text: str) -> str:
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(fig: Any, path: str) -> str:
    tmp = "%s.tmp-%d.png" % (path[:-4], os.getpid())
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def plot_throughput_latency(series: Dict[str, List[Dict[str, Any]]], path: str, title: str) -> Optional[str]:
    """Throughput against p99 latency, one line per series, points labelled with the client count."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, levels in series.items():
        pts = [(lv["latency_ms"]["p99"], lv["throughput_rps"], lv["concurrency"])
               for lv in levels if lv["latency_ms"]["p99"] is not None]
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        for x, y, c in pts:
            ax.annotate(str(c), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("p99 latency (ms)")
    ax.set_ylabel("throughput (requests/s)")
    log_scale_if_wide(ax, [lv["throughput_rps"] for levels in series.values() for lv in levels])
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def log_scale_if_wide(ax: Any, values: List[float]) -> None:
    """A log y axis when series differ by more than 20x, so the slow ones stay readable."""
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 20:
        ax.set_yscale("log")


def plot_latency_distribution(series: Dict[str, Sequence[Any]], path: str, title: str) -> Optional[str]:
    """Latency CDF per concurrency, one panel per series (`series` maps a name to its runner Loads)."""
    plt = _pyplot()
    if plt is None:
        return None
    from matplotlib import ticker

    names = list(series)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names) + 1, 4), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        for load in series[name]:
            if not load.latencies:
                continue
            ms = np.sort(np.asarray(load.latencies) * 1000.0)
            ax.plot(ms, np.arange(1, len(ms) + 1) / len(ms), label="%d clients" % load.concurrency)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: "%g" % v))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("latency (ms, log)")
        ax.set_title(name, fontsize=9)
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("fraction of requests")
    fig.suptitle(title)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def write_outputs(result: Dict[str, Any], loads: Sequence[Any], output_dir: str, prefix: str = "bench") -> List[str]:
    """<prefix>.json, <prefix>-throughput-latency.png, <prefix>-latency-distribution.png."""
    prepare_output_dir(output_dir)
    label = "%s (%s)" % (result["target"]["model"], result["target"]["transport"])
    written = [write_json(os.path.join(output_dir, prefix + ".json"), result)]
    for made in (
        plot_throughput_latency({label: result["levels"]},
                                os.path.join(output_dir, prefix + "-throughput-latency.png"), "throughput vs p99"),
        plot_latency_distribution({label: loads}, os.path.join(output_dir, prefix + "-latency-distribution.png"),
                                  "latency distribution"),
    ):
        if made:
            written.append(made)
    return written
