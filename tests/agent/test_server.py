"""The daemon around the API: health service NOT_SERVING until warm, socket group/mode, TLS and mutual
TLS on 127.0.0.1:0 (certificates made here with `cryptography`), metrics over AgentAdmin and HTTP,
config files. `serve()` runs in a thread with a stop event (signals are tested in test_daemon_process)."""

from __future__ import annotations

import datetime
import grp
import json
import os
import stat
import threading
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from edge_runtime.agent import state
from edge_runtime.agent.config import config_from_dict, load_config, with_overrides
from edge_runtime.agent.proto import agent_admin_pb2, agent_admin_pb2_grpc
from edge_runtime.agent.registry import ModelRegistry
from edge_runtime.agent.server import AgentServices, serve
from edge_runtime.errors import InvalidArgument
from tests.agent.conftest import fault_injecting_factory, frame, make_models_root, short_socket_path


def health_status(channel, service=""):
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def wait_for(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in %.0f s" % timeout
        time.sleep(0.02)


def test_health_not_serving_until_autostarted_models_are_warm(tmp_path, tiny_packages, lookout_client):
    pb2, pb2_grpc = lookout_client
    root = make_models_root(str(tmp_path / "models"), tiny_packages)
    socket = short_socket_path(tmp_path)
    group = grp.getgrgid(os.getgid()).gr_name
    config = config_from_dict({
        "server": {"socket": socket, "socket_mode": "0600", "socket_group": group, "metrics_port": 0},
        "models": {"models_root": root},
    })
    state.write_running(config.models.state_path, ["segment", "gone-model"])
    load_gate = threading.Event()
    factory, _ = fault_injecting_factory(load_gate=load_gate)
    registry = ModelRegistry(config.models, config.batching, predictor_factory=factory)
    services = AgentServices(config, registry=registry)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(config, services, stop))
    thread.start()
    try:
        wait_for(lambda: os.path.exists(socket))
        channel = grpc.insecure_channel("unix://" + socket)
        wait_for(lambda: services.addresses and stat.S_IMODE(os.stat(socket).st_mode) == 0o600)
        assert os.stat(socket).st_gid == grp.getgrnam(group).gr_gid
        assert health_status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert health_status(channel, "AWS.LookoutVision.EdgeAgent") == health_pb2.HealthCheckResponse.NOT_SERVING
        stub = pb2_grpc.EdgeAgentStub(channel)
        desc = stub.DescribeModel(pb2.DescribeModelRequest(model_component="segment")).model_description
        assert desc.status == pb2.STARTING, "the API answers while models warm up"
        load_gate.set()
        wait_for(lambda: health_status(channel) == health_pb2.HealthCheckResponse.SERVING)
        desc = stub.DescribeModel(pb2.DescribeModelRequest(model_component="segment")).model_description
        assert desc.status == pb2.RUNNING
        assert state.read_running(config.models.state_path) == ["segment"], "missing models are dropped"
        channel.close()
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and not os.path.exists(socket), "serve() returned and removed its socket"


def _certificates(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def make(name, issuer=None, issuer_key=None, ca=False, san=None):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cert, key, cert.public_bytes(serialization.Encoding.PEM), key_pem

    import ipaddress

    ca, ca_key, ca_pem, _ = make("test-ca", ca=True)
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    _, _, server_pem, server_key = make("localhost", ca.subject, ca_key, san=san)
    _, _, client_pem, client_key = make("line-pc", ca.subject, ca_key)
    files = {}
    for name, data in {"ca.pem": ca_pem, "server.pem": server_pem, "server.key": server_key}.items():
        (tmp_path / name).write_bytes(data)
        files[name] = str(tmp_path / name)
    return files, ca_pem, client_pem, client_key


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mtls"])
def test_tcp_with_tls_and_mutual_tls(start_agent, lookout_client, tmp_path, mutual):
    pb2, pb2_grpc = lookout_client
    files, ca_pem, client_pem, client_key = _certificates(tmp_path)
    server = {"tcp_address": "127.0.0.1:0", "tls_cert": files["server.pem"], "tls_key": files["server.key"]}
    if mutual:
        server["tls_client_ca"] = files["ca.pem"]
    agent = start_agent(server=server)
    tcp = agent.services.addresses[1]
    assert tcp.startswith("127.0.0.1:") and not tcp.endswith(":0")

    def list_models(credentials):
        with grpc.secure_channel(tcp, credentials) as channel:
            stub = pb2_grpc.EdgeAgentStub(channel)
            return [m.model_component for m in stub.ListModels(pb2.ListModelsRequest(), timeout=10).models]

    with_client_cert = grpc.ssl_channel_credentials(ca_pem, private_key=client_key, certificate_chain=client_pem)
    assert list_models(with_client_cert) == ["classify", "segment"]
    server_only = grpc.ssl_channel_credentials(ca_pem)
    if mutual:
        with pytest.raises(grpc.RpcError) as info:
            list_models(server_only)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    else:
        assert list_models(server_only) == ["classify", "segment"]
    with grpc.insecure_channel(tcp) as plain, pytest.raises(grpc.RpcError):
        pb2_grpc.EdgeAgentStub(plain).ListModels(pb2.ListModelsRequest(), timeout=5)


def test_metrics_over_admin_rpc_and_http(start_agent, lookout_client):
    from edge_runtime.agent.metrics_http import MetricsHttpServer

    pb2, _ = lookout_client
    agent = start_agent()
    agent.start_and_wait(pb2, "classify")
    image = frame(64, 64)
    request = pb2.DetectAnomaliesRequest(model_component="classify",
                                         bitmap=pb2.Bitmap(width=64, height=64, byte_data=image.tobytes()))
    for _ in range(3):
        agent.stub.DetectAnomalies(request)
    reply = agent_admin_pb2_grpc.AgentAdminStub(agent.channel).GetMetrics(agent_admin_pb2.GetMetricsRequest())
    data = json.loads(reply.json)
    assert data["models"]["classify"]["requests"] == {"OK": 3}
    assert data["model_status"] == {"classify": "RUNNING"}
    assert data["resident_memory_bytes"] > 10 * 1024 * 1024
    assert "# TYPE edge_agent_inference_time_seconds histogram" in reply.prometheus_text
    assert 'edge_agent_model_up{model="classify",status="RUNNING"} 1' in reply.prometheus_text
    assert data["models"]["classify"]["backend"] == "onnxruntime-cpu"
    assert data["models"]["classify"]["frame_copies"] is None  # the CPU path has no copy counter
    assert 'edge_agent_model_backend_info{model="classify",backend="onnxruntime-cpu"} 1' in reply.prometheus_text
    assert "edge_agent_host_copies_total{" not in reply.prometheus_text
    assert 'edge_agent_request_time_seconds_bucket{model="classify",le="+Inf"} 3' in reply.prometheus_text
    http = MetricsHttpServer(0, lambda: agent.services.metrics.prometheus_text(agent.registry.statuses()))
    port = http.start()
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as response:
            body = response.read().decode()
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert 'edge_agent_requests_total{model="classify",code="OK"} 3' in body
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=5)
    finally:
        http.stop()


def test_config_files_and_validation(tmp_path):
    yaml_file = tmp_path / "agent.yaml"
    yaml_file.write_text("server:\n  socket_mode: '0666'\n  grace_period_s: 3\n"
                         "batching:\n  max_batch_size: 4\nmodels:\n  autostart: false\n"
                         "greengrass:\n  publish_topic: lines/1\n  target: iot_core\n")
    config = with_overrides(load_config(str(yaml_file)), socket="/tmp/x.sock", models_root=str(tmp_path))
    assert config.server.socket_mode == 0o666 and config.server.socket_path == "/tmp/x.sock"
    assert config.batching.max_batch_size == 4 and not config.models.autostart
    assert config.models.state_path == str(tmp_path / ".edge-agent-state.json")
    assert config.greengrass.target == "iot_core"
    json_file = tmp_path / "agent.json"
    json_file.write_text(json.dumps({"server": {"max_workers": 8}}))
    assert load_config(str(json_file)).server.max_workers == 8
    bad = [
        ({"server": {"sockt": "x"}}, "unknown key"),
        ({"serve": {}}, "unknown section"),
        ({"batching": {"max_batch_size": 0}}, "max_batch_size"),
        ({"server": {"tcp_address": "0.0.0.0:1"}}, "tls_cert"),
        ({"server": {"socket_mode": "9"}}, "octal"),
        ({"greengrass": {"target": "cloud"}}, "local or iot_core"),
    ]
    for data, match in bad:
        with pytest.raises(InvalidArgument, match=match):
            config_from_dict(data)


def test_metrics_show_the_gpu_paths_backend_note_and_host_copies(start_agent, lookout_client):
    """The GPU predictor's copy counter and fallback note reach the metrics (here a CPU predictor carrying a
    real CopyCounter stands in for the TensorRT predictor, which cannot run on this machine)."""
    from edge_runtime.runtime.factory import PredictorOptions, create_predictor
    from edge_runtime.runtime.gpu.copy_counter import CopyCounter
    from edge_runtime.runtime.loader import load_package

    counter = CopyCounter()

    def factory(folder, manifest):
        predictor = create_predictor(load_package(folder, manifest), PredictorOptions(max_batch_size=4))
        predictor.copy_counter = counter
        predictor.backend_note = predictor.backend_reason = (
            "TensorRT path unavailable (no CUDA device); using the CPU path")
        return predictor

    pb2, _ = lookout_client
    agent = start_agent(predictor_factory=factory)
    description = agent.start_and_wait(pb2, "classify")
    assert "no CUDA device" in description.status_message
    batch = counter.begin(3)
    batch.add(1, 1000)  # frame 1 staged through pinned memory, frames 0 and 2 read in place
    counter.commit(batch)
    prometheus, data = agent.metrics()
    model = data["models"]["classify"]
    assert model["backend_note"].startswith("TensorRT path unavailable")
    assert model["frame_copies"] == {"frames": 3, "host_copies": 1, "host_copy_bytes": 1000, "zero_copy_frames": 2}
    assert 'edge_agent_host_copies_total{model="classify"} 1' in prometheus
    assert 'edge_agent_zero_copy_frames_total{model="classify"} 2' in prometheus
