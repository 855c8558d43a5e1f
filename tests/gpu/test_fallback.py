"""Without TensorRT / cuda-python / a GPU the factory serves the CPU path (real ONNX Runtime) with a note."""

from __future__ import annotations

import logging
import os
import sys
import types

import numpy as np
import pytest

from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.cpu_predictor import CpuPredictor
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.gpu import engine_source, tensorrt_predictor
from edge_runtime.runtime.gpu.cuda_api import probe_device
from edge_runtime.runtime.gpu.engine_source import EngineSource
from edge_runtime.runtime.gpu.tensorrt_predictor import TensorRTPredictor, create_tensorrt_predictor
from edge_runtime.runtime.loader import LoadedPackage, TensorRTSource

from .conftest import manifest_for


def _tiny_onnx(path: str) -> None:
    """score = sigmoid(mean(image)) with a dynamic batch, built with onnx.helper (no torch needed)."""
    import onnx
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 32, 32])
    score = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"])
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Sigmoid", ["m"], ["score"]),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "tiny", [image], [score]), opset_imports=[helper.make_opsetid("", 17)], ir_version=8
    )
    onnx.save(model, path)


@pytest.fixture
def trt_package(tmp_path):
    """A compiled package whose TensorRT build was deferred to the device (as runtime/loader.py resolves it)."""
    onnx_path = os.path.join(str(tmp_path), "model.onnx")
    _tiny_onnx(onnx_path)
    source = TensorRTSource(onnx_path=onnx_path, settings={}, engine_path=None)
    return LoadedPackage(str(tmp_path), manifest_for("classification", InputSpec(32, 32)), onnx_path, "tensorrt",
                         tensorrt=source)


def test_no_gpu_means_cpu_path_with_one_logged_note(trt_package, caplog):
    with caplog.at_level(logging.WARNING):
        predictor = create_predictor(trt_package, PredictorOptions(max_batch_size=2))
    note = predictor.backend_note
    assert isinstance(predictor, CpuPredictor)
    assert note.startswith("TensorRT path unavailable (") and note.endswith("; using the CPU path")
    assert [r.getMessage() for r in caplog.records if "TensorRT path unavailable" in r.getMessage()] == [note]
    predictor.load()
    preds = predictor.predict([np.full((40, 50, 3), 255, np.uint8)])
    assert len(preds) == 1 and 0.5 < preds[0].score < 1.0  # real ONNX Runtime ran the ONNX fallback


def test_missing_tensorrt_is_named():
    if "tensorrt" in sys.modules or _importable("tensorrt"):
        pytest.skip("a real tensorrt module is installed")
    available, detail = engine_source.gpu_status()
    assert not available and detail == "the tensorrt Python module is not installed"


def test_tensorrt_without_a_gpu_is_named(trt_package, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.3.0"))
    ok, why = probe_device()
    if ok:
        pytest.skip("a CUDA device is present")
    predictor, note = create_tensorrt_predictor(trt_package, PredictorOptions())
    assert predictor is None and why in note and "using the CPU path" in note


def test_available_gpu_gives_an_unloaded_predictor(trt_package, monkeypatch):
    monkeypatch.setattr(tensorrt_predictor, "gpu_status", lambda: (True, "TensorRT 10.3.0, Fake GPU sm_90"))
    predictor, note = create_tensorrt_predictor(trt_package, PredictorOptions(max_batch_size=4))
    assert isinstance(predictor, TensorRTPredictor) and predictor.device is None  # cheap: load() does the work
    assert note == (
        "tensorrt on TensorRT 10.3.0, Fake GPU sm_90 with CUDA preprocessing"
        " (engine built on this device from model.onnx)"
    )
    assert predictor.source.onnx_path == trt_package.model_path and predictor.max_batch_size == 4


def test_engine_source_reads_built_and_deferred_packages(trt_package, tmp_path):
    plan = tmp_path / "model.engine"
    plan.write_bytes(b"plan")
    built = LoadedPackage(
        str(tmp_path),
        trt_package.manifest,
        str(plan),
        "tensorrt",
        tensorrt=TensorRTSource(onnx_path=trt_package.model_path, settings={}, engine_path=str(plan)),
    )
    assert EngineSource.from_package(built).resolve() == str(plan)
    gone = TensorRTSource(onnx_path=trt_package.model_path, settings={}, engine_path=str(tmp_path / "gone.engine"))
    missing = LoadedPackage(str(tmp_path), trt_package.manifest, str(tmp_path / "gone.engine"), "tensorrt",
                            tensorrt=gone)
    with pytest.raises(ValueError, match="gone.engine is missing"):
        EngineSource.from_package(missing)
    deferred = EngineSource.from_package(trt_package)
    assert deferred.onnx_path == trt_package.model_path and deferred.settings == {}
    with pytest.raises(ValueError, match="exactly one"):
        EngineSource()


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_gpu_without_nvrtc_is_named(monkeypatch):
    """Kernels are compiled at run time, so a machine without NVRTC keeps the CPU path."""
    import edge_runtime.runtime.gpu.cuda_api as cuda_api
    import edge_runtime.runtime.gpu.nvrtc_compile as nvrtc_compile

    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.3.0"))
    monkeypatch.setattr(cuda_api, "probe_device", lambda: (True, "Fake GPU sm_87"))

    def no_nvrtc():
        raise RuntimeError("Failed to dlopen libnvrtc.so.12")

    monkeypatch.setattr(nvrtc_compile, "nvrtc_version", no_nvrtc)
    assert engine_source.gpu_status() == (
        False,
        "NVRTC (the CUDA runtime compiler) is unavailable: Failed to dlopen libnvrtc.so.12",
    )
