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
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

import numpy as np
from _common import ROOT

from edge_runtime.bench.targets import Counters, Worker


class LitServeProcess:
    """benchmarks/_litserve_app.py in its own process on a free loopback port."""

    def __init__(self, package: str, fast_queue: bool = False, cpu_engine: str = "auto") -> None:
        self.fast_queue = fast_queue
        self.cpu_engine = cpu_engine
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.package = package
        self.process: Optional[subprocess.Popen] = None
        self.url = "http://127.0.0.1:%d" % self.port
        self.paused = False

    def __enter__(self) -> "LitServeProcess":
        app = os.path.join(ROOT, "benchmarks", "_litserve_app.py")
        self.log_path = os.path.join(tempfile.mkdtemp(prefix="litserve-"), "litserve.log")
        with open(self.log_path, "wb") as logf:  # a file, not a pipe: nobody reads it while serving
            self.process = subprocess.Popen([sys.executable, app, "--package", self.package, "--port",
                                             str(self.port), "--cpu-engine", self.cpu_engine]
                                            + (["--fast-queue"] if self.fast_queue else []),
                                            cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # its own group: LitServe forks workers
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_healthy(self) -> None:
        import requests

        assert self.process is not None
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if self.process.poll() is not None:
                with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                    raise RuntimeError("LitServe exited: %s" % fh.read()[-2000:])
            try:
                if requests.get(self.url + "/health", timeout=1).text.strip() == "ok":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError("LitServe did not become healthy in 120 s")

    def backend_line(self) -> str:
        """What the app printed about its engine ("openvino-cpu (...)")."""
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            found = [line.split("litserve app: ", 1)[1].strip() for line in fh if "litserve app: " in line]
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
        if self.process is None:
            return
        self.resume()  # a stopped process would not act on SIGTERM
        pgid = self.process.pid  # start_new_session: the group id is the leader's pid
        for sig, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            end = time.monotonic() + wait_s
            while time.monotonic() < end and _group_alive(pgid):
                self.process.poll()  # reap the leader, or it stays a zombie member of the group
                time.sleep(0.2)
            if not _group_alive(pgid):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        shutil.rmtree(os.path.dirname(self.log_path), ignore_errors=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


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
