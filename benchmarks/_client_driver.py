"""The clients of one series in a process of their own, driven cell by cell over JSON lines.

A benchmark process that hosts every series' client threads (and an in-process engine) shares one GIL
among all of them: an in-process "ceiling" measured there competes with the agent's idle client
channels and the runner's own threads, and came out slower than the agent it should bound. So each
series may run its clients elsewhere: Triton's in the Python 3.12 venv (benchmarks/_triton_client.py,
tritonclient needs protobuf 6), the agent's and the in-process engine in benchmarks/_series_client.py.
Both speak the same protocol:
    (start)                            ->  {"ready": true, ...}
    {"concurrency": C, "duration": S}  ->  {"latencies": [...], "elapsed_s": .., "errors": {..},
                                            "first_error": {..}, "cpu_s": ..}
    {"counters": true}                 ->  the target's Counters as a dict (benchmarks/_series_client.py)
    {"quit": true}                     ->  closes its clients and exits
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from typing import Any, Dict, List, Optional, Tuple

from edge_runtime.bench.runner import Load


class ClientDriver:
    """One driver process; `remote_load` runs a cell there and returns what the local runner would."""

    def __init__(self, command: List[str], env: Dict[str, str], cwd: str) -> None:
        self.command, self.env, self.cwd = command, env, cwd
        self.process: Optional[subprocess.Popen] = None
        self.ready: Dict[str, Any] = {}

    def start(self) -> Dict[str, Any]:
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.ready = self.reply()
        if not self.ready.get("ready"):
            raise RuntimeError("client driver %s did not start: %r" % (self.command[1], self.ready))
        return self.ready

    def ask(self, command: Dict[str, Any]) -> Dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.reply()

    def reply(self) -> Dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("client driver %s exited (rc %s)" % (self.command[1], self.process.poll()))
        return json.loads(line)

    def remote_load(self, concurrency: int, duration_s: float) -> Tuple[Load, float]:
        """(the cell's Load, the driver's CPU seconds) for `concurrency` clients over `duration_s`."""
        reply = self.ask({"concurrency": concurrency, "duration": duration_s})
        load = Load(concurrency)
        load.latencies, load.elapsed_s = list(reply["latencies"]), float(reply["elapsed_s"])
        load.errors, load.first_error = dict(reply["errors"]), dict(reply["first_error"])
        return load, float(reply["cpu_s"])

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process is not None else None

    def close(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(json.dumps({"quit": True}) + "\n")
            process.stdin.flush()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
