"""The daemon as a real process (`python -m edge_runtime agent --config ...`), once on this Python and
once on the device's real Python 3.8 (.venv38: grpcio 1.70, protobuf 5.29, onnxruntime 1.19), driven by
the Lookout client generated from edge-agent.proto: documented flow, SIGTERM drains an in-flight request
within the grace period, and the running models come back after a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from edge_runtime.agent.proto import agent_admin_pb2, agent_admin_pb2_grpc
from tests.agent.conftest import frame, half_red_frame, make_models_root, short_socket_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV38 = os.path.join(ROOT, ".venv38", "bin", "python")


class Daemon:
    def __init__(self, python, config_path, log_path):
        self.log_path = log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 (open for the daemon's lifetime, closed in terminate)
        self.proc = subprocess.Popen([python, "-m", "edge_runtime", "agent", "--config", config_path],
                                     cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def wait_serving(self, address, timeout=60):
        end = time.monotonic() + timeout
        channel = grpc.insecure_channel(address)
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            assert self.proc.poll() is None, "daemon exited:\n" + self.output()
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=2).status == \
                        health_pb2.HealthCheckResponse.SERVING:
                    return channel
            except grpc.RpcError:
                pass
            assert time.monotonic() < end, "daemon never became SERVING:\n" + self.output()
            time.sleep(0.1)

    def terminate(self, timeout=90):  # 30 s was too short under aarch64 emulation on a loaded machine
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()


@pytest.mark.slow
@pytest.mark.parametrize("python", [
    pytest.param(sys.executable, id="host"),
    pytest.param(VENV38, id="py38", marks=pytest.mark.py38),
])
def test_daemon_process_flow_sigterm_drain_and_restart(python, tmp_path, tiny_packages, lookout_client):
    if not os.path.exists(python):
        pytest.skip("no .venv38")
    pb2, pb2_grpc = lookout_client
    socket = short_socket_path(tmp_path)
    address = "unix://" + socket
    config_path = str(tmp_path / "agent.json")
    with open(config_path, "w") as fh:
        json.dump({"server": {"socket": address, "grace_period_s": 10},
                   "batching": {"max_batch_size": 8, "max_wait_ms": 2, "queue_size": 1024},
                   "models": {"models_root": make_models_root(str(tmp_path / "models"), tiny_packages)}}, fh)
    log_path = str(tmp_path / "daemon.log")

    daemon = Daemon(python, config_path, log_path)
    try:
        channel = daemon.wait_serving(address)
        stub = pb2_grpc.EdgeAgentStub(channel)
        assert [m.model_component for m in stub.ListModels(pb2.ListModelsRequest()).models] == ["classify", "segment"]
        assert stub.StartModel(pb2.StartModelRequest(model_component="segment")).status == pb2.STARTING
        end = time.monotonic() + 60
        while True:
            desc = stub.DescribeModel(pb2.DescribeModelRequest(model_component="segment")).model_description
            if desc.status != pb2.STARTING or time.monotonic() > end:
                break
            time.sleep(0.1)
        assert desc.status == pb2.RUNNING, desc
        image = half_red_frame(128, 96)
        request = pb2.DetectAnomaliesRequest(
            model_component="segment", bitmap=pb2.Bitmap(width=128, height=96, byte_data=image.tobytes()))
        result = stub.DetectAnomalies(request).detect_anomaly_result
        assert result.is_anomalous and [a.name for a in result.anomalies] == ["background", "scratch"]

        # SIGTERM while requests are in the agent (queued or running): every one must still be answered.
        # A lone request runs at once on a free worker, so keep the agent busy with a stream of large frames.
        admin = agent_admin_pb2_grpc.AgentAdminStub(channel)
        big = half_red_frame(1280, 960)
        busy = pb2.DetectAnomaliesRequest(
            model_component="segment", bitmap=pb2.Bitmap(width=1280, height=960, byte_data=big.tobytes()))
        in_flight = []
        end = time.monotonic() + 20
        while True:
            in_flight += [stub.DetectAnomalies.future(busy) for _ in range(8)]
            if json.loads(admin.GetMetrics(agent_admin_pb2.GetMetricsRequest()).json)["models"]["segment"][
                    "in_flight"] >= 1:
                break
            assert time.monotonic() < end, "no request was ever seen in flight"
        assert daemon.terminate() == 0, daemon.output()
        answers = [f.result(timeout=20).detect_anomaly_result for f in in_flight]
        assert all(a.is_anomalous for a in answers), "every request sent before SIGTERM was drained"
        assert not os.path.exists(socket)
        channel.close()
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()

    daemon = Daemon(python, config_path, log_path)  # restart: segment comes back RUNNING by itself
    try:
        channel = daemon.wait_serving(address)
        stub = pb2_grpc.EdgeAgentStub(channel)
        desc = stub.DescribeModel(pb2.DescribeModelRequest(model_component="segment")).model_description
        assert desc.status == pb2.RUNNING and desc.status_message == "RUNNING on onnxruntime-cpu"
        assert stub.DescribeModel(pb2.DescribeModelRequest(model_component="classify")).model_description.status \
            == pb2.STOPPED
        black = pb2.DetectAnomaliesRequest(model_component="segment", bitmap=pb2.Bitmap(
            width=64, height=64, byte_data=frame().tobytes()))
        assert not stub.DetectAnomalies(black).detect_anomaly_result.is_anomalous
        channel.close()
        assert daemon.terminate() == 0
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    if python == VENV38:
        assert "3.8" in subprocess.run([python, "--version"], capture_output=True, text=True).stdout
