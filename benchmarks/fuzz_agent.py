"""Fuzz the agent as a separate process on its Unix socket: garbage and mutated requests, odd shared
memory (directories, sockets, FIFOs, links, a segment truncated and regrown under the requests), bad
names; after every fault a good request must be answered.

    python benchmarks/fuzz_agent.py --requests 3000 --threads 4 [--seed 1]

Prints (and writes to benchmarks/results/fuzz_agent.json) requests sent, codes seen, crashes (the
agent process died), hangs (a call past its 10 s deadline), wrong codes (outside the documented table,
or UNKNOWN/INTERNAL), good requests lost, whether the root-only file behind a link was touched, and
the agent's RSS at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from collections import Counter
from typing import Any, Dict

from _common import RESULTS, AgentProcess, log, tiny_package, tiny_segmentation_package
from _fuzz_cases import ShmZoo, call, good_request, random_case, rss_mb, summary_line

TIMEOUT_S = 10.0


def fuzz_worker(channel: Any, zoo: ShmZoo, seed: int, count: int, stats: Dict[str, Any], lock: threading.Lock,
                agent: AgentProcess) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        if agent.process is None or agent.process.poll() is not None:
            return
        case = random_case(rng, zoo, "tiny")
        code = call(channel, case.rpc, case.payload, TIMEOUT_S)
        good = call(channel, "DetectAnomalies", good_request("tiny", rng), TIMEOUT_S)
        with lock:
            stats["sent"] += 2
            stats["codes"][code] += 1
            stats["by_kind"][case.kind] += 1
            if code == "DEADLINE_EXCEEDED":
                stats["hangs"] += 1
            elif code not in case.allowed:
                stats["wrong"].append("%s %s -> %s" % (case.kind, case.rpc, code))
            if good != "OK":
                stats["lost"].append("good request after %s %s -> %s" % (case.kind, case.rpc, good))


def run(requests: int, threads: int, seed: int) -> Dict[str, Any]:
    import grpc

    stats: Dict[str, Any] = {"sent": 0, "codes": Counter(), "by_kind": Counter(), "hangs": 0, "wrong": [],
                             "lost": []}
    lock = threading.Lock()
    with AgentProcess({"tiny": tiny_package(), "tiny-seg": tiny_segmentation_package()}) as agent:
        agent.start_models("tiny", "tiny-seg")
        zoo = ShmZoo()
        channel = grpc.insecure_channel(agent.target)
        rss_start = rss_mb(agent.pid)
        started = time.monotonic()
        try:
            workers = [threading.Thread(target=fuzz_worker, args=(channel, zoo, seed + i, requests // threads,
                                                                  stats, lock, agent)) for i in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            crashed = agent.process is not None and agent.process.poll() is not None
            rss_end = rss_mb(agent.pid) if not crashed else 0.0
            intact = zoo.target_intact()
        finally:
            channel.close()
            zoo.close()
    return {"fault_requests": sum(stats["codes"].values()), "requests_sent": stats["sent"],
            "seconds": round(time.monotonic() - started, 1), "threads": threads, "seed": seed,
            "crashes": int(crashed), "hangs": stats["hangs"], "wrong_codes": len(stats["wrong"]),
            "wrong_examples": stats["wrong"][:20], "good_requests_lost": len(stats["lost"]),
            "lost_examples": stats["lost"][:20], "codes": dict(stats["codes"]), "cases": dict(stats["by_kind"]),
            "root_only_file_behind_link_intact": intact,
            "agent_rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="fault requests (each followed by a good one)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = run(args.requests, args.threads, args.seed)
    log(summary_line(report["codes"], report["wrong_examples"]))
    print(json.dumps(report, indent=2))
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "fuzz_agent.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    ok = not (report["crashes"] or report["hangs"] or report["wrong_codes"] or report["good_requests_lost"])
    return 0 if ok and report["root_only_file_behind_link_intact"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
