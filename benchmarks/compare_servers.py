#!/usr/bin/env python
"""Issue 7: the same model and frames through ONNX Runtime in-process (the ceiling), our agent over its
Unix socket (inline and shared memory) and LitServe (HTTP on 127.0.0.1, its dynamic batching, the same
ONNX Runtime session and pre/post-processing), at 1, 2, 4, 8 and 16 concurrent clients.

Every series uses the same closed-loop runner as `edge-runtime bench` (one client object per thread,
one request in flight per client), max batch 8 and a 2 ms batching wait everywhere. Prints ratios;
writes benchmarks/results/compare_servers.{json,md} and compare_*.png. About 5 minutes by default.

Run: python benchmarks/compare_servers.py [--duration 8] [--size 224x224] [--package DIR]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, ROOT, AgentProcess, demo_package, log, machine_note  # noqa: E402

from edge_runtime.bench.config import ImageSpec, RunSettings, TargetSpec, parse_concurrency, parse_size  # noqa: E402
from edge_runtime.bench.progress import Progress  # noqa: E402
from edge_runtime.bench.report import (  # noqa: E402
    plot_latency_distribution,
    plot_throughput_latency,
    write_json,
    write_text,
)
from edge_runtime.bench.runner import run_benchmark  # noqa: E402
from edge_runtime.bench.targets import AgentTarget, Counters, InProcessTarget, Worker, make_frame  # noqa: E402

SERIES = ("onnxruntime in-process", "agent inline", "agent shm", "litserve")


class LitServeProcess:
    """benchmarks/_litserve_app.py in its own process on a free loopback port."""

    def __init__(self, package: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.package = package
        self.process: Optional[subprocess.Popen] = None
        self.url = "http://127.0.0.1:%d" % self.port

    def __enter__(self) -> "LitServeProcess":
        import requests

        app = os.path.join(ROOT, "benchmarks", "_litserve_app.py")
        self.process = subprocess.Popen([sys.executable, app, "--package", self.package, "--port", str(self.port)],
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError("LitServe exited: %s" % self.process.stderr.read().decode()[-2000:])
            try:
                if requests.get(self.url + "/health", timeout=1).text.strip() == "ok":
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError("LitServe did not become healthy in 120 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class LitServeTarget:
    """The runner's target interface over LitServe's HTTP API (one keep-alive session per client)."""

    process_tree = True  # LitServe forks an inference worker and API server processes

    def __init__(self, server: LitServeProcess, model: str) -> None:
        self.server = server
        self.pid = server.process.pid if server.process else None
        self.description = {"kind": "litserve", "location": server.url, "model": model, "transport": "http-json",
                            "pid": self.pid}

    def open(self) -> None:
        pass

    def worker(self) -> Worker:
        import requests

        session = requests.Session()
        url = self.server.url + "/predict"

        def call(frame: np.ndarray) -> Any:
            body = {"image": base64.b64encode(frame.tobytes()).decode("ascii"),
                    "width": int(frame.shape[1]), "height": int(frame.shape[0])}
            reply = session.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=60)
            if reply.status_code != 200:
                raise HttpError(reply.status_code, reply.text[:200])
            return reply.json()

        return Worker(call, session.close)

    def counters(self) -> Counters:
        return Counters()  # LitServe exposes no batch metrics

    def close(self) -> None:
        pass


class HttpError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__("HTTP %d: %s" % (status, text))
        self.code = "HTTP_%d" % status


def run_series(name: str, target: Any, frame: np.ndarray, info: Dict[str, Any],
               settings: RunSettings) -> Tuple[Dict[str, Any], List[Any]]:
    log("== %s" % name)
    target.open()
    try:
        return run_benchmark(target, frame, info, settings, Progress(), label=name)
    finally:
        target.close()


def measure(package: str, frame: np.ndarray, info: Dict[str, Any], settings: RunSettings) -> Dict[str, Any]:
    results: Dict[str, Any] = {}
    loads: Dict[str, Any] = {}
    spec = TargetSpec(kind="in-process", location=package, model="demo")
    results[SERIES[0]], loads[SERIES[0]] = run_series(SERIES[0], InProcessTarget(spec), frame, info, settings)
    with AgentProcess({"demo": package}) as agent:
        agent.start_models("demo")
        for name, transport in ((SERIES[1], "inline"), (SERIES[2], "shm")):
            spec = TargetSpec(kind="socket", location=agent.target, model="demo", transport=transport,
                              agent_pid=agent.pid)
            results[name], loads[name] = run_series(name, AgentTarget(spec), frame, info, settings)
    with LitServeProcess(package) as lit:
        results[SERIES[3]], loads[SERIES[3]] = run_series(SERIES[3], LitServeTarget(lit, "demo"), frame, info,
                                                          settings)
    return {"results": results, "loads": loads}


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
              "- Same package, same frame, same closed-loop runner (`edge_runtime.bench.runner`) for every series; "
              "%.0f s per concurrency after a %.0f s warm-up at the highest one." % (
                  data["settings"]["duration_s"], data["settings"]["warmup_s"]),
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
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    import litserve

    package = args.package or demo_package()
    frame, info = make_frame(ImageSpec(size=parse_size(args.size)))
    settings = RunSettings(parse_concurrency(args.concurrency), args.duration, args.warmup)
    data: Dict[str, Any] = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "machine": machine_note(), "litserve_version": litserve.__version__,
                            "package": os.path.basename(os.path.abspath(package)), "frame": args.size,
                            "settings": {"duration_s": args.duration, "warmup_s": args.warmup,
                                         "concurrency": list(settings.concurrency)}}
    measured = measure(package, frame, info, settings)
    data["results"] = measured["results"]
    data["ratios"] = ratios(data["results"])
    data["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    out = args.output
    os.makedirs(out, exist_ok=True)
    plot_throughput_latency({k: v["levels"] for k, v in data["results"].items()},
                            os.path.join(out, "compare_throughput_latency.png"), "throughput vs p99 latency")
    plot_latency_distribution(measured["loads"], os.path.join(out, "compare_latency_distribution.png"),
                              "latency distribution")
    plot_scaling(data["results"], os.path.join(out, "compare_scaling.png"))
    write_json(os.path.join(out, "compare_servers.json"), data)
    write_text(os.path.join(out, "compare_servers.md"), markdown(data))
    print(json.dumps(data["ratios"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
