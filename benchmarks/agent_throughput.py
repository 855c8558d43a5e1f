#!/usr/bin/env python
"""Issue 3's must-show numbers for the agent, on this machine.

1. Throughput of the agent (a separate process, Unix socket, inline frames) with 8 concurrent
   clients, as a ratio of the same ONNX Runtime session called in-process (load_package +
   create_predictor, predict() in a loop) with the batch size the agent formed. Rounds alternate
   agent / in-process so drift in a shared CPU hits both. Goal >= 0.85.
2. Per-call overhead: tiny model, one client, batch 1; agent p50 latency minus in-process p50.
3. Inline vs shared memory for a 5-megapixel frame (2592x1944 RGB, 15 MB), tiny model, one client.
   Transfer part = client-observed latency minus the agent's predictor time for the same requests
   (its metrics: preprocess + inference + postprocess, identical for both transports), so it holds
   the client's copy or serialisation, the socket, parsing and reading the frame. Goal >= 5x.
4. Resident memory of the agent process with the demo model running (peak while serving). Goal < 500 MB.

Run: python benchmarks/agent_throughput.py [--duration 12] [--rounds 2]  (about 2-3 minutes)
Writes benchmarks/results/agent_throughput.json and .md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, AgentProcess, demo_package, log, machine_note, tiny_package  # noqa: E402

from edge_runtime.bench.config import ImageSpec, RunSettings, TargetSpec  # noqa: E402
from edge_runtime.bench.report import write_json, write_text  # noqa: E402
from edge_runtime.bench.runner import run_benchmark  # noqa: E402
from edge_runtime.bench.status_line import StatusLine  # noqa: E402
from edge_runtime.bench.targets import AgentTarget, make_frame  # noqa: E402
from edge_runtime.client import EdgeAgentClient  # noqa: E402

FIVE_MP = (2592, 1944)


def load_predictor(package: str, max_batch_size: int = 8) -> Any:
    from edge_runtime.runtime.factory import PredictorOptions, create_predictor
    from edge_runtime.runtime.loader import load_package

    predictor = create_predictor(load_package(package), PredictorOptions(max_batch_size=max_batch_size))
    predictor.load()
    predictor.warmup()
    return predictor


def agent_level(agent: AgentProcess, model: str, frame: np.ndarray, clients: int, duration: float,
                transport: str = "inline", warmup: float = 2.0) -> Dict[str, Any]:
    spec = TargetSpec(kind="socket", location=agent.target, model=model, transport=transport, agent_pid=agent.pid)
    target = AgentTarget(spec)
    target.open()
    try:
        info = {"width": int(frame.shape[1]), "height": int(frame.shape[0])}
        result, _ = run_benchmark(target, frame, info, RunSettings((clients,), duration, warmup), StatusLine(), model)
    finally:
        target.close()
    return result["levels"][0]


def in_process_batches(predictor: Any, frame: np.ndarray, batch: int, duration: float) -> Dict[str, Any]:
    """The ceiling: predict() on `batch` frames back to back, nothing else."""
    frames = [frame] * batch
    predictor.predict(frames)
    calls, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < duration:
        predictor.predict(frames)
        calls += 1
    elapsed, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return {"batch": batch, "calls": calls, "throughput_fps": round(calls * batch / elapsed, 2),
            "cpu_percent": round(100 * cpu_s / elapsed, 1), "frames_per_cpu_s": round(calls * batch / cpu_s, 2)}


def in_process_latency(predictor: Any, frame: np.ndarray, duration: float) -> Dict[str, float]:
    latencies: List[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < duration:
        t0 = time.perf_counter()
        predictor.predict([frame])
        latencies.append(time.perf_counter() - t0)
    ms = np.asarray(latencies) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "mean_ms": round(float(ms.mean()), 3),
            "calls": len(ms)}


def throughput_ratio(demo: str, duration: float, rounds: int) -> Dict[str, Any]:
    frame, _ = make_frame(ImageSpec(size=(224, 224)))
    predictor = load_predictor(demo)
    out: Dict[str, Any] = {"rounds": []}
    with AgentProcess({"demo": demo}) as agent:
        agent.start_models("demo")
        batch = 0
        for i in range(rounds):
            if i % 2 and batch:  # odd rounds measure in-process first, so a trend in the load cancels
                ceiling = in_process_batches(predictor, frame, batch, duration)
                level = agent_level(agent, "demo", frame, 8, duration)
            else:
                level = agent_level(agent, "demo", frame, 8, duration)
                batch = max(1, int(round(level["server"]["mean_batch_size"] or 1)))
                ceiling = in_process_batches(predictor, frame, batch, duration)
            ratio = level["throughput_rps"] / ceiling["throughput_fps"]
            brief = _brief(level)
            cpu_ratio = brief["frames_per_cpu_s"] / ceiling["frames_per_cpu_s"]
            log("round %d: agent %.1f fps (mean batch %.2f) / in-process %.1f fps (batch %d) = %.3f; per CPU-s %.3f"
                % (i + 1, level["throughput_rps"], level["server"]["mean_batch_size"] or 0,
                   ceiling["throughput_fps"], batch, ratio, cpu_ratio))
            out["rounds"].append({"agent": brief, "in_process": ceiling, "ratio": round(ratio, 3),
                                  "in_process_first": bool(i % 2), "ratio_per_cpu_second": round(cpu_ratio, 3)})
        with EdgeAgentClient(agent.target) as client:
            idle_rss = client.metrics()["resident_memory_bytes"] / 1e6
    out["in_process_batch_8"] = in_process_batches(predictor, frame, 8, duration)
    predictor.close()
    ratios = [r["ratio"] for r in out["rounds"]]
    out["ratio"] = round(float(np.median(ratios)), 3)
    out["ratio_per_cpu_second"] = round(float(np.median([r["ratio_per_cpu_second"] for r in out["rounds"]])), 3)
    agent_fps = float(np.mean([r["agent"]["throughput_fps"] for r in out["rounds"]]))
    out["ratio_vs_batch_8"] = round(agent_fps / out["in_process_batch_8"]["throughput_fps"], 3)
    out["agent_rss_mb_peak"] = max(r["agent"]["rss_mb_max"] or 0 for r in out["rounds"])
    out["agent_rss_mb_idle_after"] = round(idle_rss, 1)
    return out


def overhead(tiny: str, duration: float) -> Dict[str, Any]:
    frame, _ = make_frame(ImageSpec(size=(64, 64)))
    predictor = load_predictor(tiny, max_batch_size=1)
    local = in_process_latency(predictor, frame, duration)
    predictor.close()
    out: Dict[str, Any] = {"in_process": local}
    for label, wait_ms in (("agent_max_wait_0ms", 0.0), ("agent_default_max_wait_2ms", 2.0)):
        with AgentProcess({"tiny": tiny}, batching={"max_wait_ms": wait_ms}) as agent:
            agent.start_models("tiny")
            level = agent_level(agent, "tiny", frame, 1, duration, warmup=1.0)
        out[label] = {"p50_ms": level["latency_ms"]["p50"], "mean_ms": level["latency_ms"]["mean"],
                      "overhead_p50_ms": round(level["latency_ms"]["p50"] - local["p50_ms"], 3)}
    return out


def transfer(tiny: str, duration: float) -> Dict[str, Any]:
    frame, _ = make_frame(ImageSpec(size=FIVE_MP))
    out: Dict[str, Any] = {"frame": "%dx%d RGB, %.1f MB" % (FIVE_MP[0], FIVE_MP[1], frame.nbytes / 1e6)}
    with AgentProcess({"tiny": tiny}, batching={"max_wait_ms": 0}) as agent:
        agent.start_models("tiny")
        with EdgeAgentClient(agent.target) as admin:
            for transport in ("inline", "shm"):
                before = admin.metrics()["models"].get("tiny", {})
                level = agent_level(agent, "tiny", frame, 1, duration, transport=transport, warmup=1.0)
                after = admin.metrics()["models"]["tiny"]
                predictor_ms = _mean_delta(before, after, "inference_time_seconds") * 1000
                e2e = level["latency_ms"]["mean"]
                out[transport] = {"e2e_mean_ms": e2e, "e2e_p50_ms": level["latency_ms"]["p50"],
                                  "predictor_mean_ms": round(predictor_ms, 3),
                                  "transfer_ms": round(e2e - predictor_ms, 3), "requests": level["ok"]}
    out["transfer_speedup"] = round(out["inline"]["transfer_ms"] / out["shm"]["transfer_ms"], 2)
    out["e2e_speedup"] = round(out["inline"]["e2e_mean_ms"] / out["shm"]["e2e_mean_ms"], 2)
    return out


def _mean_delta(before: Dict[str, Any], after: Dict[str, Any], key: str) -> float:
    b, a = before.get(key, {"sum": 0.0, "count": 0}), after[key]
    count = a["count"] - b["count"]
    return (a["sum"] - b["sum"]) / count if count else 0.0


def _brief(level: Dict[str, Any]) -> Dict[str, Any]:
    """The agent's numbers; its CPU counts the agent process plus the clients' process (their gRPC work)."""
    proc = level["process"]
    cpu = (proc["cpu_percent"] or 0.0) + (proc["client_cpu_percent"] or 0.0)
    return {"throughput_fps": level["throughput_rps"], "p99_ms": level["latency_ms"]["p99"],
            "mean_batch_size": level["server"]["mean_batch_size"], "requests": level["requests"],
            "errors": level["errors"], "cpu_percent": proc["cpu_percent"],
            "client_cpu_percent": proc["client_cpu_percent"], "rss_mb_max": proc["rss_mb_max"],
            "frames_per_cpu_s": round(100.0 * level["throughput_rps"] / cpu, 2) if cpu else 0.0}


def summary_rows(data: Dict[str, Any]) -> List[List[str]]:
    t, o, x = data["throughput"], data["overhead"], data["transfer"]
    return [
        ["throughput, 8 clients: agent / in-process (same batches)", "%.3f" % t["ratio"], ">= 0.85",
         _ok(t["ratio"] >= 0.85)],
        ["  rounds ranged (median above)", "%.2f-%.2f" % (min(r["ratio"] for r in t["rounds"]),
                                                        max(r["ratio"] for r in t["rounds"])), "-", "-"],
        ["  same, per CPU-second used (agent + clients vs in-process)", "%.3f" % t["ratio_per_cpu_second"],
         "-", "-"],
        ["  same, against in-process at full batches of 8", "%.3f" % t["ratio_vs_batch_8"], "-", "-"],
        ["per-call overhead, tiny model, batch 1 (p50, max_wait 0 ms)",
         "%.2f ms" % o["agent_max_wait_0ms"]["overhead_p50_ms"], "-", "-"],
        ["per-call overhead with the default 2 ms batching wait (p50)",
         "%.2f ms" % o["agent_default_max_wait_2ms"]["overhead_p50_ms"], "-", "-"],
        ["5 MP frame, transfer part: inline / shm", "%.1fx" % x["transfer_speedup"], ">= 5x",
         _ok(x["transfer_speedup"] >= 5)],
        ["5 MP frame, whole request: inline / shm", "%.1fx" % x["e2e_speedup"], "-", "-"],
        ["agent resident memory, demo model running (peak)", "%.0f MB" % t["agent_rss_mb_peak"], "< 500 MB",
         _ok(t["agent_rss_mb_peak"] < 500)],
    ]


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


def markdown(data: Dict[str, Any]) -> str:
    t, o, x, m = data["throughput"], data["overhead"], data["transfer"], data["machine"]
    rows = summary_rows(data)
    lines = ["# Agent throughput, overhead, shared memory, memory (issue 3)", "",
             "Measured %s on %d CPUs (%s, ONNX Runtime %s). The CPU is shared with other jobs: load average "
             "%s at the start, %s at the end, so absolute numbers are noisy (the same in-process loop varied "
             "between 24 and 65 frames/s within minutes while preparing this); ratios come from alternating "
             "rounds." % (data["created"], m["cpu_count"], m["platform"], m["onnxruntime"], m["loadavg_1_5_15"],
                          data["loadavg_end"]), ""]
    if t["ratio"] > 1.0:
        lines += ["A ratio above 1 does not mean the agent beats its own predictor: it is that noise, and likely "
                  "the scheduler too (the agent setup runs more threads, in two processes, and so gets a larger "
                  "share of a contended CPU than one in-process loop). Read it as: no measurable loss.", ""]
    lines += ["| measure | value | goal | met |", "|---|---|---|---|"]
    lines += ["| %s |" % " | ".join(r) for r in rows]
    lines += ["", "## Method", "",
              "- Demo model: %s (EfficientNet-Lite0 ImageNet backbone + pooled linear head, ONNX 224x224; no "
              "trained demo package existed). Frames 224x224 RGB, inline." % t.get("package", "demo"),
              "- Throughput: the agent runs as its own process (`python -m edge_runtime agent`, default batching: "
              "max batch 8, max wait 2 ms); 8 client threads, each its own `EdgeAgentClient`, closed loop. "
              "In-process: the same package loaded with `load_package` + `create_predictor`, `predict()` on the "
              "batch size the agent formed (its mean, rounded), back to back. Rounds alternate which goes first; "
              "the ratio is the median over rounds.",
              "- Overhead: tiny model (sigmoid of the image mean, 64x64), one client, p50 latency minus the p50 "
              "of `predict([frame])` in-process.",
              "- Transfer: tiny model, 2592x1944 frame, one client, agent with max wait 0. Transfer part = mean "
              "client latency minus the agent's mean predictor time for those requests (its metrics), i.e. the "
              "client's copy into shared memory or protobuf serialisation, the socket, parsing and frame access.",
              "- With 8 closed-loop clients the agent's batcher settles into two alternating batches of about 4: "
              "a batch takes what is queued when the previous one finishes, and the other half of the clients "
              "are still waiting for their answers then. The in-process ceiling at full batches of 8 is listed "
              "for that reason.",
              "- Memory: peak RSS of the agent process (psutil, sampled every 0.5 s) while serving 8 clients.",
              "- Per CPU-second: frames divided by the CPU time used (agent process + the clients' process for the "
              "agent; the benchmark process for in-process), a ratio that a busy shared CPU disturbs less than "
              "wall-clock throughput.",
              "", "## Rounds", "",
              "| round | agent fps | mean batch | agent p99 ms | agent + client CPU % | in-process fps | "
              "in-process CPU % | ratio | per CPU-s |", "|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(t["rounds"], 1):
        a = r["agent"]
        lines.append("| %d | %.1f | %s | %s | %s + %s | %.1f (batch %d) | %s | %.3f | %.3f |" % (
            i, a["throughput_fps"], a["mean_batch_size"], a["p99_ms"], a["cpu_percent"], a["client_cpu_percent"],
            r["in_process"]["throughput_fps"], r["in_process"]["batch"], r["in_process"]["cpu_percent"],
            r["ratio"], r["ratio_per_cpu_second"]))
    b8 = t["in_process_batch_8"]
    lines.append("| in-process at batch 8 | | | | | %.1f | %s | %.3f (mean agent fps / this) | |"
                 % (b8["throughput_fps"], b8["cpu_percent"], t["ratio_vs_batch_8"]))
    lines += ["", "## Overhead and transfer", "",
              "| | p50 ms | mean ms |", "|---|---|---|",
              "| in-process predict, batch 1 | %s | %s |" % (o["in_process"]["p50_ms"], o["in_process"]["mean_ms"]),
              "| agent, max wait 0 ms | %s | %s |" % (o["agent_max_wait_0ms"]["p50_ms"],
                                                    o["agent_max_wait_0ms"]["mean_ms"]),
              "| agent, max wait 2 ms (default) | %s | %s |" % (o["agent_default_max_wait_2ms"]["p50_ms"],
                                                               o["agent_default_max_wait_2ms"]["mean_ms"]),
              "", "| 5 MP frame | request mean ms | predictor ms | transfer ms |", "|---|---|---|---|"]
    for k in ("inline", "shm"):
        lines.append("| %s | %s | %s | %s |" % (k, x[k]["e2e_mean_ms"], x[k]["predictor_mean_ms"], x[k]["transfer_ms"]))
    return "\n".join(lines) + "\n"


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=4, help="alternating agent / in-process rounds (median)")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    from datetime import datetime, timezone

    data: Dict[str, Any] = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "machine": machine_note()}
    demo, tiny = demo_package(), tiny_package()
    log("== throughput, 8 clients")
    data["throughput"] = throughput_ratio(demo, args.duration, args.rounds)
    data["throughput"]["package"] = os.path.basename(demo)
    log("== per-call overhead")
    data["overhead"] = overhead(tiny, min(args.duration, 6.0))
    log("== 5 MP inline vs shared memory")
    data["transfer"] = transfer(tiny, min(args.duration, 6.0))
    data["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    os.makedirs(args.output, exist_ok=True)
    write_json(os.path.join(args.output, "agent_throughput.json"), data)
    write_text(os.path.join(args.output, "agent_throughput.md"), markdown(data))
    width = max(len(r[0]) for r in summary_rows(data))
    print("%s  %-10s %-9s %s" % ("measure".ljust(width), "value", "goal", "met"))
    for row in summary_rows(data):
        print("%s  %-10s %-9s %s" % (row[0].ljust(width), row[1], row[2], row[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
