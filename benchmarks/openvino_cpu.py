#!/usr/bin/env python
"""Issue 14: what the CPU engine buys. The compiled X86_64 build on OpenVINO (f32, bf16, one or two streams)
and on ONNX Runtime, against the plain package on ONNX Runtime, in-process behind the agent's Batcher,
measured side by side in interleaved rounds (benchmarks/_interleaved.py) at 1 and 8 clients.

Model: the demo EfficientNet-Lite0 backbone with its head fitted on ELPV solar cells
(benchmarks/compile_cpu.py `calibrated_package`), so labels mean something; its calibration.npz holds
ELPV cells the head never saw: the test set the compiler measures each build's accuracy change on
(score MAE and label agreement against the ONNX at f32, recorded in edge-build.json).

Run: python benchmarks/openvino_cpu.py [--duration 3] [--rounds 3] [--size 640x480]
Writes benchmarks/results/openvino_cpu.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, Dict, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import compiled_package, log  # noqa: E402
from _interleaved import add_run_arguments, measure_interleaved, run_header  # noqa: E402
from compile_cpu import calibrated_package  # noqa: E402

from edge_runtime.bench.config import ImageSpec, TargetSpec, parse_concurrency, parse_size  # noqa: E402
from edge_runtime.bench.report import write_json, write_text  # noqa: E402
from edge_runtime.bench.targets import InProcessTarget, make_frame  # noqa: E402

BF16 = {"precision": "bf16", "mattr": ["+avx512bf16"]}
BASE = "plain package, onnxruntime"


def configurations(plain: str, f32: str, bf16: str) -> Dict[str, Tuple[str, str, int, int]]:
    """series -> (package, models.cpu_engine, models.instances, models.intra_op_threads).

    The OpenVINO settings the agent derives (openvino_engine.openvino_settings) are measured against
    their neighbours: one stream with every CPU and the latency hint (the default), one thread, and
    two streams with the throughput hint (models.instances 2). "auto" serves whichever engine measured
    faster at load (runtime/cpu_engines.measured_choice); its series shows what a default agent gets."""
    return {BASE: (plain, "auto", 1, 0),
            "x86 build, onnxruntime": (f32, "onnxruntime", 1, 0),
            "x86 build, auto (measured choice)": (f32, "auto", 1, 0),
            "x86 build, openvino f32": (f32, "openvino", 1, 0),
            "x86 build, openvino f32, 1 thread": (f32, "openvino", 1, 1),
            "x86 build, openvino f32, 2 streams": (f32, "openvino", 2, 0),
            "x86 build, openvino bf16": (bf16, "openvino", 1, 0)}


def ratios(results: Dict[str, Any]) -> Dict[str, Any]:
    """Pooled ratios, and each one's range over the rounds (round r of a series against round r of the other)."""
    def at(name: str, c: int) -> Dict[str, Any]:
        return next(lv for lv in results[name]["levels"] if lv["concurrency"] == c)

    def ratio(a: Dict[str, Any], b: Dict[str, Any], key: str) -> Dict[str, Any]:
        pooled = a["throughput_rps"] / b["throughput_rps"] if key == "throughput_rps" else \
            a["latency_ms"]["p50"] / b["latency_ms"]["p50"]
        rounds = [x[key] / y[key] for x, y in zip(a.get("per_round", []), b.get("per_round", [])) if x[key] and y[key]]
        return {"ratio": round(pooled, 3), "per_round": [round(min(rounds), 3), round(max(rounds), 3)]
                if rounds else None}

    out: Dict[str, Any] = {}
    for c in sorted({lv["concurrency"] for lv in results[BASE]["levels"]}):
        out["throughput_vs_plain_onnxruntime_at_%d" % c] = {
            name: ratio(at(name, c), at(BASE, c), "throughput_rps") for name in results if name != BASE}
        f32, bf16 = at("x86 build, openvino f32", c), at("x86 build, openvino bf16", c)
        out["bf16_vs_f32_at_%d" % c] = {"throughput": ratio(bf16, f32, "throughput_rps"),
                                        "p50": ratio(bf16, f32, "p50_ms")}
    return out


def _cell(r: Dict[str, Any]) -> str:
    spread = r.get("per_round")
    return "%.3f" % r["ratio"] + (" (%.2f-%.2f)" % tuple(spread) if spread else "")


def build_notes(f32: str, bf16: str) -> Dict[str, Any]:
    notes = {}
    for key, folder in (("fp32", f32), ("bf16", bf16)):
        with open(os.path.join(folder, "edge-build.json"), encoding="utf-8") as fh:
            build = json.load(fh)
        notes[key] = {"serving": build["serving"], "openvino_accuracy": build["openvino"].get("accuracy"),
                      "onnxruntime_accuracy": build["onnxruntime"].get("accuracy_of_fallback", build["accuracy"])
                      if key == "bf16" else build["accuracy"], "required": build["features"]["required"]}
    return notes


def markdown(data: Dict[str, Any]) -> str:
    r, b = data["ratios"], data["builds"]
    lines = ["# CPU engines: OpenVINO vs ONNX Runtime (issue 14)", "",
             "Measured %s on %d shared CPUs (load average %s at the start, %s at the end); %d interleaved rounds of "
             "%.0f s per cell, frames %s, in-process behind the agent's Batcher (max batch 8). Ratios are what to "
             "read; the absolute numbers are this busy box's." % (
                 data["created"], data["machine"]["cpu_count"], data["machine"]["loadavg_1_5_15"],
                 data["loadavg_end"], data["settings"]["rounds"], data["settings"]["duration_s"],
                 data["settings"]["size"]), "",
             "Each ratio is pooled over the rounds; in brackets its lowest and highest value in single rounds.", "",
             "| clients | series / plain package on ONNX Runtime | throughput ratio |", "|---|---|---|"]
    for key, row in r.items():
        if key.startswith("throughput_vs"):
            for name, value in row.items():
                lines.append("| %s | %s | %s |" % (key.rsplit("_", 1)[1], name, _cell(value)))
    lines += ["", "| clients | bf16 / f32 throughput | bf16 / f32 p50 |", "|---|---|---|"]
    for key, row in r.items():
        if key.startswith("bf16_vs"):
            lines.append("| %s | %s | %s |" % (key.rsplit("_", 1)[1], _cell(row["throughput"]), _cell(row["p50"])))
    lines += ["", "Accuracy against the ONNX at f32, on %s ELPV test cells (from edge-build.json):" %
              (b["fp32"]["openvino_accuracy"] or {}).get("images", "?"), "",
              "| build | engine | score MAE | max abs diff | label agreement |", "|---|---|---|---|---|"]
    for key, field in (("fp32", "openvino_accuracy"), ("bf16", "openvino_accuracy"), ("fp32", "onnxruntime_accuracy")):
        acc = b[key][field] or {}
        if acc.get("measured"):
            lines.append("| %s | %s | %.2e | %.2e | %.4f |" % (key, field.split("_")[0], acc["score_mae"],
                                                              acc["score_max_abs_diff"], acc["label_agreement"]))
    lines += ["", "| series | clients | req/s | p50 ms | p99 ms | mean batch | engine |",
              "|---|---|---|---|---|---|---|"]
    for name, entry in data["results"].items():
        for lv in entry["levels"]:
            lines.append("| %s | %d | %.1f | %s | %s | %s | %s |" % (
                name, lv["concurrency"], lv["throughput_rps"], lv["latency_ms"]["p50"], lv["latency_ms"]["p99"],
                lv["server"]["mean_batch_size"] or "-", entry["target"]["backend"]))
    return "\n".join(lines) + "\n"


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, rounds=3, size="640x480")
    args = parser.parse_args(argv)
    plain = calibrated_package(200)
    f32, bf16 = compiled_package(plain), compiled_package(plain, BF16, suffix="x86-bf16")
    frame, info = make_frame(ImageSpec(size=parse_size(args.size)))
    concurrency = parse_concurrency(args.concurrency)
    data = run_header(args, info, concurrency)
    with contextlib.ExitStack() as stack:
        targets = {}
        for name, (package, engine, instances, threads) in configurations(plain, f32, bf16).items():
            target = InProcessTarget(TargetSpec(kind="in-process", location=package, model="demo",
                                                cpu_engine=engine, instances=instances, intra_op_threads=threads))
            target.open()
            stack.callback(target.close)
            targets[name] = target
            log("%s: %s" % (name, target.backend))
        levels, _, _ = measure_interleaved(targets, frame, concurrency, args.duration, args.warmup, args.rounds)
        data["results"] = {name: {"target": t.description, "levels": levels[name]} for name, t in targets.items()}
    data["ratios"], data["builds"] = ratios(data["results"]), build_notes(f32, bf16)
    data["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    os.makedirs(args.output, exist_ok=True)
    write_json(os.path.join(args.output, "openvino_cpu.json"), data)
    write_text(os.path.join(args.output, "openvino_cpu.md"), markdown(data))
    print(json.dumps({"ratios": data["ratios"], "accuracy": {k: v["openvino_accuracy"] for k, v in
                                                              data["builds"].items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
