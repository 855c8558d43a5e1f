from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest

from edge_runtime.compiler.accuracy import run_model
from edge_runtime.modelpkg.manifest import read_manifest, write_manifest
from tests.compiler.builders import calibration_images, make_package


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
