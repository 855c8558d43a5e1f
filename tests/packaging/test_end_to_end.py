"""The whole edge path: package the agent and a model to S3, deploy both the way the nucleus would, detect.

Real parts: the wheel built from this tree, the S3 protocol (moto_server on 127.0.0.1), the recipes'
own Install/Run/Shutdown scripts run by `sh` with their variables substituted, a fresh virtual
environment, the agent process serving gRPC on a Unix socket, ONNX Runtime.
Fake: the Greengrass nucleus itself (tests/packaging/nucleus_harness.py; none can run here).
Test-only shortcut (documented in agent_component.py): EDGE_RUNTIME_TEST_SITE_PACKAGES makes Install
pip-install the wheel with --no-deps and reuse this machine's installed dependencies, instead of
downloading grpcio, onnxruntime and the rest; the real recipe installs them.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
import time

import numpy as np
import pytest

from edge_runtime.compiler.targets import validate_target
from edge_runtime.packaging.agent_component import TEST_SITE_ENV
from edge_runtime.packaging.agent_job import AgentPackageRequest, AgentServices, package_agent
from edge_runtime.packaging.model_job import JobServices, start_job
from edge_runtime.packaging.recipes import parse_recipe
from edge_runtime.packaging.request import OutputLocation, PackagingRequest
from tests.packaging.nucleus_harness import NucleusHarness

AGENT = "EdgeRuntime.Agent"


def _recipe(client, bucket: str, location: str) -> dict:
    key = location[len("s3://%s/" % bucket):]
    return parse_recipe(client.get_object(Bucket=bucket, Key=key)["Body"].read(), key.rsplit(".", 1)[-1])


def _wait(what: str, check, timeout: float, harness: NucleusHarness):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
            last = exc
        if harness.state(AGENT) != "RUNNING":
            break
        time.sleep(0.2)
    raise AssertionError("%s did not happen (last error %r); agent log:\n%s" % (what, last, harness.log(AGENT)))


@pytest.mark.slow
def test_agent_and_model_components_deploy_start_and_detect(tmp_path, tiny_model, store, s3_bucket, s3_settings):
    import grpc

    from edge_runtime.agent.proto import edge_agent_pb2 as pb2
    from edge_runtime.agent.proto import edge_agent_pb2_grpc as pb2_grpc

    client, bucket = s3_bucket
    output = OutputLocation(bucket=bucket, prefix="greengrass")
    agent = package_agent(AgentPackageRequest(output=output), AgentServices(s3=s3_settings))
    job = start_job(PackagingRequest(model_dir=tiny_model, component_name="acme.Tiny", output=output,
                                     target=validate_target(None, {"Os": "LINUX", "Arch": "X86_64"}, None),
                                     recipe_format="yaml"),
                    JobServices(store=store, s3=s3_settings))
    assert job.status == "SUCCEEDED", job.status_message
    recipes = [_recipe(client, bucket, job.recipe_uri), _recipe(client, bucket, agent.recipe_location)]

    sock_dir = tempfile.mkdtemp(prefix="ert-", dir="/tmp")  # Unix socket paths must stay under 108 bytes
    socket_path = os.path.join(sock_dir, "agent.sock")
    harness = NucleusHarness(str(tmp_path / "greengrass"), s3_client=client,
                             env={TEST_SITE_ENV: sysconfig.get_paths()["purelib"]})
    base_python = getattr(sys, "_base_executable", sys.executable)
    try:
        order = harness.deploy(recipes, configuration={
            AGENT: {"socket": "unix://" + socket_path, "pythonCommand": base_python}})
        assert order == [AGENT, "acme.Tiny"]  # the dependency first
        venvs = [d for d in os.listdir(harness.work_path(AGENT)) if d.startswith("venv-")]
        assert len(venvs) == 1 and os.path.isdir(os.path.join(
            harness.work_path(AGENT), venvs[0], "lib", "python%d.%d" % sys.version_info[:2], "site-packages",
            "edge_runtime")), "the wheel was not installed into the component's venv"
        link = os.path.join(harness.work_path(AGENT), "models", "acme.Tiny")
        _wait("model link", lambda: os.path.islink(link), 30, harness)
        assert os.readlink(link) == os.path.join(harness.unarchived_path("acme.Tiny", "1.0.0"), "model")

        channel = grpc.insecure_channel("unix://" + socket_path)
        stub = pb2_grpc.EdgeAgentStub(channel)
        listed = _wait("acme.Tiny in ListModels",
                       lambda: [m for m in stub.ListModels(pb2.ListModelsRequest(), timeout=5).models
                                if m.model_component == "acme.Tiny"], 90, harness)
        assert listed[0].status == pb2.STOPPED
        assert stub.StartModel(pb2.StartModelRequest(model_component="acme.Tiny"), timeout=10).status in (
            pb2.STARTING, pb2.RUNNING)
        _wait("RUNNING", lambda: stub.DescribeModel(pb2.DescribeModelRequest(model_component="acme.Tiny"),
                                                    timeout=5).model_description.status == pb2.RUNNING, 60, harness)
        for pixel, anomalous in ((0, False), (255, True)):
            image = np.full((64, 64, 3), pixel, np.uint8)
            result = stub.DetectAnomalies(pb2.DetectAnomaliesRequest(
                model_component="acme.Tiny", bitmap=pb2.Bitmap(width=64, height=64, byte_data=image.tobytes())),
                timeout=10).detect_anomaly_result
            assert result.is_anomalous is anomalous and abs(result.anomaly_threshold - 0.6) < 1e-6
        channel.close()

        # Install runs again on every nucleus start: the second time it must be a quick no-op.
        started = time.monotonic()
        harness._run_to_end(harness.components[AGENT], "install")
        assert "already installed" in harness.log(AGENT) and time.monotonic() - started < 10

        assert harness.stop(AGENT) == 0  # SIGTERM: the agent drains and exits cleanly
        harness.stop("acme.Tiny")  # Shutdown removes the link the Run step made
        assert not os.path.lexists(link)
    finally:
        harness.stop_all()
        shutil.rmtree(sock_dir, ignore_errors=True)
