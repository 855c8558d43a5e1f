#!/usr/bin/env python
"""Issue 14: OpenVINO's CPU thread pinning (ENABLE_CPU_PINNING), pinned against unpinned (the agent's choice).

Each run is a fresh process that compiles the compiled demo build's OpenVINO model with the agent's settings
(runtime/openvino_engine.py), pinned or not, and calls predict() on one 224x224 frame in a loop for
`--seconds`; the two settings alternate, `--runs` times each, so drift in the shared CPU hits both.

Run: python benchmarks/openvino_pinning.py [--runs 4] [--seconds 4]
Writes benchmarks/results/openvino_pinning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, ROOT, compiled_package, demo_package, machine_note  # noqa: E402


def one_run(package: str, pin: bool, seconds: float) -> Dict[str, Any]:
    """In this (fresh) process: requests per second and CPU % of predict() in a loop."""
    import dataclasses

    from edge_runtime.bench.config import ImageSpec
    from edge_runtime.bench.targets import make_frame
    from edge_runtime.runtime import cpu_engines
    from edge_runtime.runtime.factory import PredictorOptions, create_predictor
    from edge_runtime.runtime.loader import load_package

    chosen = cpu_engines.openvino_settings  # the agent's settings, with only the pinning changed

    def settings(*args: Any) -> Any:
        return dataclasses.replace(chosen(*args), pin_threads=pin)

    cpu_engines.openvino_settings = settings  # type: ignore[assignment]
    predictor = create_predictor(load_package(package), PredictorOptions())
    predictor.load()
    predictor.warmup()
    frame, _ = make_frame(ImageSpec(size=(224, 224)))
    n, cpu, start = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - start < seconds:
        predictor.predict([frame])
        n += 1
    elapsed = time.perf_counter() - start
    cpu_percent = round(100 * (time.process_time() - cpu) / elapsed, 1)
    return {"throughput_rps": round(n / elapsed, 2), "cpu_percent": cpu_percent, "backend": predictor.backend_note}


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--one", choices=("pinned", "unpinned"), help=argparse.SUPPRESS)
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    package = compiled_package(demo_package())
    if args.one:
        print(json.dumps(one_run(package, args.one == "pinned", args.seconds)))
        return 0
    runs: Dict[str, List[Dict[str, Any]]] = {"pinned": [], "unpinned": []}
    machine = machine_note()
    for _ in range(args.runs):
        for setting in runs:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", setting, "--seconds",
                                  str(args.seconds)], cwd=ROOT, capture_output=True, text=True, check=True)
            runs[setting].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(setting, runs[setting][-1], file=sys.stderr, flush=True)
    ratios = [u["throughput_rps"] / p["throughput_rps"] for p, u in zip(runs["pinned"], runs["unpinned"])]
    data = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine,
            "loadavg_end": [round(v, 2) for v in os.getloadavg()], "seconds_per_run": args.seconds, "runs": runs,
            "unpinned_vs_pinned_throughput": {"per_pair": [round(r, 3) for r in ratios],
                                              "median": round(sorted(ratios)[len(ratios) // 2], 3)}}
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "openvino_pinning.json"), "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    print(json.dumps(data["unpinned_vs_pinned_throughput"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
