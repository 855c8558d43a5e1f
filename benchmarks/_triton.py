"""NVIDIA Triton as a benchmark target: its server (benchmarks/_triton_app.py in the Python 3.12 venv of
benchmarks/triton_setup.sh) and its clients (benchmarks/_triton_client.py in the same venv, driven cell by
cell, since tritonclient cannot be installed next to this venv's protobuf 7).

`TritonTarget.remote_load(c, seconds)` returns the same `Load` the in-process runner returns, so the
interleaved rounds treat Triton like every other series; its batch counters come from Triton's own
Prometheus metrics (nv_inference_count / nv_inference_exec_count).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from _client_driver import ClientDriver
from _common import ROOT, WORK
from _server_process import ServerProcess

from edge_runtime.bench.runner import Load
from edge_runtime.bench.targets import Counters, Worker

VENV = os.path.join(WORK, "triton-venv")
SETUP = os.path.join(ROOT, "benchmarks", "triton_setup.sh")


def triton_python() -> str:
    """The 3.12 venv's python, made by triton_setup.sh when missing."""
    python = os.path.join(VENV, "bin", "python")
    if not os.path.isfile(os.path.join(VENV, ".complete")):
        subprocess.run([SETUP], check=True)
    return python


def _libpython_dir(python: str) -> str:
    """The interpreter's lib/ (pytriton's stub loads libpython3.12.so.1.0 from LD_LIBRARY_PATH)."""
    base = subprocess.run([python, "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return os.path.join(base, "lib")


def _free_ports(n: int) -> List[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class TritonProcess(ServerProcess):
    """pytriton's tritonserver serving `package` with the given models.cpu_engine, in its own process group
    (the app, tritonserver, pytriton's proxy and the Python backend stubs)."""

    name = "Triton"
    ready_timeout_s = 240.0
    poll_s = 0.5
    own_group = True

    def __init__(self, package: str, cpu_engine: str = "auto") -> None:
        self.package, self.cpu_engine = package, cpu_engine
        self.grpc_port, self.http_port, self.metrics_port = _free_ports(3)
        self.url = "127.0.0.1:%d" % self.grpc_port
        self.dir = tempfile.mkdtemp(prefix="triton-")
        self.log_path = os.path.join(self.dir, "triton.log")
        self.python = triton_python()
        self.access_token = secrets.token_urlsafe(24)  # Triton restricts shared-memory registration to it

    def command(self) -> List[str]:
        return [self.python, os.path.join(ROOT, "benchmarks", "_triton_app.py"), "--package", self.package,
                "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port), "--metrics-port",
                str(self.metrics_port), "--cpu-engine", self.cpu_engine, "--access-token", self.access_token]

    def environment(self) -> Dict[str, str]:
        return dict(os.environ, LD_LIBRARY_PATH=_libpython_dir(self.python), PYTHONPATH=ROOT)

    def working_dir(self) -> str:
        return ROOT

    def ready(self) -> bool:
        import requests

        return requests.get("http://127.0.0.1:%d/v2/models/demo/ready" % self.http_port, timeout=1).ok

    @property
    def backend_line(self) -> str:
        found = re.findall(r"triton app: (\S+ \(.*\))", self.log())
        return found[0] if found else ""

    def metrics(self) -> Dict[str, float]:
        import requests

        text = requests.get("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5).text
        out: Dict[str, float] = {}
        for name in ("nv_inference_request_success", "nv_inference_count", "nv_inference_exec_count"):
            match = re.search(r'^%s\{[^}]*model="demo"[^}]*\} (\S+)$' % name, text, re.M)
            out[name] = float(match.group(1)) if match else 0.0
        return out

    def __exit__(self, *exc: object) -> None:
        self.stop()
        for leftover in glob.glob("/dev/shm/triton_bench_*"):  # regions of a client that died
            with contextlib.suppress(OSError):
                os.remove(leftover)
        shutil.rmtree(self.dir, ignore_errors=True)


class TritonTarget:
    """Triton over gRPC, in-band (`grpc`) or with its system shared memory (`shm`), clients in the 3.12 venv."""

    process_tree = True  # the app, tritonserver, pytriton's proxy and the Python backend stub

    def __init__(self, server: TritonProcess, transport: str, frame: np.ndarray, clients: int) -> None:
        self.server, self.transport = server, transport
        self.pid = server.process.pid if server.process else None
        self.frame_path = os.path.join(server.dir, "frame.npy")
        np.save(self.frame_path, frame)
        self.clients = clients
        self.driver: Optional[ClientDriver] = None

    @property
    def description(self) -> Dict[str, Any]:
        return {"kind": "triton", "location": self.server.url, "model": "demo",
                "transport": "grpc" + ("+system-shm" if self.transport == "shm" else ""), "pid": self.pid,
                "backend": self.server.backend_line}

    def open(self) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT, TRITON_ACCESS_TOKEN=self.server.access_token)
        self.driver = ClientDriver([self.server.python, os.path.join(ROOT, "benchmarks", "_triton_client.py"),
                                    "--url", self.server.url, "--frame", self.frame_path, "--transport",
                                    self.transport, "--clients", str(self.clients)], env, ROOT)
        self.driver.start()

    def worker(self) -> Worker:
        return Worker(lambda frame: None, lambda: None)  # the real clients live in the driver process

    def remote_load(self, concurrency: int, duration_s: float) -> Tuple[Load, float]:
        """(the cell's Load, the driver's CPU seconds) for `concurrency` clients over `duration_s`."""
        assert self.driver is not None
        return self.driver.remote_load(concurrency, duration_s)

    def counters(self) -> Counters:
        m = self.server.metrics()
        return Counters(requests=int(m["nv_inference_request_success"]), batches=int(m["nv_inference_exec_count"]),
                        frames=int(m["nv_inference_count"]))

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
