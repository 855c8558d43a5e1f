"""Fixtures for the device build tests, without torch (these tests also run on aarch64: scripts/test-arm64.sh).

`tiny_package`: tests/tiny_models.py's 64x64 classification net as a plain package with 24 seeded
calibration images (uint8 RGB at the input size). `fake_trt` comes from tests/conftest.py.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.tiny_models import build_package


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = build_package(str(tmp_path_factory.mktemp("pkg") / "tiny"), "tiny", "classification")
    images = np.random.default_rng(0).integers(0, 256, (24, 64, 64, 3), dtype=np.uint8)
    np.savez_compressed(os.path.join(root, "calibration.npz"), images=images)
    return root
