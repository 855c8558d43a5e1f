"""Issue 13 on a real agent and a real Unix socket: a client truncating its segment, another user's
segments and links (a real second user, uid 65534, via setpriv when the tests run as root), a second
agent on a live socket, undecodable requests and odd shm names, and GStreamer's padded rows."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import grpc
import numpy as np
import pytest

from edge_runtime.shm import SharedMemorySegment, shm_path
from tests.agent.conftest import frame, half_red_frame, make_models_root
from tests.agent.test_daemon_process import ROOT, Daemon

C = grpc.StatusCode
NOBODY = 65534


def _shm_name() -> str:
    return "/edge-harden-%s" % uuid.uuid4().hex[:10]


@pytest.fixture
def names():
    made = []

    def make():
        made.append(_shm_name())
        return made[-1]

    yield make
    for name in made:
        if os.path.lexists(shm_path(name)):
            os.unlink(shm_path(name))


def open_socket_dir() -> str:
    """A short socket folder other users may traverse (pytest's tmp folders are 0700)."""
    folder = tempfile.mkdtemp(prefix="ea-")
    os.chmod(folder, 0o755)
    return folder


def shm_request(pb2, model, name, w, h, size=None, offset=0):
    handle = pb2.SharedMemoryHandle(name=name, size=w * h * 3 if size is None else size, offset=offset)
    return pb2.DetectAnomaliesRequest(model_component=model,
                                      bitmap=pb2.Bitmap(width=w, height=h, shared_memory_handle=handle))


def code_of(call, *args):
    try:
        call(*args)
        return "OK"
    except grpc.RpcError as exc:
        return exc.code().name


# ---- item 1: truncation while a request is in flight -----------------------------------------------------
@pytest.mark.slow
def test_truncating_the_segment_in_flight_does_not_kill_the_agent(tmp_path, tiny_packages, lookout_client, names):
    """Six 4096x4096 shared-memory requests queue behind one another (batches of 1); the client shrinks
    every segment to 0 bytes 20 ms after sending. Before: a queued zero-copy view was read after the
    truncation and the agent died of SIGBUS, with no log line."""
    pb2, pb2_grpc = lookout_client
    sock = os.path.join(open_socket_dir(), "agent.sock")
    config_path = str(tmp_path / "agent.json")
    with open(config_path, "w") as fh:
        json.dump({"server": {"socket": "unix://" + sock}, "batching": {"max_batch_size": 1},
                   "models": {"models_root": make_models_root(str(tmp_path / "models"), tiny_packages)}}, fh)
    daemon = Daemon(sys.executable, config_path, str(tmp_path / "daemon.log"))
    try:
        stub = pb2_grpc.EdgeAgentStub(daemon.wait_serving("unix://" + sock))
        stub.StartModel(pb2.StartModelRequest(model_component="classify"))
        while stub.DescribeModel(pb2.DescribeModelRequest(model_component="classify")).model_description.status \
                != pb2.RUNNING:
            time.sleep(0.05)
        w = h = 4096
        segment_names = [names() for _ in range(6)]
        codes = []
        for attempt in range(4):
            segs = [SharedMemorySegment.create(name, w * h * 3) for name in segment_names]
            for seg in segs:
                seg.write(0, np.full((h, w, 3), 255 * (attempt % 2), np.uint8))
            futures = [stub.DetectAnomalies.future(shm_request(pb2, "classify", name, w, h)) for name in segment_names]
            time.sleep(0.02)
            for name in segment_names:
                os.truncate(shm_path(name), 0)
            codes += [code_of(future.result) for future in futures]
            assert daemon.proc.poll() is None, "agent died (rc %s):\n%s" % (daemon.proc.returncode, daemon.output())
            # truncated before the call: refused, and the next good request is answered
            assert code_of(stub.DetectAnomalies, shm_request(pb2, "classify", segment_names[0], w, h)) \
                == "INVALID_ARGUMENT"
            good = pb2.DetectAnomaliesRequest(model_component="classify", bitmap=pb2.Bitmap(
                width=64, height=64, byte_data=frame(64, 64, (255, 0, 0)).tobytes()))
            assert stub.DetectAnomalies(good).detect_anomaly_result.is_anomalous
            for seg in segs:
                seg.close()
                seg.unlink()
        assert set(codes) <= {"OK", "INVALID_ARGUMENT"}, codes
    finally:
        assert daemon.terminate() == 0, daemon.output()


# ---- item 2: the caller's rights, not the agent's ---------------------------------------------------------
CALLER_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import grpc
from edge_runtime.agent.proto import edge_agent_pb2 as pb2, edge_agent_pb2_grpc as pb2_grpc
stub = pb2_grpc.EdgeAgentStub(grpc.insecure_channel("unix://" + sys.argv[2]))
out = []
for case in json.loads(sys.argv[3]):
    request = pb2.DetectAnomaliesRequest(model_component=case["model"], bitmap=pb2.Bitmap(
        width=64, height=64, shared_memory_handle=pb2.SharedMemoryHandle(name=case["frame"], size=64 * 64 * 3)))
    if case.get("mask"):
        request.anomaly_mask_params.shared_memory_handle.CopyFrom(
            pb2.SharedMemoryHandle(name=case["mask"], size=64 * 64 * 3))
    try:
        stub.DetectAnomalies(request, timeout=30)
        out.append(["OK", ""])
    except grpc.RpcError as exc:
        out.append([exc.code().name, exc.details()])
print(json.dumps(out))
"""


def run_as_nobody(sock: str, cases) -> list:
    command = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
               sys.executable, "-c", CALLER_SCRIPT, ROOT, sock, json.dumps(cases)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def root_segment(name: str, mode: int, color) -> SharedMemorySegment:
    seg = SharedMemorySegment.create(name, 64 * 64 * 3, mode=mode)
    os.chmod(shm_path(name), mode)  # create() is subject to the umask
    seg.write(0, frame(64, 64, color))
    return seg


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"),
                    reason="needs root and setpriv to act as a second user (uid 65534)")
def test_another_user_cannot_read_write_or_link_through_the_agent(start_agent, lookout_client, names, tmp_path):
    pb2, _ = lookout_client
    sock = os.path.join(open_socket_dir(), "agent.sock")
    agent = start_agent(server={"socket": "unix://" + sock, "socket_mode": 0o666})
    agent.start_and_wait(pb2, "classify")
    agent.start_and_wait(pb2, "segment")
    secret, mask, own, link = names(), names(), names(), names()
    secret_seg = root_segment(secret, 0o600, (255, 0, 0))
    mask_seg = root_segment(mask, 0o600, (1, 2, 3))
    own_seg = root_segment(own, 0o600, (255, 0, 0))
    os.chown(shm_path(own), NOBODY, NOBODY)
    target = tmp_path / "root-only.bin"
    target.write_bytes(b"\x07" * (64 * 64 * 3))
    os.chmod(str(target), 0o600)
    os.symlink(str(target), shm_path(link))
    try:
        results = run_as_nobody(sock, [
            {"model": "classify", "frame": secret},
            {"model": "segment", "frame": own, "mask": mask},
            {"model": "segment", "frame": own, "mask": link},
            {"model": "classify", "frame": link},
            {"model": "segment", "frame": own, "mask": own},
        ])
        assert [r[0] for r in results] == ["PERMISSION_DENIED", "PERMISSION_DENIED", "INVALID_ARGUMENT",
                                           "INVALID_ARGUMENT", "OK"], results
        assert "uid 65534 may not read" in results[0][1] and "symbolic link" in results[2][1]
        assert mask_seg.read(0, 3) == b"\x01\x02\x03", "the root-only mask segment was written"
        assert target.read_bytes() == b"\x07" * (64 * 64 * 3), "a file behind a link was written"
        assert own_seg.read(0, 3) != bytes((255, 0, 0)), "the caller's own mask segment was not written"
        # root (the agent's own user) is still served from the same segments
        root_result = agent.stub.DetectAnomalies(shm_request(pb2, "classify", secret, 64, 64))
        assert root_result.detect_anomaly_result.is_anomalous
    finally:
        for seg in (secret_seg, mask_seg, own_seg):
            seg.close()


# ---- item 4: one agent per socket ------------------------------------------------------------------------
def test_second_agent_is_refused_and_the_live_socket_survives(start_agent, lookout_client):
    pb2, _ = lookout_client
    sock = os.path.join(open_socket_dir(), "agent.sock")
    first = start_agent(server={"socket": "unix://" + sock})
    inode = os.stat(sock).st_ino
    with pytest.raises(Exception, match=r"another agent \(pid %d\) is serving on" % os.getpid()):
        start_agent(server={"socket": "unix://" + sock})
    assert os.stat(sock).st_ino == inode, "the live socket was replaced"
    assert len(first.stub.ListModels(pb2.ListModelsRequest()).models) >= 2
    first.close()
    assert not os.path.exists(sock), "the socket outlived its agent"


def test_stale_socket_is_replaced_and_a_foreign_listener_is_refused(start_agent, lookout_client):
    pb2, _ = lookout_client
    sock = os.path.join(open_socket_dir(), "agent.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(sock)
    stale.close()  # a socket file nobody answers on: what a killed agent leaves
    agent = start_agent(server={"socket": "unix://" + sock})
    assert agent.stub.ListModels(pb2.ListModelsRequest()).models
    agent.close()
    foreign = socket.socket(socket.AF_UNIX)
    foreign.bind(sock)
    foreign.listen(1)
    try:
        with pytest.raises(Exception, match="something answers on"):
            start_agent(server={"socket": "unix://" + sock})
        assert os.path.exists(sock)
    finally:
        foreign.close()


# ---- item 8: codes and one log line -----------------------------------------------------------------------
def test_bad_shm_names_and_undecodable_requests_get_their_codes_without_tracebacks(
        start_agent, lookout_client, names, caplog):
    pb2, _ = lookout_client
    agent = start_agent()
    agent.start_and_wait(pb2, "classify")
    folder, sock_name = names(), names()
    os.mkdir(shm_path(folder))
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(shm_path(sock_name))
    fifo = names()
    os.mkfifo(shm_path(fifo))
    caplog.set_level(logging.INFO)
    try:
        for name in (folder, sock_name, fifo):
            with pytest.raises(grpc.RpcError) as info:
                agent.stub.DetectAnomalies(shm_request(pb2, "classify", name, 64, 64), timeout=10)
            assert info.value.code() == C.INVALID_ARGUMENT and "not a regular file" in info.value.details()
        raw = agent.channel.unary_unary("/AWS.LookoutVision.EdgeAgent/DetectAnomalies")
        for garbage in (b"\xff\xff\xff", b"\x12\x05abc", b"\x0a\x80"):
            with pytest.raises(grpc.RpcError) as info:
                raw(garbage, timeout=10)
            assert info.value.code() == C.INVALID_ARGUMENT, info.value.details()
            assert "not a valid DetectAnomaliesRequest" in info.value.details()
        good = pb2.DetectAnomaliesRequest(model_component="classify", bitmap=pb2.Bitmap(
            width=64, height=64, byte_data=frame(64, 64, (255, 0, 0)).tobytes()))
        assert agent.stub.DetectAnomalies(good).detect_anomaly_result.is_anomalous
    finally:
        listener.close()
        os.rmdir(shm_path(folder))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text
    assert len([r for r in caplog.records if "undecodable request" in r.getMessage()]) == 3


# ---- compatibility: GStreamer's 4-byte-aligned rows --------------------------------------------------------
def test_gstreamer_padded_rows_inline_and_shared_memory(start_agent, lookout_client, names):
    pb2, _ = lookout_client
    agent = start_agent()
    agent.start_and_wait(pb2, "segment")
    w, h = 250, 200
    image = half_red_frame(w, h)
    stride = 752
    padded = np.full((h, stride), 77, np.uint8)
    padded[:, : w * 3] = image.reshape(h, w * 3)
    assert padded.nbytes == 150_400

    def detect(**bitmap):
        request = pb2.DetectAnomaliesRequest(model_component="segment", bitmap=pb2.Bitmap(width=w, height=h, **bitmap))
        return agent.stub.DetectAnomalies(request).detect_anomaly_result

    packed = detect(byte_data=image.tobytes())
    inline = detect(byte_data=padded.tobytes())
    name = names()
    seg = SharedMemorySegment.create(name, 16 + padded.nbytes)
    try:
        seg.write(16, padded)
        shared = detect(shared_memory_handle=pb2.SharedMemoryHandle(name=name, size=padded.nbytes, offset=16))
    finally:
        seg.close()
    for result in (inline, shared):
        assert result.anomaly_score == pytest.approx(packed.anomaly_score, abs=1e-6)
        assert result.anomaly_mask.byte_data == packed.anomaly_mask.byte_data
    with pytest.raises(grpc.RpcError) as info:
        detect(byte_data=padded.tobytes() + b"\0")
    assert info.value.code() == C.INVALID_ARGUMENT
    assert info.value.details() == ("bitmap.byte_data has 150401 bytes, expected width*height*3 = "
                                    "250*200*3 = 150000 (packed RGB888)")


def test_connections_past_the_limit_are_closed_and_the_agent_keeps_serving(start_agent, lookout_client):
    pb2, _ = lookout_client
    sock = os.path.join(open_socket_dir(), "agent.sock")
    agent = start_agent(server={"socket": "unix://" + sock, "max_connections": 3})
    assert agent.stub.ListModels(pb2.ListModelsRequest()).models  # the agent's own channel: 1 of 3
    held = []
    for _ in range(2):
        conn = socket.socket(socket.AF_UNIX)
        conn.connect(sock)
        held.append(conn)
    time.sleep(0.3)
    extra = socket.socket(socket.AF_UNIX)
    extra.connect(sock)
    extra.settimeout(5)
    assert extra.recv(1) == b"", "a connection past server.max_connections was relayed"
    extra.close()
    for conn in held:
        conn.close()
    time.sleep(0.3)
    assert agent.stub.ListModels(pb2.ListModelsRequest()).models
