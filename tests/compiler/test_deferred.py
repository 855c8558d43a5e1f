"""NVIDIA targets compiled where TensorRT is absent are deferred; the device builds the engine later.

Where a TensorRT build is exercised, tests/fakes/tensorrt.py stands in for TensorRT (it cannot
exist here: no NVIDIA GPU, no JetPack) and a BuildMachine stands in for the probed GPU.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from edge_runtime.compiler.compile import compile_package
from edge_runtime.compiler.targets import validate_target
from edge_runtime.errors import UnsupportedHardware
from edge_runtime.runtime.build.gpu_probe import BuildMachine
from edge_runtime.runtime.build.trt_build import build_engine
from edge_runtime.runtime.loader import load_package
from tests.fakes import tensorrt as fake_tensorrt

XAVIER_85 = BuildMachine(gpu_code="sm_72", trt_version=(8, 5, 2, 2), cuda_version=(11, 4), gpu_name="Xavier")


def quiet(_: str) -> None:
    pass


def no_tensorrt():
    return None, "TensorRT is not installed on this machine"


def test_jetson_xavier_compile_here_is_deferred(tiny_package, tmp_path):
    target = validate_target("jetson_xavier", None, None)
    result = compile_package(tiny_package, target, str(tmp_path / "out"), progress=quiet, machine_probe=no_tensorrt)
    trt = result.build.tensorrt
    assert trt.status == "deferred" and trt.engine is None
    assert trt.deferred_reason == "TensorRT is not installed on this machine"
    loaded = load_package(result.output_dir)
    assert loaded.backend == "tensorrt"
    source = loaded.tensorrt
    assert source.deferred is True and source.engine_path is None
    assert source.onnx_path == os.path.join(result.output_dir, "model.onnx") == loaded.model_path
    settings = source.settings
    assert (settings["gpu_code"], settings["trt_ver"], settings["cuda_ver"]) == ("sm_72", "8.5.2", "11.4")
    assert (settings["precision"], settings["max_batch_size"]) == ("fp16", 8)
    assert settings["input"]["width"] == 64 and loaded.build.accuracy["measured"] is False


def test_int8_nvidia_build_carries_calibration_images_for_the_device(tiny_package, tmp_path):
    target = validate_target(None, {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"},
                             '{"gpu-code": "sm_72", "trt-ver": "8.5.2", "cuda-ver": "11.4", "precision": "int8"}')
    result = compile_package(tiny_package, target, str(tmp_path / "out"), progress=quiet, machine_probe=no_tensorrt)
    assert "produced on the device" in result.build.tensorrt.calibration_cache
    source = load_package(result.output_dir).tensorrt
    assert source.calibration_path == os.path.join(result.output_dir, "calibration.npz")
    assert source.settings["calibration_path"] == source.calibration_path


def test_device_builds_the_deferred_engine_then_reuses_it(tiny_package, tmp_path, monkeypatch):
    target = validate_target("jetson_xavier", None, None)
    out = compile_package(tiny_package, target, str(tmp_path / "out"), progress=quiet,
                          machine_probe=no_tensorrt).output_dir
    trt = fake_tensorrt.make_module("8.5.2.2")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    source = load_package(out).tensorrt
    cache = str(tmp_path / "engine-cache")
    engine = build_engine(source.onnx_path, source.settings, cache, machine=XAVIER_85,
                          buffers=fake_tensorrt.HostBuffers(trt))
    assert engine.startswith(cache) and "sm_72-trt8.5.2.2-" in engine
    assert build_engine(source.onnx_path, source.settings, cache, machine=XAVIER_85) == engine
    assert trt.calls.count(("build_serialized_network",)) == 1
    orin = BuildMachine(gpu_code="sm_87", trt_version=(8, 5, 2, 2), cuda_version=(11, 4), gpu_name="Orin")
    with pytest.raises(UnsupportedHardware, match="compiled for sm_72 .* this device has sm_87 \\(Orin\\)"):
        build_engine(source.onnx_path, source.settings, cache, machine=orin)


def test_matching_build_machine_builds_the_engine_at_compile_time(tiny_package, tmp_path, monkeypatch):
    trt = fake_tensorrt.make_module("8.5.2.2")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr("edge_runtime.runtime.build.trt_build.CudaBuffers", lambda: fake_tensorrt.HostBuffers(trt))
    target = validate_target("jetson_xavier", None, None)
    result = compile_package(tiny_package, target, str(tmp_path / "out"), progress=quiet,
                             machine_probe=lambda: (XAVIER_85, ""))
    record = result.build.tensorrt
    assert record.status == "built" and record.engine == "model.sm_72-trt8.5.2.2.engine"
    loaded = load_package(result.output_dir)
    assert loaded.tensorrt.deferred is False and loaded.model_path.endswith(".engine")
    assert Path(loaded.model_path).read_bytes().startswith(b"FAKE-ENGINE")


def test_mismatching_build_machine_defers_with_the_reason(tiny_package, tmp_path):
    a10g = BuildMachine(gpu_code="sm_86", trt_version=(8, 6, 1), cuda_version=(12, 2), gpu_name="A10G")
    target = validate_target("jetson_xavier", None, None)
    result = compile_package(tiny_package, target, str(tmp_path / "out"), progress=quiet,
                             machine_probe=lambda: (a10g, ""))
    reason = result.build.tensorrt.deferred_reason
    assert "this machine (sm_86 (A10G)" in reason and "GPU architecture sm_86, not sm_72" in reason
