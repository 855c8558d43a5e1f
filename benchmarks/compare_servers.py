#!/usr/bin/env python
"""Issue 7: the same model and frames through ONNX Runtime in-process (the ceiling), our agent over its
Unix socket (inline and shared memory) and LitServe (HTTP on 127.0.0.1, its dynamic batching, the same
ONNX Runtime session and pre/post-processing), at 1, 2, 4, 8 and 16 concurrent clients.

Every series uses the same closed-loop runner as `edge-runtime bench` (one client object per thread,
one request in flight per client), max batch 8 and a 2 ms batching wait everywhere. Prints ratios;
writes benchmarks/results/compare_servers.{json,md} and compare_*.png. About 5 minutes by default.
LitServe's `fast_queue=True` (ZeroMQ) was tried too and was not faster here, so its defaults are used.

Run: python benchmarks/compare_servers.py [--duration 8] [--size 224x224] [--package DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, AgentProcess, demo_package, machine_note  # noqa: E402
from _interleaved import measure_interleaved  # noqa: E402
from _litserve import LitServeProcess, LitServeTarget  # noqa: E402

from edge_runtime.bench.config import ImageSpec, RunSettings, TargetSpec, parse_concurrency, parse_size  # noqa: E402
from edge_runtime.bench.report import (  # noqa: E402
    plot_latency_distribution,
    plot_throughput_latency,
    write_json,
    write_text,
)
from edge_runtime.bench.targets import AgentTarget, InProcessTarget, make_frame  # noqa: E402

SERIES = ("onnxruntime in-process", "agent inline", "agent shm", "litserve")


def measure(package: str, frame: np.ndarray, concurrency: Tuple[int, ...], duration_s: float, warmup_s: float,
            rounds: int) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """All four servers up at once, measured interleaved (see _interleaved.py)."""
    with contextlib.ExitStack() as stack:
        agent = stack.enter_context(AgentProcess({"demo": package}))
        agent.start_models("demo")
        lit = stack.enter_context(LitServeProcess(package))
        targets: Dict[str, Any] = {SERIES[0]: InProcessTarget(TargetSpec(kind="in-process", location=package,
                                                                          model="demo"))}
        for name, transport in ((SERIES[1], "inline"), (SERIES[2], "shm")):
            targets[name] = AgentTarget(TargetSpec(kind="socket", location=agent.target, model="demo",
                                                   transport=transport, agent_pid=agent.pid))
        targets[SERIES[3]] = LitServeTarget(lit, "demo")
        for target in targets.values():
            target.open()
            stack.callback(target.close)
        levels, loads = measure_interleaved(targets, frame, concurrency, duration_s, warmup_s, rounds)
        described = {name: t.description for name, t in targets.items()}
    return {name: {"target": described[name], "levels": lv} for name, lv in levels.items()}, loads


def ratios(results: Dict[str, Any]) -> Dict[str, Any]:
    def by_c(name: str) -> Dict[int, Dict[str, Any]]:
        return {lv["concurrency"]: lv for lv in results[name]["levels"]}

    def peak(name: str) -> Dict[str, Any]:
        return max(results[name]["levels"], key=lambda lv: lv["throughput_rps"])

    ceiling, lit = peak(SERIES[0]), by_c(SERIES[3])
    out: Dict[str, Any] = {"saturation": {}, "vs_litserve": {}, "scaling": {}}
    for name in SERIES[1:3]:
        out["saturation"][name] = round(peak(name)["throughput_rps"] / ceiling["throughput_rps"], 3)
        rows = []
        for c, lv in sorted(by_c(name).items()):
            other = lit.get(c)
            if other and other["throughput_rps"]:
                ratio = round(lv["throughput_rps"] / other["throughput_rps"], 2)
                rows.append({"concurrency": c, "throughput_ratio": ratio,
                             "p99_ms": lv["latency_ms"]["p99"], "litserve_p99_ms": other["latency_ms"]["p99"],
                             "p99_equal_or_lower": (lv["latency_ms"]["p99"] or 0) <= (other["latency_ms"]["p99"] or 0)})
        out["vs_litserve"][name] = rows
        out["vs_litserve_at_peak"] = out.get("vs_litserve_at_peak", {})
        out["vs_litserve_at_peak"][name] = round(peak(name)["throughput_rps"] / peak(SERIES[3])["throughput_rps"], 2)
    for name in SERIES:
        levels = by_c(name)
        lo, hi = min(levels), max(levels)
        if levels[lo]["throughput_rps"]:
            out["scaling"][name] = {"from": lo, "to": hi,
                                    "factor": round(levels[hi]["throughput_rps"] / levels[lo]["throughput_rps"], 2)}
    return out


def plot_scaling(results: Dict[str, Any], path: str) -> Optional[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in SERIES:
        levels = results[name]["levels"]
        ax.plot([lv["concurrency"] for lv in levels], [lv["throughput_rps"] for lv in levels], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("throughput (requests/s)")
    ax.set_title("throughput scaling")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def markdown(data: Dict[str, Any]) -> str:
    r, m, res = data["ratios"], data["machine"], data["results"]
    lines = ["# Agent vs in-process ONNX Runtime vs LitServe (issue 7)", "",
             "Measured %s on %d CPUs (%s), ONNX Runtime %s, LitServe %s. Model: %s; frames %s, synthetic. "
             "The CPU is shared with other jobs (load average %s at the start, %s at the end): compare the "
             "ratios, and treat absolute numbers as this box on a busy day."
             % (data["created"], m["cpu_count"], m["platform"], m["onnxruntime"], data["litserve_version"],
                data["package"], data["frame"], m["loadavg_1_5_15"], data["loadavg_end"]), "",
             "## Ratios", "", "| ratio | value | goal |", "|---|---|---|"]
    for name, v in r["saturation"].items():
        lines.append("| %s / in-process, at saturation (peak throughput) | %.3f | >= 0.85 |" % (name, v))
    for name, v in r["vs_litserve_at_peak"].items():
        lines.append("| %s / LitServe, peak throughput | %.2fx | >= 1.5x |" % (name, v))
    for name, s in r["scaling"].items():
        lines.append("| %s: throughput at %d clients / at %d | %.2fx | |" % (name, s["to"], s["from"], s["factor"]))
    lines += ["", "## Agent vs LitServe per concurrency", "",
              "| series | clients | throughput ratio | agent p99 ms | LitServe p99 ms | p99 equal or lower |",
              "|---|---|---|---|---|---|"]
    for name, rows in r["vs_litserve"].items():
        for row in rows:
            lines.append("| %s | %d | %.2fx | %s | %s | %s |" % (name, row["concurrency"], row["throughput_ratio"],
                                                               row["p99_ms"], row["litserve_p99_ms"],
                                                               "yes" if row["p99_equal_or_lower"] else "no"))
    lines += ["", "## All numbers", "",
              "| series | clients | req/s | p50 ms | p90 ms | p99 ms | mean batch | errors | server CPU % | RSS MB |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name in SERIES:
        for lv in res[name]["levels"]:
            lat, proc = lv["latency_ms"], lv["process"]
            lines.append("| %s | %d | %.1f | %s | %s | %s | %s | %d | %s | %s |" % (
                name, lv["concurrency"], lv["throughput_rps"], lat["p50"], lat["p90"], lat["p99"],
                lv["server"]["mean_batch_size"] or "-", sum(lv["errors"].values()), proc["cpu_percent"],
                proc["rss_mb_max"]))
    lines += ["", "![throughput vs p99](compare_throughput_latency.png)", "",
              "![scaling](compare_scaling.png)", "", "![latency distribution](compare_latency_distribution.png)", "",
              "## Method", "",
              "- Same package, same frame, same closed-loop client loop (`edge_runtime.bench.runner.run_load`) "
              "for every series. All four servers are up at once and measured interleaved: for each of %d "
              "rounds and each concurrency, every series runs %.0f s, in an order rotated each time, so the "
              "drifting background load of the shared CPU hits all of them alike; each cell pools its rounds "
              "(%.0f s warm-up per series first)." % (data["settings"]["rounds"], data["settings"]["duration_s"],
                                                      data["settings"]["warmup_s"]),
              "- In-process: `load_package` + `create_predictor` behind the agent's own `Batcher` (max batch 8, "
              "2 ms wait), client threads in the same process; no serialisation, no socket: the ceiling.",
              "- Agent: `python -m edge_runtime agent` as a separate process, default batching (max batch 8, "
              "2 ms wait); one `EdgeAgentClient` per client thread; inline = RGB bytes in the request, "
              "shm = each client's own POSIX segment.",
              "- LitServe: `LitAPI(max_batch_size=8, batch_timeout=0.002)`, one CPU worker, one API server, "
              "127.0.0.1; the same predictor in `setup`; requests are LitServe's usual JSON with the raw RGB "
              "frame base64-encoded; one keep-alive `requests.Session` per client thread. Its CPU and RSS "
              "include its worker processes (RSS summed, shared pages counted more than once).",
              "- Load generator threads run on the same CPUs as the servers for every series."]
    return "\n".join(lines) + "\n"


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", default="", help="model package (default: the EfficientNet-Lite0 demo)")
    parser.add_argument("--size", default="224x224", help="frame WxH (default: %(default)s)")
    parser.add_argument("--concurrency", default="1,2,4,8,16")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per cell and round")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: %(default)s)")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    import litserve

    package = args.package or demo_package()
    frame, info = make_frame(ImageSpec(size=parse_size(args.size)))
    settings = RunSettings(parse_concurrency(args.concurrency), args.duration, args.warmup)  # validates
    data: Dict[str, Any] = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "machine": machine_note(), "litserve_version": litserve.__version__,
                            "package": os.path.basename(os.path.abspath(package)), "frame": args.size,
                            "image": info, "settings": {"duration_s": args.duration, "warmup_s": args.warmup,
                                                        "rounds": args.rounds,
                                                        "concurrency": list(settings.concurrency)}}
    data["results"], loads = measure(package, frame, settings.concurrency, args.duration, args.warmup, args.rounds)
    data["ratios"] = ratios(data["results"])
    data["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    out = args.output
    os.makedirs(out, exist_ok=True)
    plot_throughput_latency({k: v["levels"] for k, v in data["results"].items()},
                            os.path.join(out, "compare_throughput_latency.png"), "throughput vs p99 latency")
    plot_latency_distribution(loads, os.path.join(out, "compare_latency_distribution.png"),
                              "latency distribution")
    plot_scaling(data["results"], os.path.join(out, "compare_scaling.png"))
    write_json(os.path.join(out, "compare_servers.json"), data)
    write_text(os.path.join(out, "compare_servers.md"), markdown(data))
    print(json.dumps(data["ratios"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
