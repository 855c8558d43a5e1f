"""Fixtures for the GPU path's tests: the NumPy-emulated CUDA layer and the fake TensorRT runtime.

Fakes because this machine (and CI) has no NVIDIA GPU, CUDA driver or TensorRT; everything that does
not need them is real (NVRTC compiles, cv2 comparisons, /dev/shm segments, ONNX Runtime fallback).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Tuple

import numpy as np
import pytest

from edge_runtime.modelpkg.manifest import ClassInfo, InputSpec, ModelManifest
from edge_runtime.runtime.gpu.engine_source import EngineSource
from edge_runtime.runtime.gpu.nvrtc_compile import CompiledKernels
from edge_runtime.runtime.gpu.tensorrt_predictor import TensorRTPredictor
from tests.fakes.tensorrt import EngineSpec, make_module
from tests.gpu.emulated_cuda import EmulatedDevice

CLASSES = (ClassInfo(0, "background", "#FFFFFF"), ClassInfo(1, "scratch", "#23A436"), ClassInfo(2, "dent", "#14A3B3"))


def stub_compiler(major: int, minor: int) -> CompiledKernels:
    """Kernel image stand-in: the emulated device runs the NumPy twins, NVRTC is tested on its own."""
    return CompiledKernels(b"stub-cubin", "cubin", "sm_%d%d" % (major, minor), (12, 9))


def manifest_for(task: str, spec: InputSpec) -> ModelManifest:
    classes = CLASSES if task == "segmentation" else ()
    return ModelManifest(name="m", task=task, input=spec, threshold=0.5, classes=classes)


def random_frame(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def make_predictor(tmp_path) -> Callable[..., Tuple[TensorRTPredictor, Any, EmulatedDevice]]:
    """make_predictor(version, engine_spec, task, input_spec, max_batch) -> (loaded predictor, fake trt, device)."""
    made = []

    def make(
        version: str = "10.3.0",
        engine: EngineSpec = None,
        task: str = "classification",
        spec: InputSpec = None,
        max_batch: int = 8,
        plan: bytes = b"plan",
        integrated: bool = False,
        transfer: str = "auto",
    ) -> Tuple[TensorRTPredictor, Any, EmulatedDevice]:
        spec = spec or InputSpec(32, 32)
        engine = engine or EngineSpec(spec.height, spec.width, seg=(3, 8, 8) if task == "segmentation" else None)
        device = EmulatedDevice(integrated=integrated)
        trt = make_module(version, engine=engine, device=device)
        path = os.path.join(str(tmp_path), "engine-%d.plan" % len(made))
        with open(path, "wb") as fh:
            fh.write(plan)
        predictor = TensorRTPredictor(
            manifest_for(task, spec),
            EngineSource(engine_path=path),
            max_batch,
            device=device,
            trt=trt,
            compiler=stub_compiler,
            transfer=transfer,
        )
        predictor.load()
        made.append(predictor)
        return predictor, trt, device

    yield make
    for predictor in made:
        predictor.close()
