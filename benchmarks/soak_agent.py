"""Soak the agent as a separate process: N clients for D seconds, each a mix of good inline frames,
good shared-memory frames with the mask written back into the client's own segment (some with
GStreamer's padded rows), and fault requests from the fuzz cases in between.

    python benchmarks/soak_agent.py --clients 8 --duration 600

Prints (and writes to benchmarks/results/soak_agent.json) requests sent, good requests and how many
failed, fault requests and wrong codes, hangs, crashes, the agent's RSS at start, end and peak, and
the throughput of good requests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from typing import Any, Dict, List

import numpy as np
from _common import RESULTS, ROOT, AgentProcess, log, machine_note, tiny_package, tiny_segmentation_package
from _fuzz_cases import SEGMENTATION_MODEL, ShmZoo, call, pb2, random_case, rss_mb

from edge_runtime.shm import SharedMemorySegment

TIMEOUT_S = 10.0
W, H = 250, 200  # GStreamer pads these RGB rows from 750 to 752 bytes
STRIDE = (W * 3 + 3) & ~3


def _good_inline(rng: random.Random) -> bytes:
    frame = np.full((H, W, 3), rng.randrange(256), np.uint8)
    return pb2.DetectAnomaliesRequest(model_component="tiny", bitmap=pb2.Bitmap(
        width=W, height=H, byte_data=frame.tobytes())).SerializeToString()


def _good_shm(segment: SharedMemorySegment, rng: random.Random) -> bytes:
    padded = rng.random() < 0.3
    size = H * (STRIDE if padded else W * 3)
    segment.write(0, np.full(size, rng.randrange(256), np.uint8))
    request = pb2.DetectAnomaliesRequest(model_component=SEGMENTATION_MODEL, bitmap=pb2.Bitmap(
        width=W, height=H, shared_memory_handle=pb2.SharedMemoryHandle(name=segment.name, size=size)))
    request.anomaly_mask_params.shared_memory_handle.CopyFrom(
        pb2.SharedMemoryHandle(name=segment.name, size=W * H * 3, offset=H * STRIDE))
    return request.SerializeToString()


def client(channel: Any, zoo: ShmZoo, seed: int, end: float, stats: Dict[str, Any], lock: threading.Lock) -> None:
    rng = random.Random(seed)
    segment = SharedMemorySegment.create("/edge-soak-%s" % uuid.uuid4().hex[:10], H * STRIDE + W * H * 3)
    try:
        while time.monotonic() < end:
            pick = rng.random()
            if pick < 0.15:
                case = random_case(rng, zoo, "tiny")
                code = call(channel, case.rpc, case.payload, TIMEOUT_S)
                with lock:
                    stats["faults"] += 1
                    stats["fault_codes"][code] += 1
                    stats["hangs"] += code == "DEADLINE_EXCEEDED"
                    if code not in case.allowed:
                        stats["wrong"].append("%s %s -> %s" % (case.kind, case.rpc, code))
                continue
            payload = _good_inline(rng) if pick < 0.6 else _good_shm(segment, rng)
            code = call(channel, "DetectAnomalies", payload, TIMEOUT_S)
            with lock:
                stats["good"] += 1
                stats["hangs"] += code == "DEADLINE_EXCEEDED"
                if code != "OK":
                    stats["good_failed"].append(code)
    finally:
        segment.close()
        segment.unlink()


def open_files_and_threads(pid: int) -> Dict[str, int]:
    """Leaks other than memory: descriptors and threads of the agent process."""
    with open("/proc/%d/status" % pid) as fh:
        threads = next(int(line.split()[1]) for line in fh if line.startswith("Threads:"))
    return {"fds": len(os.listdir("/proc/%d/fd" % pid)), "threads": threads}


def sample_rss(agent: AgentProcess, end: float, samples: List[float]) -> None:
    while time.monotonic() < end and agent.process is not None and agent.process.poll() is None:
        samples.append(rss_mb(agent.pid))
        time.sleep(5)


def run(clients: int, duration: float, seed: int, root: str = ROOT) -> Dict[str, Any]:
    import grpc

    stats: Dict[str, Any] = {"good": 0, "good_failed": [], "faults": 0, "fault_codes": Counter(), "wrong": [],
                             "hangs": 0}
    lock = threading.Lock()
    packages = {"tiny": tiny_package(), SEGMENTATION_MODEL: tiny_segmentation_package()}
    with AgentProcess(packages, root=root) as agent:
        agent.start_models("tiny", SEGMENTATION_MODEL)
        zoo = ShmZoo()
        channels = [grpc.insecure_channel(agent.target) for _ in range(clients)]
        rss_start, samples = rss_mb(agent.pid), []  # type: float, List[float]
        handles_start = open_files_and_threads(agent.pid)
        started = time.monotonic()
        end = started + duration
        threads = [threading.Thread(target=client, args=(channels[i], zoo, seed + i, end, stats, lock))
                   for i in range(clients)]
        threads.append(threading.Thread(target=sample_rss, args=(agent, end, samples)))
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            crashed = agent.process is not None and agent.process.poll() is not None
            rss_end = rss_mb(agent.pid) if not crashed else 0.0
            handles_end = open_files_and_threads(agent.pid) if not crashed else {}
        finally:
            for channel in channels:
                channel.close()
            zoo.close()
        elapsed = time.monotonic() - started
    return {"clients": clients, "duration_s": round(elapsed, 1), "requests_sent": stats["good"] + stats["faults"],
            "good_requests": stats["good"], "good_failed": len(stats["good_failed"]),
            "good_failed_codes": dict(Counter(stats["good_failed"])), "good_per_s": round(stats["good"] / elapsed, 1),
            "fault_requests": stats["faults"], "fault_codes": dict(stats["fault_codes"]),
            "wrong_codes": len(stats["wrong"]), "wrong_examples": stats["wrong"][:20], "hangs": stats["hangs"],
            "crashes": int(crashed), "agent_fds_threads": {"start": handles_start, "end": handles_end},
            "frame": "%dx%d (30%% of shm frames with %d-byte padded rows)" % (W, H, STRIDE),
            "agent_rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1),
                             "peak": round(max(samples + [rss_end]), 1),
                             "every_30_s": [round(x, 1) for x in samples[::6]]},
            "machine": machine_note()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--agent-root", default=ROOT, help="source tree whose agent runs (a baseline checkout)")
    parser.add_argument("--output", default=os.path.join(RESULTS, "soak_agent.json"))
    args = parser.parse_args()
    log("soak: %d clients for %.0f s" % (args.clients, args.duration))
    report = run(args.clients, args.duration, args.seed, os.path.abspath(args.agent_root))
    report["agent_root"] = os.path.abspath(args.agent_root)
    print(json.dumps(report, indent=2))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as fh:
        json.dump(report, fh, indent=2)
    bad = report["crashes"] or report["hangs"] or report["wrong_codes"] or report["good_failed"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
