#!/usr/bin/env python
"""Issues 7 and 14: the same compiled build and frames through the agent over its Unix socket (inline and
shared memory), in-process (the agent's Batcher without gRPC: the ceiling), LitServe (HTTP, its dynamic
batching) and NVIDIA Triton (nvidia-pytriton 0.7.0's tritonserver, dynamic batching, tritonclient gRPC
in-band and with Triton system shared memory), at 1, 2, 4, 8 and 16 concurrent clients.

Each server runs twice: on ONNX Runtime (engine `onnxruntime`: what serving costs) and on its best engine
here (`best`: OpenVINO for the compiled build), every series in the same interleaved rounds. Max batch 8
and a 2 ms batching wait everywhere. Prints ratios; writes benchmarks/results/compare_servers.{json,md}
and compare_*.png. Triton needs the Python 3.12 venv of benchmarks/triton_setup.sh (made on first use).

Run: python benchmarks/compare_servers.py [--duration 2] [--rounds 2] [--engines onnxruntime,best]
     python benchmarks/compare_servers.py --package DIR --size 640x480     (any compiled package)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Dict, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, AgentProcess, compiled_package, demo_package, log, machine_note, tiny_package  # noqa: E402
from _compare_report import ENGINES, markdown, plot_scaling, ratios, series  # noqa: E402
from _interleaved import measure_interleaved  # noqa: E402
from _litserve import LitServeProcess, LitServeTarget  # noqa: E402
from _series_client import SeparateTarget  # noqa: E402
from _triton import TritonProcess, TritonTarget  # noqa: E402

from edge_runtime.bench.config import ImageSpec, RunSettings, TargetSpec, parse_concurrency, parse_size  # noqa: E402
from edge_runtime.bench.report import (  # noqa: E402
    plot_latency_distribution,
    plot_throughput_latency,
    write_json,
    write_text,
)
from edge_runtime.bench.targets import make_frame  # noqa: E402


def open_targets(stack: contextlib.ExitStack, package: str, frame: np.ndarray, engine: str,
                 clients: int) -> Dict[str, Any]:
    """Every server for one engine label, started and opened (closed by `stack`)."""
    cpu_engine = ENGINES[engine]
    agent = stack.enter_context(AgentProcess({"demo": package}, models={"cpu_engine": cpu_engine}))
    agent.start_models("demo")
    lit = stack.enter_context(LitServeProcess(package, cpu_engine=cpu_engine))
    triton = stack.enter_context(TritonProcess(package, cpu_engine=cpu_engine))
    # the in-process engine and the agent's clients run in processes of their own, as Triton's clients do
    targets: Dict[str, Any] = {series("in-process", engine): SeparateTarget(TargetSpec(
        kind="in-process", location=package, model="demo", cpu_engine=cpu_engine), frame, clients)}
    for name, transport in (("agent inline", "inline"), ("agent shm", "shm")):
        targets[series(name, engine)] = SeparateTarget(TargetSpec(
            kind="socket", location=agent.target, model="demo", transport=transport, agent_pid=agent.pid), frame,
            clients)
    targets[series("litserve", engine)] = LitServeTarget(lit, "demo")
    for name, transport in (("triton grpc", "grpc"), ("triton shm", "shm")):
        targets[series(name, engine)] = TritonTarget(triton, transport, frame, clients)
    for target in targets.values():
        target.open()
        stack.callback(target.close)
    return targets


def measure(package: str, frame: np.ndarray, concurrency: Tuple[int, ...], duration_s: float, warmup_s: float,
            rounds: int, engines: Tuple[str, ...]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """All servers for all engines up at once, measured interleaved (see _interleaved.py)."""
    with contextlib.ExitStack() as stack:
        targets: Dict[str, Any] = {}
        for engine in engines:
            targets.update(open_targets(stack, package, frame, engine, max(concurrency)))
        levels, loads, idle = measure_interleaved(targets, frame, concurrency, duration_s, warmup_s, rounds)
        described = {name: t.description for name, t in targets.items()}
    return {name: {"target": described[name], "levels": lv, "idle_cpu_percent": idle.get(name)}
            for name, lv in levels.items()}, loads


SCENARIOS = {
    "demo": ("a compute-bound model", "224x224",
             "EfficientNet-Lite0 backbone + linear head compiled for X86_64 (fp32; OpenVINO IR f32 inside): "
             "inference dominates, so every server is limited by the CPU left for its engine."),
    "tiny": ("per-request cost", "64x64",
             "Sigmoid of the image mean: inference is nearly free, so this measures what each server adds "
             "per request (transport, parsing, queueing, batching)."),
}


def run_scenario(key: str, package: str, size: str, concurrency: Tuple[int, ...], args: Any) -> Dict[str, Any]:
    frame, info = make_frame(ImageSpec(size=parse_size(size)))
    engines = tuple(e for e in args.engines.split(",") if e)
    results, loads = measure(package, frame, concurrency, args.duration, args.warmup, args.rounds, engines)
    title, _, about = SCENARIOS.get(key, ("a given package", size, ""))
    out = args.output
    plot_throughput_latency({k: v["levels"] for k, v in results.items()},
                            os.path.join(out, "compare_%s_throughput_latency.png" % key), "%s: throughput vs p99" % key)
    plot_latency_distribution(loads, os.path.join(out, "compare_%s_latency_distribution.png" % key),
                              "%s: latency distribution" % key)
    plot_scaling(results, os.path.join(out, "compare_%s_scaling.png" % key))
    return {"title": title, "about": about, "package": os.path.basename(os.path.abspath(package)), "frame": size,
            "image": info, "results": results, "ratios": ratios(results)}


def rewrite_report(folder: str) -> int:
    with open(os.path.join(folder, "compare_servers.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    for scenario in data["scenarios"].values():
        scenario["ratios"] = ratios(scenario["results"])
    write_json(os.path.join(folder, "compare_servers.json"), data)
    write_text(os.path.join(folder, "compare_servers.md"), markdown(data))
    return 0


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="demo", help="demo, tiny or both (default: %(default)s)")
    parser.add_argument("--engines", default="onnxruntime,best", help="onnxruntime, best or both")
    parser.add_argument("--package", default="", help="measure this package instead (scenario `custom`)")
    parser.add_argument("--size", default="224x224", help="frame WxH with --package (default: %(default)s)")
    parser.add_argument("--concurrency", default="1,2,4,8,16")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per cell and round")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default: %(default)s)")
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite compare_servers.md (and the ratios) from the compare_servers.json there")
    args = parser.parse_args(argv)
    if args.report_only:
        return rewrite_report(args.output)
    import litserve
    import openvino

    settings = RunSettings(parse_concurrency(args.concurrency), args.duration, args.warmup)  # validates
    os.makedirs(args.output, exist_ok=True)
    data: Dict[str, Any] = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "machine": machine_note(), "litserve_version": litserve.__version__,
                            "openvino_version": openvino.__version__.split("-")[0], "pytriton_version": "0.7.0",
                            "settings": {"duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds,
                                         "concurrency": list(settings.concurrency)}, "scenarios": {}}
    if args.package:
        plan = [("custom", args.package, args.size)]
    else:
        packages = {"demo": demo_package, "tiny": tiny_package}
        plan = [(k, compiled_package(packages[k]()), SCENARIOS[k][1]) for k in args.scenarios.split(",")
                if k in packages]
    for key, package, size in plan:
        log("==== scenario %s" % key)
        data["scenarios"][key] = run_scenario(key, package, size, settings.concurrency, args)
    data["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    write_json(os.path.join(args.output, "compare_servers.json"), data)
    write_text(os.path.join(args.output, "compare_servers.md"), markdown(data))
    print(json.dumps({k: v["ratios"] for k, v in data["scenarios"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
