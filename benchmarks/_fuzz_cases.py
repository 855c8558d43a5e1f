"""Fault cases for the agent's fuzz and soak runs: each is a raw request and the codes it may get.

A case sends bytes (a valid message, a mutated one, or garbage) to one EdgeAgent RPC over the raw
channel. "Wrong" is a code outside the documented table for that RPC (plus PERMISSION_DENIED for shared
memory, issue 13), and UNKNOWN or INTERNAL for anything a client sent: those mean a bug was reached.
Shared-memory cases use real /dev/shm entries: missing names, a directory, a socket, a FIFO, a symbolic
link to a root-only file, out-of-range offsets, padded rows, and a segment another thread keeps
truncating and regrowing while requests name it.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional

import numpy as np

from edge_runtime.agent.proto import edge_agent_pb2 as _pb2
from edge_runtime.shm import SharedMemorySegment, shm_path

pb2: Any = _pb2
SEGMENTATION_MODEL = "tiny-seg"
RPCS = ("DetectAnomalies", "StartModel", "StopModel", "ListModels", "DescribeModel")
DOCUMENTED = {  # EDGE_AGENT_API.md's table, minus UNKNOWN and INTERNAL (bugs, when a client caused them)
    "DetectAnomalies": {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                        "PERMISSION_DENIED", "DEADLINE_EXCEEDED"},
    "StartModel": {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION"},
    "StopModel": {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION"},
    "ListModels": {"OK", "INVALID_ARGUMENT"},
    "DescribeModel": {"OK", "INVALID_ARGUMENT", "NOT_FOUND"},
}


@dataclass(frozen=True)
class Case:
    kind: str
    rpc: str
    payload: bytes
    allowed: FrozenSet[str]


class ShmZoo:
    """Real /dev/shm entries the cases name; `close()` removes them all."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.names: Dict[str, str] = {k: "/edge-fuzz-%s-%s" % (tag, k) for k in
                                      ("frame", "padded", "shrinking", "dir", "sock", "fifo", "link", "missing")}
        self.frame = SharedMemorySegment.create(self.names["frame"], 64 * 64 * 3 * 2)
        self.frame.write(0, np.random.default_rng(0).integers(0, 255, 64 * 64 * 3 * 2, dtype=np.uint8))
        self.padded = SharedMemorySegment.create(self.names["padded"], 196 * 64)  # 65 px RGB rows padded to 196
        self.padded.write(0, b"\x80" * (196 * 64))
        os.mkdir(shm_path(self.names["dir"]))
        self._sock = socket.socket(socket.AF_UNIX)
        self._sock.bind(shm_path(self.names["sock"]))
        os.mkfifo(shm_path(self.names["fifo"]))
        self._target = os.path.join("/tmp", ".edge-fuzz-%s-root-only" % tag)
        with open(self._target, "wb") as fh:
            fh.write(b"\x07" * 64 * 64 * 3)
        os.chmod(self._target, 0o600)
        os.symlink(self._target, shm_path(self.names["link"]))
        self.shrinking = SharedMemorySegment.create(self.names["shrinking"], 64 * 64 * 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._shrink_and_grow, daemon=True)
        self._thread.start()

    def _shrink_and_grow(self) -> None:
        path = shm_path(self.names["shrinking"])
        sizes = [0, 100, 64 * 64 * 3, 64 * 64 * 3 - 1, 1 << 20]
        while not self._stop.wait(0.0005):
            with contextlib.suppress(OSError):
                os.truncate(path, random.choice(sizes))

    def target_intact(self) -> bool:
        with open(self._target, "rb") as fh:
            return fh.read() == b"\x07" * 64 * 64 * 3

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for seg in (self.frame, self.padded, self.shrinking):
            seg.close()
        self._sock.close()
        for key, name in self.names.items():
            path = shm_path(name)
            if key == "dir" and os.path.isdir(path):
                os.rmdir(path)
            elif os.path.lexists(path):
                os.unlink(path)
        os.unlink(self._target)


def good_request(model: str, rng: random.Random) -> bytes:
    color = rng.randrange(256)
    data = bytes([color]) * (64 * 64 * 3)
    return pb2.DetectAnomaliesRequest(model_component=model, bitmap=pb2.Bitmap(
        width=64, height=64, byte_data=data)).SerializeToString()


def _detect(model: str, **bitmap: Any) -> Any:
    return pb2.DetectAnomaliesRequest(model_component=model, bitmap=pb2.Bitmap(**bitmap))


def _shm_case(rng: random.Random, zoo: ShmZoo, model: str) -> Case:
    key = rng.choice(list(zoo.names))
    w = h = 64
    size = rng.choice([w * h * 3, w * h * 3 + 1, 0, 196 * 64, rng.randrange(1 << 20)])
    offset = rng.choice([0, 1, w * h * 3, rng.randrange(1 << 40), (1 << 64) - 1])
    if key == "padded":
        w, size, offset = 65, 196 * 64, 0
    handle = pb2.SharedMemoryHandle(name=zoo.names[key], size=size, offset=offset)
    request = _detect(model, width=w, height=h, shared_memory_handle=handle)
    if rng.random() < 0.4:  # a mask target: written by the segmentation model
        request.model_component = SEGMENTATION_MODEL
        mask = rng.choice(list(zoo.names))
        request.anomaly_mask_params.shared_memory_handle.CopyFrom(
            pb2.SharedMemoryHandle(name=zoo.names[mask], size=w * h * 3, offset=rng.choice([0, 10, 1 << 30])))
    return Case("shm-" + key, "DetectAnomalies", request.SerializeToString(), frozenset(DOCUMENTED["DetectAnomalies"]))


def _bitmap_case(rng: random.Random, model: str) -> Case:
    w = rng.choice([0, -1, 1, 63, 64, 65, 250, 4096, 4097, 2 ** 31 - 1, -2 ** 31])
    h = rng.choice([0, -5, 64, 200, 4097, 2 ** 31 - 1])
    stride = ((max(w, 0) * 3 + 3) & ~3) if rng.random() < 0.3 else max(w, 0) * 3
    length = rng.choice([max(0, h) * stride if 0 <= h * stride < (1 << 22) else 10, 0, rng.randrange(1 << 16)])
    request = _detect(model, width=w, height=h, byte_data=os.urandom(length))
    return Case("bitmap", "DetectAnomalies", request.SerializeToString(), frozenset(DOCUMENTED["DetectAnomalies"]))


def _name_case(rng: random.Random) -> Case:
    rpc = rng.choice(["StartModel", "StopModel", "DescribeModel", "DetectAnomalies"])
    name = rng.choice(["", "../../etc", "a/b", "x" * 129, "\u00e9\u00e8", "nope", "a\x00b", "." * 3])
    message = getattr(pb2, rpc + "Request")(model_component=name)
    return Case("name", rpc, message.SerializeToString(), frozenset(DOCUMENTED[rpc]))


def _garbage_case(rng: random.Random, valid: Optional[bytes]) -> Case:
    rpc = rng.choice(RPCS)
    if valid and rng.random() < 0.5:  # a valid DetectAnomalies with bytes flipped or cut (sent where it
        rpc = "DetectAnomalies"       # belongs: as a StopModel request it could name the model and stop it)
        data = bytearray(valid)
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        payload = bytes(data[: rng.randrange(len(data) + 1)]) if rng.random() < 0.3 else bytes(data)
    else:
        payload = os.urandom(rng.choice([1, 2, 3, 7, 64, 1000]))
    return Case("garbage", rpc, payload, frozenset(DOCUMENTED[rpc]))


def random_case(rng: random.Random, zoo: ShmZoo, model: str) -> Case:
    pick = rng.random()
    if pick < 0.35:
        return _shm_case(rng, zoo, model)
    if pick < 0.6:
        return _bitmap_case(rng, model)
    if pick < 0.75:
        return _name_case(rng)
    return _garbage_case(rng, good_request(model, rng))


def call(channel: Any, rpc: str, payload: bytes, timeout: float) -> str:
    """The status code name a raw call got (OK on success)."""
    import grpc

    method = channel.unary_unary("/AWS.LookoutVision.EdgeAgent/%s" % rpc)
    try:
        method(payload, timeout=timeout)
        return "OK"
    except grpc.RpcError as exc:
        return exc.code().name


def rss_mb(pid: int) -> float:
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def summary_line(counts: Dict[str, int], wrong: List[str]) -> str:
    return "codes %s; wrong %d%s" % (dict(sorted(counts.items())), len(wrong),
                                     (" e.g. " + "; ".join(wrong[:5])) if wrong else "")
