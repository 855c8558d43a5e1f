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


# Starting loads ONNX Runtime and compiles for OpenVINO in this process, then warms both up at batch 1 and
# 8: a few seconds here, but minutes when other jobs hold the CPUs, so the start gets more than the
# fixture's default 30 s. Nothing below depends on timing: every check is about what was chosen.
START_TIMEOUT_S = 180.0


def expected_status(cpu_engine, version):
    """(the backend, the start of DescribeModel's status message) for the compiled build."""
    if cpu_engine == "onnxruntime":
        return "onnxruntime-cpu", "RUNNING on onnxruntime-cpu (OpenVINO not used: models.cpu_engine is onnxruntime)"
    if version is not None:
        return "openvino-cpu", "RUNNING on openvino-cpu (openvino %s, f32, latency hint" % version
    return "onnxruntime-cpu", "RUNNING on onnxruntime-cpu (OpenVINO not used: the build has no OpenVINO model"


@pytest.mark.parametrize("cpu_engine", ["auto", "onnxruntime"])
def test_describe_model_and_metrics_name_the_engine(start_agent, lookout_client, tiny_packages, compiled_classify,
                                                    cpu_engine):
    pb2, _ = lookout_client
    agent = start_agent(packages={"plain": tiny_packages["classify"], "built": compiled_classify},
                        models={"cpu_engine": cpu_engine})
    plain = agent.start_and_wait(pb2, "plain", START_TIMEOUT_S)
    built = agent.start_and_wait(pb2, "built", START_TIMEOUT_S)
    version = openvino_version()
    backend, status = expected_status(cpu_engine, version)
    context = "models.cpu_engine=%s, openvino %s installed" % (cpu_engine, version or "not")
    assert built.status_message.startswith(status), "compiled build (%s): expected %r..., got %r" % (
        context, status, built.status_message)
    if cpu_engine == "onnxruntime":
        assert built.status_message == status, "nothing may follow the reason: %r" % built.status_message
    else:
        assert plain.status_message == "RUNNING on onnxruntime-cpu", "plain package (%s): %r" % (
            context, plain.status_message)
    _, data = agent.metrics()
    shown = data["models"]["built"]
    assert shown["backend"] == backend, "metrics of the compiled build (%s): %r" % (context, shown)
    assert shown["backend_note"] and shown["backend_note"] in built.status_message, (
        "the metrics' backend_note %r is not the reason DescribeModel gives: %r" % (shown["backend_note"],
                                                                                  built.status_message))
    a, b = detect(agent, pb2, "plain"), detect(agent, pb2, "built")
    assert a.is_anomalous == b.is_anomalous, "verdicts differ: plain %s (score %.6f), built on %s %s (score %.6f)" % (
        a.is_anomalous, a.anomaly_score, backend, b.is_anomalous, b.anomaly_score)
    assert abs(a.anomaly_score - b.anomaly_score) <= 1e-4, (
        "scores differ by more than 1e-4: plain package on ONNX Runtime %.7f, compiled build on %s %.7f"
        % (a.anomaly_score, backend, b.anomaly_score))
