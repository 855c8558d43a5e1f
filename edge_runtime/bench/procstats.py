"""CPU, resident memory and GPU use of the serving process while a benchmark level runs.

The agent's PID comes from the Unix socket itself: SO_PEERCRED on a connected socket names the
process that is listening, so no PID file or `ps` guessing is needed. A background thread samples
RSS (psutil) and, where `nvidia-smi` exists, GPU utilisation and memory, twice a second.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional

SAMPLE_INTERVAL_S = 0.5


def peer_pid(target: str) -> Optional[int]:
    """PID of the process listening on a `unix://` target (Linux SO_PEERCRED); None when unknown."""
    path = target[len("unix://"):] if target.startswith("unix://") else target
    if target.startswith("unix:") and not target.startswith("unix://"):
        path = target[len("unix:"):]
    if not hasattr(socket, "SO_PEERCRED") or not path.startswith("/"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(2.0)
        sock.connect(path)
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid = struct.unpack("3i", raw)[0]
        return pid or None
    except OSError:
        return None
    finally:
        sock.close()


def _gpu_query() -> Optional[List[float]]:
    """[utilisation %, memory used MiB] of GPU 0, or None without nvidia-smi."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits", "-i", "0"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout
        util, mem = out.strip().splitlines()[0].split(",")
        return [float(util), float(mem)]
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


class ProcessSampler:
    """start() ... stop() -> {"cpu_percent", "rss_mb_max", "rss_mb_mean", "gpu"} for one PID.

    `children=True` adds the process's descendants (servers that fork workers, like LitServe); CPU
    then counts the descendants alive at both ends of the run.
    """

    def __init__(self, pid: Optional[int], gpu: Optional[bool] = None, children: bool = False) -> None:
        self.pid = pid
        self.children = children
        self._cpu_start: Dict[int, float] = {}
        self.gpu = shutil.which("nvidia-smi") is not None if gpu is None else gpu
        self._process: Any = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._rss: List[float] = []
        self._gpu: List[List[float]] = []
        self._t0 = 0.0

    def start(self) -> None:
        if self.pid:
            try:
                import psutil

                self._process = psutil.Process(self.pid)
                self._cpu_start = self._cpu_by_pid()
            except Exception:  # psutil missing, process gone or not ours to inspect: go without
                self._process = None
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._sample, name="bench-sampler", daemon=True)
        self._thread.start()

    def _tree(self) -> List[Any]:
        return [self._process] + (self._process.children(recursive=True) if self.children else [])

    def _cpu_by_pid(self) -> Dict[int, float]:
        out = {}
        for proc in self._tree():
            with contextlib.suppress(Exception):
                times = proc.cpu_times()
                out[proc.pid] = float(times.user + times.system)
        return out

    def _sample(self) -> None:
        while True:
            if self._process is not None:
                try:
                    self._rss.append(sum(p.memory_info().rss for p in self._tree()) / 1e6)
                except Exception:
                    self._process = None
            if self.gpu:
                reading = _gpu_query()
                if reading is not None:
                    self._gpu.append(reading)
            if self._stop.wait(SAMPLE_INTERVAL_S):
                return

    def stop(self) -> Dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        wall = max(time.monotonic() - self._t0, 1e-9)
        out: Dict[str, Any] = {"cpu_percent": None, "rss_mb_max": None, "rss_mb_mean": None, "gpu": None}
        if self._process is not None:
            with contextlib.suppress(Exception):
                end = self._cpu_by_pid()
                used = sum(end[pid] - start for pid, start in self._cpu_start.items() if pid in end)
                out["cpu_percent"] = round(100.0 * used / wall, 1)
        if self._rss:
            out["rss_mb_max"] = round(max(self._rss), 1)
            out["rss_mb_mean"] = round(sum(self._rss) / len(self._rss), 1)
        if self._gpu:
            out["gpu"] = {"util_percent_mean": round(sum(g[0] for g in self._gpu) / len(self._gpu), 1),
                          "memory_mb_max": max(g[1] for g in self._gpu)}
        return out
