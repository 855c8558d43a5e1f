from __future__ import annotations

import os
import shutil
import sys
import warnings

import numpy as np
import pytest

from edge_runtime.compiler.accuracy import run_model
from edge_runtime.modelpkg.manifest import read_manifest, write_manifest
from tests.compiler.builders import calibration_images, make_package
from tests.fakes import tensorrt as fake_tensorrt


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A plain model package whose threshold sits at the median FP32 score (so labels split)."""
    root = str(tmp_path_factory.mktemp("pkg") / "tiny")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_package(root)
    manifest = read_manifest(root)
    scores = run_model(os.path.join(root, "model.onnx"), calibration_images(), manifest, reference=True)["score"]
    write_manifest(root, type(manifest)(**{**manifest.__dict__, "threshold": float(np.median(scores))}))
    return root


@pytest.fixture
def package_copy(tiny_package: str, tmp_path) -> str:
    dst = str(tmp_path / "pkg")
    shutil.copytree(tiny_package, dst)
    return dst


@pytest.fixture(params=["8.5.2.2", "10.3.0"], ids=["trt8.5", "trt10"])
def fake_trt(request, monkeypatch):
    """A fake `tensorrt` (TensorRT cannot exist here) in sys.modules, in the 8.5 and the 10 flavour."""
    module = fake_tensorrt.make_module(version=request.param)
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    return module
