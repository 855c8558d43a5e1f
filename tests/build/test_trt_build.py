"""The TensorRT build path against tests/fakes/tensorrt.py (a fake: TensorRT cannot exist here).

The fake records calls and checks builder flags, workspace, profiles, calibrator wiring; the code under
test is the code that runs where TensorRT exists. Each test runs with the 8.5 and the 10 flavour.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.errors import CompileError, UnsupportedHardware
from edge_runtime.modelpkg.manifest import read_manifest
from edge_runtime.runtime.build.calibration import load_calibration_images
from edge_runtime.runtime.build.gpu_probe import BuildMachine
from edge_runtime.runtime.build.trt_build import BuilderSettings, build_engine
from edge_runtime.runtime.preprocess import preprocess_batch
from tests.fakes import tensorrt as fake_tensorrt


def settings(package: str, **changes) -> BuilderSettings:
    manifest = read_manifest(package)
    base = dict(gpu_code="sm_72", trt_ver="8.5", cuda_ver="11.4", input=manifest.to_dict()["input"],
                max_batch_size=8, opt_batch_size=4, workspace_mb=512)
    base.update(changes)
    return BuilderSettings(**base)


def machine(trt, gpu_code: str = "sm_72") -> BuildMachine:
    version = tuple(int(p) for p in trt.__version__.split("."))
    return BuildMachine(gpu_code=gpu_code, trt_version=version, cuda_version=(11, 4), gpu_name="fake Xavier")


def trt_ver(trt) -> str:
    return ".".join(trt.__version__.split(".")[:2])


def build(trt, package, tmp_path, **changes):
    s = settings(package, trt_ver=trt_ver(trt), **changes)
    buffers = fake_tensorrt.HostBuffers(trt)
    path = build_engine(os.path.join(package, "model.onnx"), s.to_dict(), str(tmp_path / "engines"),
                        machine=machine(trt), buffers=buffers)
    return path, buffers


def test_fp16_engine_flags_workspace_and_profiles(fake_trt, tiny_package, tmp_path):
    path, _ = build(fake_trt, tiny_package, tmp_path)
    assert Path(path).read_bytes().startswith(b"FAKE-ENGINE")
    calls = fake_trt.calls
    explicit = 1 if fake_trt.__version__.startswith("8.") else 0
    assert ("create_network", explicit) in calls
    assert ("deprecated", "EXPLICIT_BATCH") not in calls and ("deprecated", "max_workspace_size") not in calls
    assert ("set_memory_pool_limit", "MemoryPoolType.WORKSPACE", 512 << 20) in calls
    config = fake_trt.built_configs[-1]
    assert config.flags == {"BuilderFlag.FP16"}
    assert len(config.profiles) == 2  # one identical profile per GPU-runtime execution context
    for profile in config.profiles:
        assert profile.shapes["image"] == ((1, 3, 64, 64), (4, 3, 64, 64), (8, 3, 64, 64))
    assert config.int8_calibrator is None


def test_fp32_sets_no_reduced_precision_flag(fake_trt, tiny_package, tmp_path):
    build(fake_trt, tiny_package, tmp_path, precision="fp32", opt_batch_size=8)
    config = fake_trt.built_configs[-1]
    assert config.flags == set()
    assert config.profiles[0].shapes["image"][1] == (8, 3, 64, 64)


def test_int8_calibrator_feeds_preprocessed_batches_and_writes_a_cache(fake_trt, tiny_package, tmp_path):
    calibration = os.path.join(tiny_package, "calibration.npz")
    path, buffers = build(fake_trt, tiny_package, tmp_path, precision="int8", calibration_path=calibration,
                          calibration_batch_size=8)
    config = fake_trt.built_configs[-1]
    assert config.flags == {"BuilderFlag.INT8", "BuilderFlag.FP16"}
    assert config.calibration_profile.shapes["image"] == ((8, 3, 64, 64),) * 3
    images = load_calibration_images(calibration)
    spec = read_manifest(tiny_package).input
    batches = fake_trt.calibration_batches
    assert len(batches) == len(images) // 8  # full batches only: calibration shapes are fixed
    np.testing.assert_allclose(batches[0], preprocess_batch(list(images[:8]), spec), atol=1e-6)
    cache = os.path.join(os.path.dirname(path), "calibration-trt%s.cache" % fake_trt.__version__)
    assert Path(cache).read_bytes().startswith(b"TRT-%s-EntropyCalibration2" % fake_trt.__version__.encode())
    assert buffers.closed is False  # the caller's buffers stay the caller's to close


def test_int8_second_build_reads_the_calibration_cache(fake_trt, tiny_package, tmp_path):
    calibration = os.path.join(tiny_package, "calibration.npz")
    build(fake_trt, tiny_package, tmp_path, precision="int8", calibration_path=calibration)
    served = len(fake_trt.calibration_batches)
    build(fake_trt, tiny_package, tmp_path, precision="int8", calibration_path=calibration, workspace_mb=256)
    assert len(fake_trt.calibration_batches) == served  # no new batches: the cache was used
    assert any(c[0] == "calibration_cache_read" for c in fake_trt.calls)


def test_int8_cache_carried_by_the_package_is_enough(fake_trt, tiny_package, tmp_path):
    carried = tmp_path / "carried.cache"
    carried.write_bytes(b"TRT-8502-EntropyCalibration2\nimage: 3c010a14\n")
    build(fake_trt, tiny_package, tmp_path, precision="int8", calibration_cache_path=str(carried))
    assert fake_trt.calibration_batches == []
    assert ("calibration_cache_read", len(carried.read_bytes())) in fake_trt.calls


def test_int8_without_images_or_cache_is_refused(fake_trt, tiny_package, tmp_path):
    with pytest.raises(CompileError, match="needs calibration images or a calibration cache"):
        build(fake_trt, tiny_package, tmp_path, precision="int8")


def test_engine_is_cached_by_gpu_and_tensorrt_version(fake_trt, tiny_package, tmp_path):
    first, _ = build(fake_trt, tiny_package, tmp_path)
    builds = fake_trt.calls.count(("build_serialized_network",))
    again, _ = build(fake_trt, tiny_package, tmp_path)
    assert again == first and fake_trt.calls.count(("build_serialized_network",)) == builds
    assert os.path.basename(first).startswith("sm_72-trt%s-" % fake_trt.__version__)


def test_parser_failure_lists_every_error(monkeypatch, tiny_package, tmp_path):
    trt = fake_tensorrt.make_module("8.5.2.2", parse_errors=["Unsupported op GridSample", "bad initializer"])
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    with pytest.raises(CompileError) as info:
        build(trt, tiny_package, tmp_path)
    text = str(info.value)
    assert "could not parse the ONNX model (2 errors)" in text
    assert "Unsupported op GridSample" in text and "bad initializer" in text
    assert not os.path.exists(tmp_path / "engines") or not any(
        f.endswith(".engine") for _, _, files in os.walk(tmp_path / "engines") for f in files)


def test_builder_returning_none_is_an_error_with_the_logged_reason(monkeypatch, tiny_package, tmp_path):
    trt = fake_tensorrt.make_module("10.3.0", build_fails=True)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    with pytest.raises(CompileError, match="failed to build the engine:\n  fake: insufficient workspace"):
        build(trt, tiny_package, tmp_path)


def test_wrong_input_shape_is_refused(monkeypatch, tiny_package, tmp_path):
    trt = fake_tensorrt.make_module("8.5.2.2", input_shape=(1, 3, 64, 64))
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    with pytest.raises(CompileError, match="fixed batch of 1; max-batch-size 8 needs a dynamic batch axis"):
        build(trt, tiny_package, tmp_path)


@pytest.mark.parametrize("gpu,trt_version,cuda,expected", [
    ("sm_87", None, (11, 4), "GPU architecture sm_87, not sm_72"),
    ("sm_72", (8, 6, 1), (11, 4), "TensorRT 8.6.1, not {trt_ver}"),
    ("sm_72", None, (10, 2), "CUDA 10.2, not 11.4-compatible"),
])
def test_device_not_matching_the_build_is_refused(fake_trt, tiny_package, tmp_path, gpu, trt_version, cuda,
                                                  expected):
    s = settings(tiny_package, trt_ver=trt_ver(fake_trt))
    version = trt_version or tuple(int(p) for p in fake_trt.__version__.split("."))
    device = BuildMachine(gpu_code=gpu, trt_version=version, cuda_version=cuda)
    with pytest.raises(UnsupportedHardware) as info:
        build_engine(os.path.join(tiny_package, "model.onnx"), s, str(tmp_path), machine=device)
    assert expected.format(trt_ver=trt_ver(fake_trt)) in str(info.value)
    assert "compiled for sm_72" in str(info.value)
    assert ("build_serialized_network",) not in fake_trt.calls


def test_without_tensorrt_the_message_says_where_it_comes_from(monkeypatch, tiny_package, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    with pytest.raises(UnsupportedHardware, match="TensorRT is not installed here .*JetPack"):
        build_engine(os.path.join(tiny_package, "model.onnx"), settings(tiny_package), str(tmp_path))


def test_settings_are_validated_on_creation(tiny_package):
    with pytest.raises(CompileError, match="opt_batch_size <= max_batch_size"):
        settings(tiny_package, opt_batch_size=9)
    with pytest.raises(CompileError, match="gpu_code must look like sm_72"):
        settings(tiny_package, gpu_code="xavier")
    assert BuilderSettings.from_dict(settings(tiny_package).to_dict()) == settings(tiny_package)
