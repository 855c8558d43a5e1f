"""Greengrass IPC. No nucleus can run here, so these tests pass a FAKE IPC client (recording the
GreengrassCoreIPCClientV2 calls the agent makes) and a fake namespace for awsiot's model types; the
agent, its models and its socket are real."""

from __future__ import annotations

import sys
import threading
import time
from types import SimpleNamespace

import grpc

from edge_runtime.agent.config import GreengrassConfig, config_from_dict
from edge_runtime.agent.greengrass import GreengrassIpc, nucleus_present
from edge_runtime.agent.registry import ModelRegistry
from edge_runtime.agent.server import AgentServices, serve
from edge_runtime.runtime.postprocess import AnomalyArea, DetectionResult
from tests.agent.conftest import frame, make_models_root, short_socket_path


class Message:
    def __init__(self, **fields):
        self.__dict__.update(fields)


FAKE_MODEL = SimpleNamespace(
    ReportedLifecycleState=SimpleNamespace(RUNNING="RUNNING"),
    QOS=SimpleNamespace(AT_LEAST_ONCE="1"),
    PublishMessage=Message,
    JsonMessage=Message,
)


class FakeIpcClient:
    """Records calls like GreengrassCoreIPCClientV2 would receive them."""

    def __init__(self):
        self.calls = []
        self.published = threading.Event()

    def update_state(self, *, state):
        self.calls.append(("update_state", state))

    def publish_to_topic(self, *, topic, publish_message):
        self.calls.append(("publish_to_topic", topic, publish_message.json_message.message))
        self.published.set()

    def publish_to_iot_core(self, *, topic_name, qos, payload):
        self.calls.append(("publish_to_iot_core", topic_name, qos, payload))
        self.published.set()

    def close(self):
        self.calls.append(("close",))


def result(anomalous):
    areas = (AnomalyArea("background", 0.9, "#FFFFFF"), AnomalyArea("scratch", 0.1, "#23A436"))
    return DetectionResult(anomalous, 0.9, 0.9 if anomalous else 0.1, 0.5, areas if anomalous else ())


def test_nucleus_detection_and_no_ipc_without_it(monkeypatch, caplog):
    assert not nucleus_present({})
    assert not nucleus_present({"SVCUID": "x"})
    assert nucleus_present({"SVCUID": "x", "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": "/s"})
    monkeypatch.delenv("SVCUID", raising=False)
    assert GreengrassIpc.from_environment(GreengrassConfig()) is None
    monkeypatch.setenv("SVCUID", "x")
    monkeypatch.setenv("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", "/nonexistent/ipc.socket")
    monkeypatch.setitem(sys.modules, "awsiot", None)  # the SDK is absent: warn and run without IPC
    assert GreengrassIpc.from_environment(GreengrassConfig()) is None
    assert "awsiotsdk is not installed" in caplog.text


def test_publish_anomalies_only_to_iot_core():
    client = FakeIpcClient()
    ipc = GreengrassIpc(client, FAKE_MODEL, GreengrassConfig("factory/line1", anomalies_only=True, target="iot_core"))
    ipc.start()
    ipc.on_result("segment", result(False))
    ipc.on_result("segment", result(True))
    assert client.published.wait(5)
    ipc.close()
    published = [c for c in client.calls if c[0] == "publish_to_iot_core"]
    assert len(published) == 1, "the normal result was filtered out"
    _, topic, qos, payload = published[0]
    assert topic == "factory/line1" and qos == "1"
    assert b'"is_anomalous": true' in payload and b'"scratch"' in payload
    assert client.calls[-1] == ("close",)


def test_serve_reports_running_after_warm_up_and_publishes_results(tmp_path, tiny_packages, lookout_client):
    from edge_runtime.agent import state

    pb2, pb2_grpc = lookout_client
    socket = short_socket_path(tmp_path)
    config = config_from_dict({
        "server": {"socket": socket},
        "models": {"models_root": make_models_root(str(tmp_path / "models"), tiny_packages)},
        "greengrass": {"publish_topic": "lookout/results"},
    })
    state.write_running(config.models.state_path, ["classify"])
    client = FakeIpcClient()
    ipc = GreengrassIpc(client, FAKE_MODEL, config.greengrass)
    registry = ModelRegistry(config.models, config.batching)
    services = AgentServices(config, registry=registry, ipc=ipc)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(config, services, stop))
    thread.start()
    try:
        end = time.monotonic() + 30
        while ("update_state", "RUNNING") not in client.calls:
            assert time.monotonic() < end, client.calls
            time.sleep(0.02)
        assert registry.describe("classify").status == "RUNNING", "RUNNING is reported after warm-up"
        with grpc.insecure_channel("unix://" + socket) as channel:
            stub = pb2_grpc.EdgeAgentStub(channel)
            request = pb2.DetectAnomaliesRequest(model_component="classify", bitmap=pb2.Bitmap(
                width=64, height=64, byte_data=frame(64, 64, (255, 0, 0)).tobytes()))
            assert stub.DetectAnomalies(request).detect_anomaly_result.is_anomalous
        assert client.published.wait(5)
        topic_calls = [c for c in client.calls if c[0] == "publish_to_topic"]
        assert topic_calls[0][1] == "lookout/results"
        assert topic_calls[0][2]["model_component"] == "classify" and topic_calls[0][2]["is_anomalous"] is True
    finally:
        stop.set()
        thread.join(30)
    assert client.calls[-1] == ("close",)
