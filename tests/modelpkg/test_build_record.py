"""edge-build.json as a frozen, typed record: to_json/from_json round trips, and a file of the wrong shape
is refused naming what is wrong."""

from __future__ import annotations

import dataclasses
import json

import pytest

from edge_runtime.errors import ModelPackageError
from edge_runtime.modelpkg.build import Artifact, BuildRecord, CpuBuild, TensorRTBuild, read_build, write_build

COMMON = dict(precision="fp32", target={"arch": "X86_64", "kind": "cpu"}, accuracy={"measured": False},
              lookout_configuration={"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}},
              compiler_version="edge-runtime 0.1.0", created="2026-12-02T06:00:00+00:00",
              artifacts=(Artifact("model.cpu-fp32.onnx", "model", "ab" * 32, 10),))
CPU = BuildRecord(backend="onnxruntime", cpu=CpuBuild("model.cpu-fp32.onnx", "X86_64", "x86-64", (), ("avx", "sse4_1"),
                                                    ("sse4_1",), {"graph_optimization_level": "extended"}), **COMMON)
TRT = BuildRecord(backend="tensorrt", tensorrt=TensorRTBuild("model.onnx", {"gpu_code": "sm_72"},
                                                           deferred_reason="no TensorRT here"),
                  **dict(COMMON, precision="fp16"))


@pytest.mark.parametrize("record", [CPU, TRT], ids=["cpu", "tensorrt"])
def test_round_trip_through_the_file(record, tmp_path):
    write_build(str(tmp_path), record)
    assert read_build(str(tmp_path)) == record
    assert BuildRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_the_record_is_frozen_and_derives_what_it_can():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CPU.precision = "int8"  # type: ignore[misc]
    assert TRT.tensorrt.deferred and TRT.tensorrt.status == "deferred"
    assert "status" not in TRT.to_json()["tensorrt"] and "deferred" not in TRT.to_json()["tensorrt"]
    assert CPU.to_json()["features"]["required"] == ["sse4_1"]


def test_a_file_written_before_the_record_was_typed_still_reads():
    old = dict(TRT.to_json(), tensorrt=dict(TRT.to_json()["tensorrt"], status="deferred"))
    assert BuildRecord.from_json(old) == TRT


@pytest.mark.parametrize("change,message", [
    ({"backend": "tflite"}, "backend must be one of onnxruntime, tensorrt"),
    ({"format_version": 99}, "build format 99 is newer"),
    ({"model_artifact": None}, "names no model_artifact"),
    ({"artifacts": {"file": "x"}}, "artifacts must be a list"),
    ({"features": ["avx"]}, "features must be an object"),
])
def test_wrong_shapes_are_refused_naming_the_key(change, message):
    with pytest.raises(ModelPackageError, match=message):
        BuildRecord.from_json(dict(CPU.to_json(), **change), "pkg/edge-build.json")


def test_a_backend_needs_its_own_part():
    with pytest.raises(ModelPackageError, match="needs its TensorRT part"):
        BuildRecord(backend="tensorrt", cpu=CPU.cpu, **COMMON)
