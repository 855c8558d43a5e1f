"""The committed generated modules equal a fresh regeneration and load on both device and host stacks."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV38 = os.path.join(ROOT, ".venv38", "bin", "python")
LOAD_CHECK = """
import grpc, google.protobuf
from edge_runtime.agent.proto import edge_agent_pb2 as pb, edge_agent_pb2_grpc as pbg
from edge_runtime.agent.proto import agent_admin_pb2 as ad, agent_admin_pb2_grpc as adg
assert pb.DESCRIPTOR.package == "AWS.LookoutVision"
assert pb.DESCRIPTOR.GetOptions().java_package == "com.amazonaws.lookoutvision"
assert [pb.STOPPED, pb.STARTING, pb.RUNNING, pb.FAILED, pb.STOPPING] == [0, 1, 2, 3, 4]
svc = pb.DESCRIPTOR.services_by_name["EdgeAgent"]
assert sorted(m.name for m in svc.methods) == sorted(
    ["DetectAnomalies", "StartModel", "StopModel", "ListModels", "DescribeModel"])
assert hasattr(pbg, "add_EdgeAgentServicer_to_server") and hasattr(adg, "AgentAdminStub")
print(grpc.__version__, google.protobuf.__version__)
"""


def _load_gen_proto():
    spec = importlib.util.spec_from_file_location("gen_proto", os.path.join(ROOT, "build", "gen_proto.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_files_equal_a_fresh_regeneration():
    gen = _load_gen_proto()
    files = gen.render()
    assert sorted(files) == sorted(
        ["edge_agent_pb2.py", "edge_agent_pb2_grpc.py", "agent_admin_pb2.py", "agent_admin_pb2_grpc.py"]
    )
    assert gen.stale_files(files, gen.PROTO_DIR) == [], "run: python build/gen_proto.py"
    for name, text in files.items():
        assert "ValidateProtobufRuntimeVersion" not in text and "GRPC_GENERATED_VERSION" not in text, name
        assert "_registered_method" not in text and "add_registered_method_handlers" not in text, name
    assert "from . import edge_agent_pb2 as" in files["edge_agent_pb2_grpc.py"]


def test_strip_step_fails_loudly_when_the_generator_changes():
    gen = _load_gen_proto()
    with pytest.raises(SystemExit, match="runtime version"):
        gen.apply_rewrites("from google.protobuf import runtime_version as _runtime_version\n", gen.PB2_REWRITES, "x")


def test_field_numbers_match_the_spec():
    from edge_runtime.agent.proto import edge_agent_pb2 as pb

    def numbers(message):
        return {f.name: f.number for f in message.DESCRIPTOR.fields}

    assert numbers(pb.SharedMemoryHandle) == {"name": 1, "size": 2, "offset": 3}
    assert numbers(pb.Bitmap) == {"width": 1, "height": 2, "byte_data": 3, "shared_memory_handle": 4}
    assert numbers(pb.AnomalyMaskParams) == {"shared_memory_handle": 2, "shared_memory_handle_v0": 3}
    assert numbers(pb.DetectAnomalyResult) == {
        "is_anomalous": 1, "confidence": 2, "anomaly_mask": 3, "anomalies": 4,
        "anomaly_score": 5, "anomaly_threshold": 6,
    }
    assert numbers(pb.ModelDescription) == numbers(pb.ModelMetadata) == {
        "model_component": 1, "lookout_vision_model_arn": 2, "status": 3, "status_message": 4,
    }
    assert numbers(pb.DetectAnomaliesRequest) == {"model_component": 1, "bitmap": 2, "anomaly_mask_params": 3}
    assert pb.Bitmap.DESCRIPTOR.oneofs_by_name["data"].fields[0].name == "byte_data"


@pytest.mark.parametrize(
    "python", [pytest.param(sys.executable, id="host"), pytest.param(VENV38, id="py38", marks=pytest.mark.py38)]
)
def test_generated_modules_load(python):
    if not os.path.exists(python):
        pytest.skip("no .venv38")
    result = subprocess.run([python, "-c", LOAD_CHECK], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    if python == VENV38:
        assert result.stdout.split()[0].startswith("1.70"), result.stdout
