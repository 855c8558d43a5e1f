"""Issue 2's synthetic-set targets with the real EfficientNet-Lite0 weights (slow, but about a minute).

Segmentation: mean AIOU over the anomaly classes >= 0.6; classification: F1 >= 0.95, both on the
synthetic test split, measured through the runtime on the exported ONNX. Kept fast by a 160-pixel input,
two cached views and a small dataset (30 + 30 training images at 256 px).
"""

from __future__ import annotations

import pytest

from edge_runtime.datasets.synth import SynthConfig, SyntheticPaths, write_synthetic_dataset
from edge_runtime.train.config import TrainConfig
from edge_runtime.train.pipeline import train_model


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SyntheticPaths:
    config = SynthConfig(normal_train=30, anomalous_train=30, normal_test=10, anomalous_test=10, size=256)
    return write_synthetic_dataset(str(tmp_path_factory.mktemp("synth") / "data"), config=config)


def _config(task: str, train: str, test: str, output: str) -> TrainConfig:
    return TrainConfig(task=task, train_manifest=train, test_manifest=test, output=output, image_size=160,
                       views=2, quiet=True)


@pytest.mark.slow
def test_segmentation_mean_iou_reaches_target(synth: SyntheticPaths, tmp_path) -> None:
    result = train_model(_config("segmentation", synth.segmentation_train, synth.segmentation_test,
                                 str(tmp_path / "seg")))
    pixels = result.evaluation.pixels
    assert [p.name for p in pixels] == ["scratch", "dent", "crack"]
    mean_aiou = sum(p.aiou for p in pixels) / len(pixels)
    assert mean_aiou >= 0.6, [(p.name, round(p.aiou, 3)) for p in pixels]
    assert result.manifest.metrics["MeanAIOU"] == pytest.approx(mean_aiou)
    assert result.evaluation.image.f1 >= 0.9


@pytest.mark.slow
def test_classification_f1_reaches_target(synth: SyntheticPaths, tmp_path) -> None:
    result = train_model(_config("classification", synth.classification_train, synth.classification_test,
                                 str(tmp_path / "cls")))
    assert result.evaluation.image.f1 >= 0.95, result.evaluation.image
    assert result.evaluation.image.roc_auc >= 0.95
    assert result.manifest.metrics["F1Score"] == pytest.approx(result.evaluation.image.f1)
