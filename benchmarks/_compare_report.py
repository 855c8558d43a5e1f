"""Ratios, the scaling plot and the Markdown report of compare_servers.py."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from edge_runtime.bench.report import log_scale_if_wide

SERIES = ("onnxruntime in-process", "agent inline", "agent shm", "litserve")


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
    # no server running this same session can beat in-process; this is how far above LitServe that is
    out["ceiling_vs_litserve"] = round(ceiling["throughput_rps"] / peak(SERIES[3])["throughput_rps"], 2)
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
    log_scale_if_wide(ax, [lv["throughput_rps"] for name in SERIES for lv in results[name]["levels"]])
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("throughput (requests/s)")
    ax.set_title("throughput scaling")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def scenario_markdown(key: str, sc: Dict[str, Any]) -> List[str]:
    """One scenario: ratios, agent vs LitServe per concurrency, all numbers, plots."""
    r, res = sc["ratios"], sc["results"]
    lines = ["## Scenario `%s`: %s" % (key, sc["title"]), "",
             "Package `%s`, frames %s (synthetic). %s" % (sc["package"], sc["frame"], sc["about"]), "",
             "| ratio | value | goal |", "|---|---|---|"]
    ceiling_goal = ">= 0.85" if key != "tiny" else "none: in-process has no per-request work to compare"
    for name, v in r["saturation"].items():
        lines.append("| %s / in-process, at saturation (peak throughput) | %.3f | %s |" % (name, v, ceiling_goal))
    for name, v in r["vs_litserve_at_peak"].items():
        lines.append("| %s / LitServe, peak throughput | %.2fx | >= 1.5x at equal or lower p99 |" % (name, v))
    if "ceiling_vs_litserve" in r:
        lines.append("| in-process / LitServe, peak throughput: the most any server of this session could "
                     "reach | %.2fx | |" % r["ceiling_vs_litserve"])
    for name, sca in r["scaling"].items():
        lines.append("| %s: throughput at %d clients / at %d | %.2fx | |" % (name, sca["to"], sca["from"],
                                                                          sca["factor"]))
    idle = ["%s %s%%" % (name, res[name].get("idle_cpu_percent")) for name in SERIES
            if res[name].get("idle_cpu_percent") is not None]
    if idle:
        lines += ["", "CPU used with no requests in flight (same 3 s window for all; 100% = one core): "
                  + ", ".join(idle) + ". The two agent series are one process."]
    lines += ["", "| series | clients | throughput vs LitServe | p99 ms | LitServe p99 ms | p99 equal or lower |",
              "|---|---|---|---|---|---|"]
    for name, rows in r["vs_litserve"].items():
        for row in rows:
            lines.append("| %s | %d | %.2fx | %s | %s | %s |" % (name, row["concurrency"], row["throughput_ratio"],
                                                               row["p99_ms"], row["litserve_p99_ms"],
                                                               "yes" if row["p99_equal_or_lower"] else "no"))
    lines += ["", "| series | clients | req/s | p50 ms | p90 ms | p99 ms | mean batch | errors | server CPU % | "
              "RSS MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in SERIES:
        for lv in res[name]["levels"]:
            lat, proc = lv["latency_ms"], lv["process"]
            lines.append("| %s | %d | %.1f | %s | %s | %s | %s | %d | %s | %s |" % (
                name, lv["concurrency"], lv["throughput_rps"], lat["p50"], lat["p90"], lat["p99"],
                lv["server"]["mean_batch_size"] or "-", sum(lv["errors"].values()), proc["cpu_percent"],
                proc["rss_mb_max"]))
    lines += ["", "![throughput vs p99](compare_%s_throughput_latency.png)" % key, "",
              "![scaling](compare_%s_scaling.png)" % key, "",
              "![latency distribution](compare_%s_latency_distribution.png)" % key, ""]
    return lines


def markdown(data: Dict[str, Any]) -> str:
    m, st = data["machine"], data["settings"]
    lines = ["# Agent vs in-process ONNX Runtime vs LitServe (issue 7)", "",
             "Measured %s on %d CPUs (%s), ONNX Runtime %s, LitServe %s. Servers and their client threads "
             "share these CPUs (load average %s at the start, %s at the end): compare the ratios, and treat "
             "absolute numbers as this box's."
             % (data["created"], m["cpu_count"], m["platform"], m["onnxruntime"], data["litserve_version"],
                m["loadavg_1_5_15"], data["loadavg_end"]), ""]
    for key, sc in data["scenarios"].items():
        lines += scenario_markdown(key, sc)
    lines += ["## Method", "",
              "- Per scenario: same package, same frame, same closed-loop client loop "
              "(`edge_runtime.bench.runner.run_load`) for every series. All four servers are up at once and "
              "measured interleaved: for each of %d rounds and each concurrency, every series runs %.0f s, in "
              "an order rotated each time, so the drifting background load of the shared CPU hits all of them "
              "alike; each cell pools its rounds (%.0f s warm-up per series first). LitServe's process group "
              "is paused (SIGSTOP) while the other series run and resumed 0.3 s before its own cells: idle, "
              "it keeps using CPU (see the idle line), which would otherwise be taken from whichever series "
              "is being measured. Our agent idles at about 0%% and is never paused."
              % (st["rounds"], st["duration_s"], st["warmup_s"]),
              "- In-process: `load_package` + `create_predictor` behind the agent's own `Batcher` (max batch 8, "
              "2 ms wait), client threads in the same process; no serialisation, no socket: the ceiling.",
              "- Agent: `python -m edge_runtime agent` as a separate process, default batching (max batch 8, "
              "2 ms wait); one `EdgeAgentClient` per client thread; inline = RGB bytes in the request, "
              "shm = each client's own POSIX segment.",
              "- LitServe: `LitAPI(max_batch_size=8, batch_timeout=0.002)`, one CPU worker, one API server, "
              "127.0.0.1; the same predictor in `setup`; requests are LitServe's usual JSON with the raw RGB "
              "frame base64-encoded; one keep-alive `requests.Session` per client thread. LitServe's "
              "`fast_queue` (ZeroMQ) was tried and was not faster here. Its CPU and RSS include its worker "
              "processes (RSS summed, shared pages counted more than once).",
              "- Server CPU % for in-process includes its client threads (same process). Load generator "
              "threads run on the same CPUs as the servers for every series."]
    return "\n".join(lines) + "\n"
