"""Shared fixtures: a small synthetic dataset (64 px) and packages trained on it with the tiny backbone.

The tiny backbone (a few random convolutions) keeps these tests to seconds; it checks the plumbing,
not the accuracy. Accuracy is checked by the slow tests with the real EfficientNet-Lite0 weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_runtime.datasets.synth import SynthConfig, SyntheticPaths, write_synthetic_dataset
from edge_runtime.train.config import TrainConfig
from edge_runtime.train.pipeline import TrainResult, train_model


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory: pytest.TempPathFactory) -> SyntheticPaths:
    root = tmp_path_factory.mktemp("synth") / "data"
    config = SynthConfig(normal_train=14, anomalous_train=14, normal_test=10, anomalous_test=10, size=64)
    return write_synthetic_dataset(str(root), config=config)


def tiny_config(task: str, train: str, test: str | None, output: Path, **extra: object) -> TrainConfig:
    options = {"image_size": 64, "epochs": 2, "views": 2, "backbone": "tiny", "quiet": True, "name": "tiny-" + task}
    options.update(extra)
    return TrainConfig(task=task, train_manifest=train, test_manifest=test, output=str(output), **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def classification_package(small_synth: SyntheticPaths, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    output = tmp_path_factory.mktemp("cls") / "package"
    return train_model(tiny_config("classification", small_synth.classification_train,
                                   small_synth.classification_test, output))


@pytest.fixture(scope="session")
def segmentation_package(small_synth: SyntheticPaths, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    output = tmp_path_factory.mktemp("seg") / "package"
    return train_model(tiny_config("segmentation", small_synth.segmentation_train,
                                   small_synth.segmentation_test, output))
