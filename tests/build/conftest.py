"""Fixtures for the device build tests, without torch (these tests also run on aarch64: scripts/test-arm64.sh).

`tiny_package`: tests/tiny_models.py's 64x64 classification net as a plain package with 24 seeded
calibration images (uint8 RGB at the input size). `fake_trt`: the fake `tensorrt` (tests/fakes/tensorrt.py;
TensorRT cannot exist here) in sys.modules, in the 8.5 and the 10 flavour.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from tests.fakes import tensorrt as fake_tensorrt
from tests.tiny_models import build_package


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = build_package(str(tmp_path_factory.mktemp("pkg") / "tiny"), "tiny", "classification")
    images = np.random.default_rng(0).integers(0, 256, (24, 64, 64, 3), dtype=np.uint8)
    np.savez_compressed(os.path.join(root, "calibration.npz"), images=images)
    return root


@pytest.fixture(params=["8.5.2.2", "10.3.0"], ids=["trt8.5", "trt10"])
def fake_trt(request, monkeypatch):
    module = fake_tensorrt.make_module(version=request.param)
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    return module
