#!/usr/bin/env python
"""Issue 14: what serving through the agent costs over calling the same build in-process.

The compiled X86_64 demo build (EfficientNet-Lite0, its best engine here: OpenVINO f32) in-process behind
the agent's Batcher (the ceiling: no gRPC, no socket, no client) and through the agent, a separate
process on its Unix socket, with frames in shared memory and inline; all series in the same interleaved
rounds (benchmarks/_interleaved.py). `--baseline DIR` adds the agent of another checkout (e.g. a
`git worktree` of the commit before a change) as one more series, so a change's effect is measured
side by side rather than across runs. Goals: agent over shm / in-process >= 0.95 in throughput at 8
clients, and p50 at 1 client <= 1.10x in-process.

Run: python benchmarks/agent_overhead.py [--rounds 4] [--duration 3] [--size 224x224] [--baseline DIR]
Writes benchmarks/results/agent_overhead.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import AgentProcess, compiled_package, demo_package, log  # noqa: E402
from _interleaved import add_run_arguments, measure_interleaved, run_header  # noqa: E402
from _series_client import SeparateTarget  # noqa: E402

from edge_runtime.bench.config import ImageSpec, TargetSpec, parse_concurrency, parse_size  # noqa: E402
from edge_runtime.bench.report import write_json, write_text  # noqa: E402
from edge_runtime.bench.targets import make_frame  # noqa: E402

BASE = "in-process"


def open_targets(stack: contextlib.ExitStack, package: str, frame: Any, clients: int, baseline: str) -> Dict[str, Any]:
    """Every series with its clients (in-process: also its engine) in a process of its own."""
    targets: Dict[str, Any] = {BASE: SeparateTarget(TargetSpec(kind="in-process", location=package, model="demo"),
                                                    frame, clients)}
    agents = [("agent", AgentProcess({"demo": package}))]
    if baseline:
        agents.append(("baseline agent", AgentProcess({"demo": package}, root=os.path.abspath(baseline))))
    for label, process in agents:
        agent = stack.enter_context(process)
        agent.start_models("demo")
        for transport in ("shm", "inline"):
            targets["%s %s" % (label, transport)] = SeparateTarget(TargetSpec(
                kind="socket", location=agent.target, model="demo", transport=transport, agent_pid=agent.pid),
                frame, clients)
    for name, target in targets.items():
        target.open()
        stack.callback(target.close)
        log("%s: %s" % (name, target.backend))
    return targets


def _ratio(a: Dict[str, Any], b: Dict[str, Any], key: str) -> Dict[str, Any]:
    """a / b pooled over the rounds, and its range over single rounds (round r against round r)."""
    pooled = a["throughput_rps"] / b["throughput_rps"] if key == "throughput_rps" else \
        a["latency_ms"]["p50"] / b["latency_ms"]["p50"]
    rounds = [x[key] / y[key] for x, y in zip(a["per_round"], b["per_round"]) if x[key] and y[key]]
    return {"ratio": round(pooled, 3), "per_round": [round(min(rounds), 3), round(max(rounds), 3)] if rounds else None,
            "rounds": [round(r, 3) for r in rounds]}


def frames_per_cpu_second(level: Dict[str, Any], with_client: bool) -> float:
    """Frames served per CPU-second spent on them: the server's CPU, plus its clients' where they are another
    process (in-process, both are this process). Unlike req/s it hardly depends on what else runs on the box."""
    process = level["process"]
    cores = ((process["cpu_percent"] or 0.0) + ((process["client_cpu_percent"] or 0.0) if with_client else 0.0)) / 100
    return level["throughput_rps"] / cores if cores else 0.0


def ratios(results: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for i, base in enumerate(results[BASE]["levels"]):
        c = base["concurrency"]
        for name, entry in results.items():
            if name != BASE:
                level = entry["levels"][i]
                row = out.setdefault(name, {})
                row["throughput_at_%d" % c] = _ratio(level, base, "throughput_rps")
                row["p50_at_%d" % c] = _ratio(level, base, "p50_ms")
                mine, ceiling = frames_per_cpu_second(level, True), frames_per_cpu_second(base, False)
                row["frames_per_cpu_s_at_%d" % c] = {"ratio": round(mine / ceiling, 3) if ceiling else None,
                                                     "per_round": None}
    return out


def markdown(data: Dict[str, Any]) -> str:
    m, st = data["machine"], data["settings"]
    lines = ["# Agent / in-process, the same build (issue 14)", "",
             "Measured %s on %d CPUs shared with other jobs (load average %s at the start, %s at the end): %d "
             "interleaved rounds of %.0f s per cell, frames %s, the compiled demo build on its best engine. "
             "Ratios are pooled over the rounds; in brackets the lowest and highest single-round ratio. "
             "frames_per_cpu_s: frames per CPU-second of the server plus (for the agent) its clients, the "
             "agent's cost in CPU whatever share of the box it got." % (
                 data["created"], m["cpu_count"], m["loadavg_1_5_15"], data["loadavg_end"], st["rounds"],
                 st["duration_s"], st["size"]), "",
             "| series / in-process | " + " | ".join(data["ratios"][next(iter(data["ratios"]))]) + " |",
             "|---|" + "---|" * len(data["ratios"][next(iter(data["ratios"]))])]
    for name, row in data["ratios"].items():
        cells = ["%.3f (%.2f-%.2f)" % ((r["ratio"],) + tuple(r["per_round"])) if r["per_round"] else
                 "%.3f" % (r["ratio"] or 0.0) for r in row.values()]
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    lines += ["", "| series | clients | req/s | p50 ms | p99 ms | mean batch | server CPU % | client CPU % |",
              "|---|---|---|---|---|---|---|---|"]
    for name, entry in data["results"].items():
        for lv in entry["levels"]:
            lines.append("| %s | %d | %.1f | %s | %s | %s | %s | %s |" % (
                name, lv["concurrency"], lv["throughput_rps"], lv["latency_ms"]["p50"], lv["latency_ms"]["p99"],
                lv["server"]["mean_batch_size"] or "-", lv["process"]["cpu_percent"],
                lv["process"]["client_cpu_percent"]))
    lines += ["", "Engines: " + "; ".join("%s: %s" % (n, e["target"]["backend"]) for n, e in data["results"].items())]
    return "\n".join(lines) + "\n"


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, rounds=4, size="224x224")
    parser.add_argument("--baseline", default="", help="another checkout whose agent runs as one more series")
    args = parser.parse_args(argv)
    package = compiled_package(demo_package())
    frame, info = make_frame(ImageSpec(size=parse_size(args.size)))
    concurrency = parse_concurrency(args.concurrency)
    data = run_header(args, info, concurrency, baseline=args.baseline or None)
    with contextlib.ExitStack() as stack:
        targets = open_targets(stack, package, frame, max(concurrency), args.baseline)
        levels, _, _ = measure_interleaved(targets, frame, concurrency, args.duration, args.warmup, args.rounds)
        data["results"] = {name: {"target": t.description, "levels": levels[name]} for name, t in targets.items()}
    data["ratios"] = ratios(data["results"])
    data["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    os.makedirs(args.output, exist_ok=True)
    write_json(os.path.join(args.output, "agent_overhead.json"), data)
    write_text(os.path.join(args.output, "agent_overhead.md"), markdown(data))
    brief: Dict[str, List[Any]] = {n: [r["ratio"] for r in row.values()] for n, row in data["ratios"].items()}
    print(json.dumps({"columns": list(next(iter(data["ratios"].values()))), "ratios": brief}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
