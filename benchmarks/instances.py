#!/usr/bin/env python
"""models.instances: one ONNX Runtime session per model (the default) against N sessions running
batches side by side, in-process and through the agent, at 1-16 concurrent clients.

Same closed-loop runner and interleaved rounds as compare_servers.py (see _interleaved.py), on the
EfficientNet-Lite0 demo package at 224x224. Prints and records, per concurrency, throughput and p50/p99
with N instances as ratios to one instance. Writes benchmarks/results/instances.{json,md} and a plot.
About 3 minutes by default.

Run: python benchmarks/instances.py [--instances 2] [--concurrency 1,2,4,8,16] [--duration 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, AgentProcess, demo_package, machine_note  # noqa: E402
from _interleaved import measure_interleaved  # noqa: E402

from edge_runtime.bench.config import ImageSpec, TargetSpec, parse_concurrency  # noqa: E402
from edge_runtime.bench.report import plot_throughput_latency, write_json, write_text  # noqa: E402
from edge_runtime.bench.targets import AgentTarget, InProcessTarget, make_frame  # noqa: E402
from edge_runtime.runtime.factory import PredictorOptions, available_cpus, threads_per_instance  # noqa: E402


def series_names(n: int) -> List[str]:
    return ["in-process x1", "in-process x%d" % n, "agent x1", "agent x%d" % n]


def measure(package: str, n: int, concurrency: Any, args: Any) -> Dict[str, Any]:
    frame, _ = make_frame(ImageSpec(size=(224, 224)))
    names = series_names(n)
    with contextlib.ExitStack() as stack:
        targets: Dict[str, Any] = {}
        for count, inproc, agent_name in ((1, names[0], names[2]), (n, names[1], names[3])):
            targets[inproc] = InProcessTarget(TargetSpec(kind="in-process", location=package, model="demo",
                                                         instances=count))
            agent = stack.enter_context(AgentProcess({"demo": package}, models={"instances": count}))
            agent.start_models("demo")
            targets[agent_name] = AgentTarget(TargetSpec(kind="socket", location=agent.target, model="demo",
                                                         transport="inline", agent_pid=agent.pid))
        for target in targets.values():
            target.open()
            stack.callback(target.close)
        levels, _, _ = measure_interleaved(targets, frame, concurrency, args.duration, args.warmup, args.rounds)
    return {name: levels[name] for name in names}


def ratios(levels: Dict[str, Any], n: int) -> List[Dict[str, Any]]:
    rows = []
    for base, more in (("in-process x1", "in-process x%d" % n), ("agent x1", "agent x%d" % n)):
        for a, b in zip(levels[base], levels[more]):
            rows.append({"series": more.split(" x")[0], "concurrency": a["concurrency"],
                         "throughput_ratio": round(b["throughput_rps"] / a["throughput_rps"], 3),
                         "p50_ms": [a["latency_ms"]["p50"], b["latency_ms"]["p50"]],
                         "p99_ms": [a["latency_ms"]["p99"], b["latency_ms"]["p99"]],
                         "rps": [a["throughput_rps"], b["throughput_rps"]],
                         "mean_batch": [a["server"]["mean_batch_size"], b["server"]["mean_batch_size"]]})
    return rows


def markdown(data: Dict[str, Any]) -> str:
    n, m = data["instances"], data["machine"]
    lines = ["# One session per model, or %d side by side (`models.instances`)" % n, "",
             "Measured %s on %d CPUs (%s), ONNX Runtime %s; load average %s at the start, %s at the end. "
             "EfficientNet-Lite0 demo package, 224x224 frames, max batch 8, 2 ms wait; x1 = one session with "
             "ONNX Runtime's default threads, x%d = %d sessions with %d threads each. Agent over its Unix "
             "socket, inline frames." % (data["created"], m["cpu_count"], m["platform"], m["onnxruntime"],
                                         m["loadavg_1_5_15"], data["loadavg_end"], n, n, data["threads_each"]),
             "", "| series | clients | req/s x1 | req/s x%d | ratio | p50 ms x1 / x%d | p99 ms x1 / x%d | "
             "mean batch x1 / x%d |" % (n, n, n, n), "|---|---|---|---|---|---|---|---|"]
    for r in data["ratios"]:
        lines.append("| %s | %d | %.1f | %.1f | %.2fx | %s / %s | %s / %s | %s / %s |" % (
            r["series"], r["concurrency"], r["rps"][0], r["rps"][1], r["throughput_ratio"], r["p50_ms"][0],
            r["p50_ms"][1], r["p99_ms"][0], r["p99_ms"][1], r["mean_batch"][0], r["mean_batch"][1]))
    lines += ["", "![throughput vs p99](instances_throughput_latency.png)", "",
              "Method: all four series up at once, measured interleaved (%d rounds of %.0f s per cell, order "
              "rotated), as in compare_servers.md." % (data["settings"]["rounds"], data["settings"]["duration_s"])]
    return "\n".join(lines) + "\n"


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--concurrency", default="1,2,4,8,16")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    if not 2 <= args.instances <= 16:
        parser.error("--instances must be 2..16")
    concurrency = parse_concurrency(args.concurrency)
    os.makedirs(args.output, exist_ok=True)
    data: Dict[str, Any] = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "machine": machine_note(), "instances": args.instances, "cpus": available_cpus(),
                            "threads_each": threads_per_instance(PredictorOptions(instances=args.instances)),
                            "settings": {"duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds,
                                         "concurrency": list(concurrency)}}
    levels = measure(demo_package(), args.instances, concurrency, args)
    data["levels"] = levels
    data["ratios"] = ratios(levels, args.instances)
    data["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    plot_throughput_latency(levels, os.path.join(args.output, "instances_throughput_latency.png"),
                            "one session vs %d: throughput vs p99" % args.instances)
    write_json(os.path.join(args.output, "instances.json"), data)
    write_text(os.path.join(args.output, "instances.md"), markdown(data))
    print(json.dumps([{k: r[k] for k in ("series", "concurrency", "throughput_ratio", "p50_ms")}
                      for r in data["ratios"]], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
