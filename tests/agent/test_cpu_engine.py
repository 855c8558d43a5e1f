"""The real agent serving a compiled X86_64 build: DescribeModel and the metrics name the engine that
serves it (OpenVINO where installed, else ONNX Runtime with the reason), and the answers equal the
ONNX model's. Skips where the build cannot be made here (no compile extras, not x86-64)."""

from __future__ import annotations

import pytest

from edge_runtime.runtime.build.cpu_features import detect_host_cpu
from edge_runtime.runtime.build.cpu_models import X86_64
from edge_runtime.runtime.openvino_engine import openvino_version
from tests.agent.conftest import half_red_frame

pytestmark = pytest.mark.skipif(detect_host_cpu().arch != X86_64, reason="the build targets X86_64")


@pytest.fixture(scope="module")
def compiled_classify(tiny_packages, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from edge_runtime.compiler.compile import compile_package
    from edge_runtime.compiler.targets import validate_target

    out = str(tmp_path_factory.mktemp("compiled") / "classify")
    target = validate_target(None, {"Os": "LINUX", "Arch": "X86_64"}, None)
    compile_package(tiny_packages["classify"], target, out, progress=lambda _: None)
    return out


def detect(agent, pb2, name):
    image = half_red_frame(128, 96)
    request = pb2.DetectAnomaliesRequest(model_component=name,
                                         bitmap=pb2.Bitmap(width=128, height=96, byte_data=image.tobytes()))
    return agent.stub.DetectAnomalies(request).detect_anomaly_result


@pytest.mark.parametrize("cpu_engine", ["auto", "onnxruntime"])
def test_describe_model_and_metrics_name_the_engine(start_agent, lookout_client, tiny_packages, compiled_classify,
                                                    cpu_engine):
    pb2, _ = lookout_client
    agent = start_agent(packages={"plain": tiny_packages["classify"], "built": compiled_classify},
                        models={"cpu_engine": cpu_engine})
    for name in ("plain", "built"):
        agent.start_and_wait(pb2, name)
    plain = agent.stub.DescribeModel(pb2.DescribeModelRequest(model_component="plain")).model_description
    built = agent.stub.DescribeModel(pb2.DescribeModelRequest(model_component="built")).model_description
    version = openvino_version()
    if cpu_engine == "auto" and version is not None:
        assert built.status_message.startswith("RUNNING on openvino-cpu (openvino %s, f32, latency hint" % version)
        backend = "openvino-cpu"
    elif cpu_engine == "auto":
        assert built.status_message.startswith("RUNNING on onnxruntime-cpu (OpenVINO not used: the build has no "
                                               "OpenVINO model"), built.status_message
        backend = "onnxruntime-cpu"
    else:
        assert built.status_message == "RUNNING on onnxruntime-cpu (OpenVINO not used: models.cpu_engine is " \
                                       "onnxruntime)"
        backend = "onnxruntime-cpu"
    if cpu_engine == "auto":
        assert plain.status_message == "RUNNING on onnxruntime-cpu"
    _, data = agent.metrics()
    assert data["models"]["built"]["backend"] == backend
    assert data["models"]["built"]["backend_note"] in built.status_message
    a, b = detect(agent, pb2, "plain"), detect(agent, pb2, "built")
    assert a.is_anomalous == b.is_anomalous
    assert abs(a.anomaly_score - b.anomaly_score) <= 1e-4
