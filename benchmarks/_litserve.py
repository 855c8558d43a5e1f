"""LitServe as a benchmark target: its server process, and the runner's target interface over HTTP.

The server is benchmarks/_litserve_app.py (the same predictor as the agent, behind LitServe's batching).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from typing import Any, List

import numpy as np
from _common import ROOT
from _server_process import ServerProcess

from edge_runtime.bench.targets import Counters, Worker


class LitServeProcess(ServerProcess):
    """benchmarks/_litserve_app.py in its own process group (LitServe forks workers) on a free loopback port."""

    name = "LitServe"
    ready_timeout_s = 120.0
    own_group = True

    def __init__(self, package: str, fast_queue: bool = False, cpu_engine: str = "auto") -> None:
        self.fast_queue = fast_queue
        self.cpu_engine = cpu_engine
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.package = package
        self.url = "http://127.0.0.1:%d" % self.port
        self.paused = False
        self.log_path = os.path.join(tempfile.mkdtemp(prefix="litserve-"), "litserve.log")

    def command(self) -> List[str]:
        return ([sys.executable, os.path.join(ROOT, "benchmarks", "_litserve_app.py"), "--package", self.package,
                 "--port", str(self.port), "--cpu-engine", self.cpu_engine]
                + (["--fast-queue"] if self.fast_queue else []))

    def working_dir(self) -> str:
        return ROOT

    def ready(self) -> bool:
        import requests

        return requests.get(self.url + "/health", timeout=1).text.strip() == "ok"

    def backend_line(self) -> str:
        """What the app printed about its engine ("openvino-cpu (...)")."""
        found = [line.split("litserve app: ", 1)[1].strip() for line in self.log().splitlines()
                 if "litserve app: " in line]
        return found[0] if found else ""

    def pause(self) -> None:
        """SIGSTOP the whole group (LitServe's idle workers poll and would use CPU meant for others)."""
        if self.process is not None and not self.paused:
            os.killpg(self.process.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> bool:
        """SIGCONT the group; True if it was paused."""
        if self.process is None or not self.paused:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGCONT)
        self.paused = False
        return True

    def __exit__(self, *exc: object) -> None:
        """Stop LitServe and the workers it forked: the whole process group this class started."""
        self.resume()  # a stopped process would not act on SIGTERM
        self.stop()
        shutil.rmtree(os.path.dirname(self.log_path), ignore_errors=True)


class LitServeTarget:
    """The runner's target interface over LitServe's HTTP API (one keep-alive session per client)."""

    process_tree = True  # LitServe forks an inference worker and API server processes

    def __init__(self, server: LitServeProcess, model: str) -> None:
        self.server = server
        self.pid = server.process.pid if server.process else None
        self.description = {"kind": "litserve", "location": server.url, "model": model, "transport": "http-json",
                            "pid": self.pid, "backend": server.backend_line()}

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

    def pause(self) -> None:
        self.server.pause()

    def resume(self) -> bool:
        return self.server.resume()

    def close(self) -> None:
        pass


class HttpError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__("HTTP %d: %s" % (status, text))
        self.code = "HTTP_%d" % status
