"""One series' clients (the agent's `EdgeAgentClient`s, or the in-process engine behind the Batcher) in a
process of their own, for benchmarks/_client_driver.py. The target is described by a TargetSpec as JSON:

    python benchmarks/_series_client.py --spec '{"kind": "in-process", ...}' --frame FRAME.npy --clients 16

`SeparateTarget` is the parent's side: the runner's target interface (open, worker, counters, close,
remote_load) for such a process, so benchmarks/_interleaved.py treats it like every other series.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _client_driver import ClientDriver  # noqa: E402

from edge_runtime.bench.config import TargetSpec  # noqa: E402
from edge_runtime.bench.runner import Load  # noqa: E402
from edge_runtime.bench.targets import AgentTarget, Counters, InProcessTarget, Worker  # noqa: E402


class SeparateTarget:
    """A TargetSpec's clients (and, in-process, its engine) in their own Python process."""

    def __init__(self, spec: TargetSpec, frame: np.ndarray, clients: int) -> None:
        self.spec, self.clients = spec, clients
        self.dir = tempfile.mkdtemp(prefix="series-")
        self.frame_path = os.path.join(self.dir, "frame.npy")
        np.save(self.frame_path, frame)
        command = [sys.executable, os.path.abspath(__file__), "--spec", json.dumps(dataclasses.asdict(spec)),
                   "--frame", self.frame_path, "--clients", str(clients)]
        self.driver = ClientDriver(command, dict(os.environ, PYTHONPATH=ROOT), ROOT)
        self.description: Dict[str, Any] = {}
        self.backend = ""
        self.pid: Optional[int] = spec.agent_pid or None

    def open(self) -> None:
        ready = self.driver.start()
        self.description = dict(ready["description"], clients="own process")
        self.backend = ready["backend"]
        if self.spec.kind == "in-process":
            self.pid = self.driver.pid  # engine and clients both live there

    def worker(self) -> Worker:
        return Worker(lambda frame: None, lambda: None)  # the real clients live in the driver process

    def remote_load(self, concurrency: int, duration_s: float) -> Any:
        return self.driver.remote_load(concurrency, duration_s)

    def counters(self) -> Counters:
        return Counters(**self.driver.ask({"counters": True}))

    def close(self) -> None:
        self.driver.close()
        for name in os.listdir(self.dir):
            os.remove(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def _reply(data: Dict[str, Any]) -> None:
    print(json.dumps(data), flush=True)


def _cell(target: Any, workers: List[Worker], frame: np.ndarray, command: Dict[str, Any]) -> Dict[str, Any]:
    from edge_runtime.bench.runner import run_load
    from edge_runtime.bench.status_line import StatusLine

    cpu = time.process_time()
    load: Load = run_load(workers, frame, int(command["concurrency"]), float(command["duration"]),
                          StatusLine(enabled=False), "series")
    return {"latencies": load.latencies, "elapsed_s": load.elapsed_s, "errors": load.errors,
            "first_error": load.first_error, "cpu_s": time.process_time() - cpu}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True, help="a TargetSpec as JSON")
    parser.add_argument("--frame", required=True, help=".npy file of the RGB frame every request sends")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    spec = TargetSpec(**json.loads(args.spec))
    target: Any = InProcessTarget(spec) if spec.kind == "in-process" else AgentTarget(spec)
    target.open()
    frame = np.ascontiguousarray(np.load(args.frame))
    workers = [target.worker() for _ in range(args.clients)]
    _reply({"ready": True, "backend": target.backend, "description": target.description})
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command.get("quit"):
                break
            if command.get("counters"):
                _reply(dataclasses.asdict(target.counters()))
            else:
                _reply(_cell(target, workers, frame, command))
    finally:
        for worker in workers:
            worker.close()
        target.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
