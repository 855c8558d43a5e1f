"""What issue 13's hardening costs per request: this tree's agent (public socket relayed to gRPC so the
caller's uid is known; shared-memory frames copied out with preadv) against a baseline tree's agent
(gRPC on the socket itself; frames read in place through mmap), both as separate processes, called in
interleaved rounds, per transport and frame size.

    git worktree add /tmp/baseline <commit before issue 13>   # or any checkout of it
    python benchmarks/hardening_cost.py --baseline /tmp/baseline --rounds 5

Prints the median requests/s per series and the median of the per-round ratios this/baseline; writes
benchmarks/results/hardening_cost.json. One client, the tiny model: the cost shows, the model hides none.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any, Dict, List

import numpy as np
from _common import RESULTS, ROOT, AgentProcess, log, machine_note, tiny_package
from _fuzz_cases import pb2

from edge_runtime.shm import SharedMemorySegment

SIZES = {"64x64": (64, 64), "1920x1080": (1920, 1080)}


def _request(transport: str, w: int, h: int, segment: SharedMemorySegment) -> Any:
    if transport == "inline":
        bitmap = pb2.Bitmap(width=w, height=h, byte_data=np.zeros((h, w, 3), np.uint8).tobytes())
    else:
        bitmap = pb2.Bitmap(width=w, height=h, shared_memory_handle=pb2.SharedMemoryHandle(
            name=segment.name, size=w * h * 3))
    return pb2.DetectAnomaliesRequest(model_component="tiny", bitmap=bitmap)


def _rate(stub: Any, request: Any, count: int) -> float:
    stub.DetectAnomalies(request)
    started = time.perf_counter()
    for _ in range(count):
        stub.DetectAnomalies(request)
    return count / (time.perf_counter() - started)


def run(baseline: str, rounds: int, requests: int) -> Dict[str, Any]:
    import grpc

    from edge_runtime.agent.proto import edge_agent_pb2_grpc

    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    results: Dict[str, Dict[str, List[float]]] = {}
    segment = SharedMemorySegment.create("/edge-cost-bench-%d" % os.getpid(), 1920 * 1080 * 3)
    try:
        same = {"max_wait_ms": 0}  # the batchers of the two trees may differ; lone requests run at once in both
        with AgentProcess({"tiny": tiny_package()}, batching=same) as this, \
                AgentProcess({"tiny": tiny_package()}, batching=same, root=os.path.abspath(baseline)) as base:
            this.start_models("tiny")
            base.start_models("tiny")
            stubs = {name: edge_agent_pb2_grpc.EdgeAgentStub(grpc.insecure_channel(agent.target, options))
                     for name, agent in (("this", this), ("baseline", base))}
            for _ in range(rounds):
                for transport in ("inline", "shm"):
                    for size, (w, h) in SIZES.items():
                        request = _request(transport, w, h, segment)
                        count = requests if size == "64x64" else max(10, requests // 10)
                        for series in ("this", "baseline"):
                            results.setdefault("%s %s" % (transport, size), {}).setdefault(series, []).append(
                                _rate(stubs[series], request, count))
    finally:
        segment.close()
        segment.unlink()
    table = {key: {"this_per_s": round(statistics.median(v["this"]), 1),
                   "baseline_per_s": round(statistics.median(v["baseline"]), 1),
                   "this_over_baseline": round(statistics.median([a / b for a, b in zip(v["this"], v["baseline"])]),
                                               3)} for key, v in results.items()}
    return {"rounds": rounds, "requests": requests, "baseline": os.path.abspath(baseline), "this": ROOT,
            "series": table, "machine": machine_note()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a source tree of the agent before issue 13")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    report = run(args.baseline, args.rounds, args.requests)
    for key, row in report["series"].items():
        log("%-16s this %8.1f/s  baseline %8.1f/s  ratio %.3f" % (key, row["this_per_s"], row["baseline_per_s"],
                                                                 row["this_over_baseline"]))
    print(json.dumps(report, indent=2))
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "hardening_cost.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
