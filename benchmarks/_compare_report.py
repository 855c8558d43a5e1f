"""Ratios, the scaling plot and the Markdown report of compare_servers.py.

Series are named "<server> [<engine>]", engine `onnxruntime` (every server runs the build on ONNX Runtime:
serving cost alone) or `best` (every server's best engine here: OpenVINO for the compiled build).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from edge_runtime.bench.report import log_scale_if_wide

SERVERS = ("in-process", "agent inline", "agent shm", "litserve", "triton grpc", "triton shm")
ENGINES = {"onnxruntime": "onnxruntime", "best": "auto"}  # series label -> models.cpu_engine
# (ours, theirs): like transport for like where both have it
VERSUS = (("agent inline", "litserve"), ("agent shm", "litserve"), ("agent inline", "triton grpc"),
          ("agent shm", "triton shm"))


def series(server: str, engine: str) -> str:
    return "%s [%s]" % (server, engine)


def _by_c(results: Dict[str, Any], name: str) -> Dict[int, Dict[str, Any]]:
    return {lv["concurrency"]: lv for lv in results[name]["levels"]}


def _peak(results: Dict[str, Any], name: str) -> Dict[str, Any]:
    return max(results[name]["levels"], key=lambda lv: lv["throughput_rps"])


def _versus(results: Dict[str, Any], ours: str, theirs: str) -> List[Dict[str, Any]]:
    mine, other = _by_c(results, ours), _by_c(results, theirs)
    rows = []
    for c, lv in sorted(mine.items()):
        o = other.get(c)
        if o and o["throughput_rps"]:
            rounds = [x["throughput_rps"] / y["throughput_rps"] for x, y in zip(lv.get("per_round", []),
                                                                                 o.get("per_round", []))
                      if y["throughput_rps"]]
            rows.append({"concurrency": c, "throughput_ratio": round(lv["throughput_rps"] / o["throughput_rps"], 2),
                         "per_round": [round(min(rounds), 2), round(max(rounds), 2)] if rounds else None,
                         "p99_ms": lv["latency_ms"]["p99"], "their_p99_ms": o["latency_ms"]["p99"],
                         "p99_equal_or_lower": (lv["latency_ms"]["p99"] or 0) <= (o["latency_ms"]["p99"] or 0)})
    return rows


def ratios(results: Dict[str, Any]) -> Dict[str, Any]:
    """Per engine: agent vs in-process (saturation, 8 clients, p50 at 1), agent vs LitServe and Triton."""
    out: Dict[str, Any] = {}
    for engine in ENGINES:
        if series("in-process", engine) not in results:
            continue
        ip = series("in-process", engine)
        r: Dict[str, Any] = {"vs_in_process": {}, "versus": {}, "at_peak": {}}
        for name in ("agent inline", "agent shm"):
            s, a, b = series(name, engine), _by_c(results, series(name, engine)), _by_c(results, ip)
            row: Dict[str, Any] = {"saturation": round(_peak(results, s)["throughput_rps"]
                                                       / _peak(results, ip)["throughput_rps"], 3)}
            if 8 in a and 8 in b:
                row["throughput_at_8"] = round(a[8]["throughput_rps"] / b[8]["throughput_rps"], 3)
            if 1 in a and 1 in b and b[1]["latency_ms"]["p50"]:
                row["p50_at_1"] = round(a[1]["latency_ms"]["p50"] / b[1]["latency_ms"]["p50"], 3)
            r["vs_in_process"][name] = row
        for ours, theirs in VERSUS:
            s, t = series(ours, engine), series(theirs, engine)
            if s in results and t in results:
                key = "%s / %s" % (ours, theirs)
                r["versus"][key] = _versus(results, s, t)
                r["at_peak"][key] = round(_peak(results, s)["throughput_rps"] / _peak(results, t)["throughput_rps"], 2)
        out[engine] = r
    if all(series("in-process", e) in results for e in ENGINES):
        out["best_engine_vs_onnxruntime_in_process_peak"] = round(
            _peak(results, series("in-process", "best"))["throughput_rps"]
            / _peak(results, series("in-process", "onnxruntime"))["throughput_rps"], 3)
    return out


def plot_scaling(results: Dict[str, Any], path: str) -> Optional[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, res in results.items():
        levels = res["levels"]
        ax.plot([lv["concurrency"] for lv in levels], [lv["throughput_rps"] for lv in levels], marker="o", label=name,
                linestyle="-" if name.endswith("[best]") else "--")
    ax.set_xscale("log", base=2)
    log_scale_if_wide(ax, [lv["throughput_rps"] for res in results.values() for lv in res["levels"]])
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("throughput (requests/s)")
    ax.set_title("throughput scaling (solid: best engine, dashed: ONNX Runtime everywhere)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _ratio_lines(r: Dict[str, Any]) -> List[str]:
    lines = ["| engine | ratio | value | goal |", "|---|---|---|---|"]
    for engine in ENGINES:
        if engine not in r:
            continue
        for name, row in r[engine]["vs_in_process"].items():
            lines.append("| %s | %s / in-process, peak | %.3f | |" % (engine, name, row["saturation"]))
            if "throughput_at_8" in row:
                lines.append("| %s | %s / in-process, 8 clients | %.3f | >= 0.95 (shm) |"
                             % (engine, name, row["throughput_at_8"]))
            if "p50_at_1" in row:
                lines.append("| %s | %s p50 / in-process p50, 1 client | %.3f | <= 1.10 (shm) |"
                             % (engine, name, row["p50_at_1"]))
        for key, value in r[engine]["at_peak"].items():
            lines.append("| %s | %s, peak throughput | %.2fx | ahead; >= 1.5x LitServe (best) |" % (engine, key, value))
    if "best_engine_vs_onnxruntime_in_process_peak" in r:
        lines.append("| - | in-process best engine / in-process ONNX Runtime, peak | %.3f | |"
                     % r["best_engine_vs_onnxruntime_in_process_peak"])
    return lines


def scenario_markdown(key: str, sc: Dict[str, Any]) -> List[str]:
    r, res = sc["ratios"], sc["results"]
    lines = ["## Scenario `%s`: %s" % (key, sc["title"]), "",
             "Package `%s`, frames %s (synthetic). %s" % (sc["package"], sc["frame"], sc["about"])
             + (" Measured %s (load average %s at the start)." % (sc["measured"], sc.get("loadavg_start"))
                if sc.get("measured") else ""), ""]
    lines += _ratio_lines(r)
    idle = ["%s %s%%" % (name, res[name].get("idle_cpu_percent")) for name in res
            if res[name].get("idle_cpu_percent") is not None]
    if idle:
        lines += ["", "CPU with no requests in flight (one 3 s window, 100% = one core): " + ", ".join(idle) + "."]
    lines += ["", "Throughput ratios pooled over the rounds; in brackets the lowest and highest single-round one.", "",
              "| engine | ours / theirs | clients | throughput ratio | our p99 ms | their p99 ms | p99 <= |",
              "|---|---|---|---|---|---|---|"]
    for engine in ENGINES:
        for pair, rows in r.get(engine, {}).get("versus", {}).items():
            for row in rows:
                spread = " (%.2f-%.2f)" % tuple(row["per_round"]) if row.get("per_round") else ""
                lines.append("| %s | %s | %d | %.2fx%s | %s | %s | %s |" % (
                    engine, pair, row["concurrency"], row["throughput_ratio"], spread, row["p99_ms"],
                    row["their_p99_ms"], "yes" if row["p99_equal_or_lower"] else "no"))
    lines += ["", "| series | engine in use | clients | req/s | p50 ms | p99 ms | mean batch | errors | server CPU % |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, entry in res.items():
        backend = str(entry["target"].get("backend", "")).split(" (")[0] or "-"
        for lv in entry["levels"]:
            lat = lv["latency_ms"]
            lines.append("| %s | %s | %d | %.1f | %s | %s | %s | %d | %s |" % (
                name, backend, lv["concurrency"], lv["throughput_rps"], lat["p50"], lat["p99"],
                lv["server"]["mean_batch_size"] or "-", sum(lv["errors"].values()), lv["process"]["cpu_percent"]))
    lines += ["", "![scaling](compare_%s_scaling.png)" % key, "",
              "![throughput vs p99](compare_%s_throughput_latency.png)" % key, ""]
    return lines


def markdown(data: Dict[str, Any]) -> str:
    m, st = data["machine"], data["settings"]
    lines = ["# Agent vs in-process vs LitServe vs NVIDIA Triton (issues 7, 14)", "",
             "Measured %s on %d CPUs (%s), ONNX Runtime %s, OpenVINO %s, LitServe %s, nvidia-pytriton %s. "
             "Servers and their clients share these CPUs with other jobs (load average %s at the start, %s at "
             "the end): compare the ratios; absolute numbers are this box's at that moment."
             % (data["created"], m["cpu_count"], m["platform"], m["onnxruntime"], data.get("openvino_version"),
                data["litserve_version"], data.get("pytriton_version"), m["loadavg_1_5_15"], data["loadavg_end"]), ""]
    for key, sc in data["scenarios"].items():
        lines += scenario_markdown(key, sc)
    lines += ["## Method", "",
              "- Every server serves the same compiled X86_64 build through `load_package` + `create_predictor`: "
              "engine `onnxruntime` sets models.cpu_engine=onnxruntime everywhere (serving cost alone), `best` "
              "lets each pick (OpenVINO f32 for this build). All series are up at once and measured interleaved: "
              "for each of %d rounds and each concurrency every series runs %.0f s, in an order rotated each "
              "time; cells pool their rounds (%.0f s warm-up per series first). LitServe is paused (SIGSTOP) "
              "while others run (it burns CPU idle)." % (st["rounds"], st["duration_s"], st["warmup_s"]),
              "- Clients: one per thread, closed loop, the same runner (`edge_runtime.bench.runner.run_load`). "
              "The in-process engine and the agent's clients run in processes of their own "
              "(benchmarks/_series_client.py), so none shares a GIL with another series; LitServe's clients "
              "run in the runner. Agent: `EdgeAgentClient` (inline bytes or its own shm segment). LitServe: JSON "
              "over HTTP with "
              "the frame base64-encoded. Triton: `tritonclient.grpc`, in-band or with Triton system shared "
              "memory (one registered region per client); its clients run in a separate Python 3.12 process "
              "(benchmarks/_triton_client.py) because tritonclient needs protobuf 6.",
              "- Batching everywhere: max batch 8, 2 ms (agent: only when callers are expected back; LitServe: "
              "batch_timeout; Triton: dynamic batcher max_queue_delay 2000 us). Triton is nvidia-pytriton 0.7.0 "
              "(the real tritonserver, the Python callable behind its Python backend)."]
    return "\n".join(lines) + "\n"
