"""Normal-only training: a one-class model trained on normal images alone detects synthetic defects and
localises them with its map, through the exported ONNX and the real runtime.

The detection test uses the real EfficientNet-Lite0 weights at a small input (128 px, 20 normal training
images), so it runs in seconds; the plumbing tests use the tiny backbone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edge_runtime.datasets.images import load_image, load_mask
from edge_runtime.datasets.synth import SynthConfig, SyntheticPaths, write_synthetic_dataset
from edge_runtime.errors import DatasetError
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.loader import load_package
from edge_runtime.runtime.postprocess import detection_result
from edge_runtime.train.config import TrainConfig
from edge_runtime.train.oneclass import NearestPatchDistance, greedy_coreset
from edge_runtime.train.pipeline import train_model
from edge_runtime.train.plan import ONE_CLASS, plan_data

from .conftest import tiny_config


@pytest.fixture(scope="module")
def normal_only(tmp_path_factory: pytest.TempPathFactory) -> SyntheticPaths:
    """20 normal training images and no anomalous ones; a test set of 10 normal and 10 with a defect."""
    config = SynthConfig(normal_train=20, anomalous_train=0, normal_test=10, anomalous_test=10, size=128)
    return write_synthetic_dataset(str(tmp_path_factory.mktemp("normal-only") / "data"), config=config)


def _config(task: str, paths: SyntheticPaths, output: Path, **extra: object) -> TrainConfig:
    train = paths.segmentation_train if task == "segmentation" else paths.classification_train
    test = paths.segmentation_test if task == "segmentation" else paths.classification_test
    options = {"image_size": 128, "quiet": True, "name": "normal-only"}
    options.update(extra)
    return TrainConfig(task=task, train_manifest=train, test_manifest=test, output=str(output),
                       **options)  # type: ignore[arg-type]


def test_no_anomalies_in_training_plans_a_one_class_model(normal_only: SyntheticPaths, tmp_path: Path) -> None:
    plan = plan_data(_config("classification", normal_only, tmp_path / "p"))
    assert plan.method == ONE_CLASS
    assert all(s.label == 0 for s in plan.fit + plan.val)
    assert len(plan.fit) == 16 and len(plan.val) == 4
    assert plan.counts()["test"] == {"normal": 10, "anomaly": 10, "total": 20}


def test_fewer_than_ten_normal_images_are_refused(tmp_path: Path) -> None:
    config = SynthConfig(normal_train=9, anomalous_train=0, normal_test=10, anomalous_test=10, size=64)
    paths = write_synthetic_dataset(str(tmp_path / "data"), config=config)
    with pytest.raises(DatasetError, match="9 normal images; a train dataset needs at least 10"):
        train_model(tiny_config("classification", paths.classification_train, paths.classification_test,
                                tmp_path / "p"))
    assert not (tmp_path / "p").exists()


def test_normal_only_flag_ignores_labelled_anomalies(small_synth: SyntheticPaths, tmp_path: Path) -> None:
    plan = plan_data(tiny_config("classification", small_synth.classification_train,
                                 small_synth.classification_test, tmp_path / "p", normal_only=True))
    assert plan.method == ONE_CLASS
    assert all(s.label == 0 for s in plan.fit)
    assert any(s.label == 1 for s in plan.val)  # reported on, never in the memory bank


def test_coreset_covers_the_points() -> None:
    rng = np.random.default_rng(0)
    clusters = torch.from_numpy(rng.normal(size=(5, 8)) * 10).float()
    points = (clusters[rng.integers(5, size=500)] + torch.from_numpy(rng.normal(size=(500, 8))).float() * 0.1)
    chosen = greedy_coreset(points, 5, seed=0)
    assert len(set(chosen.tolist())) == 5
    # greedy k-center with five picks lands one in every well-separated cluster
    distance = NearestPatchDistance(points[chosen])(points.t().reshape(1, 8, 500, 1))
    assert float(distance.max()) < 2.0


@pytest.mark.slow
def test_one_class_classifier_detects_synthetic_defects(normal_only: SyntheticPaths, tmp_path: Path) -> None:
    result = train_model(_config("classification", normal_only, tmp_path / "cls"))
    manifest = result.manifest
    assert manifest.training["method"] == ONE_CLASS and manifest.threshold == 0.5
    assert manifest.training["counts"]["train"]["anomaly"] == 0
    image = result.evaluation.image
    assert image.roc_auc >= 0.95, image
    assert image.f1 >= 0.8, image
    assert manifest.metrics["ROCAUC"] == pytest.approx(image.roc_auc)
    # calibrated: confidence agrees with the verdict for every test image
    assert np.all(result.evaluation.confidences >= 0.5)
    assert np.array_equal(result.evaluation.anomalous, result.evaluation.scores >= 0.5)


@pytest.mark.slow
def test_one_class_segmenter_localises_defects_without_any_mask(normal_only: SyntheticPaths,
                                                                 tmp_path: Path) -> None:
    result = train_model(_config("segmentation", normal_only, tmp_path / "seg"))
    manifest = result.manifest
    assert [c.name for c in manifest.classes] == ["background", "anomaly"]
    assert result.evaluation.image.roc_auc >= 0.95
    package = load_package(result.package_dir)
    predictor = create_predictor(package, PredictorOptions(prefer_gpu=False))
    predictor.load()
    hits, inside_fraction, near_fraction, truth_pixels, all_pixels = 0, [], [], 0, 0
    try:
        for line in Path(normal_only.segmentation_test).read_text().splitlines():
            entry = json.loads(line)
            if not entry.get("anomaly-mask-ref"):
                continue
            root = Path(normal_only.segmentation_test).parent
            frame = load_image(str(root / entry["source-ref"]))
            truth = (load_mask(str(root / entry["anomaly-mask-ref"])) != 255).any(axis=2)  # white is background
            prediction = predictor.predict([frame])[0]
            assert prediction.class_map is not None and prediction.class_map.shape == truth.shape
            flagged = prediction.class_map == 1
            truth_pixels, all_pixels = truth_pixels + int(truth.sum()), all_pixels + truth.size
            if detection_result(prediction, package.manifest).is_anomalous and flagged.any():
                hits += 1
                near = torch.nn.functional.max_pool2d(torch.from_numpy(truth[None].astype(np.float32)), 17,
                                                      stride=1, padding=8)[0].numpy() > 0
                inside_fraction.append(float((flagged & near).sum()) / float(flagged.sum()))
                near_fraction.append(float(near.mean()))
    finally:
        predictor.close()
    assert hits >= 8, hits
    # the map points at the defect: flagged pixels lie on or next to it far more often than pixels at random
    ratio = float(np.median(np.asarray(inside_fraction) / np.asarray(near_fraction)))
    assert ratio >= 2.0, (inside_fraction, near_fraction)
    # evaluation compares the map with every defect class at once: nearly all defect pixels are found, and
    # a flagged pixel is a defect pixel at least twice as often as a pixel picked at random
    pixels = {p.name: p for p in result.evaluation.pixels}
    assert pixels["anomaly"].recall >= 0.8, pixels
    assert pixels["anomaly"].precision >= 2 * truth_pixels / all_pixels, (pixels, truth_pixels / all_pixels)


def test_one_class_signal_beside_the_head_exports_and_is_reported(small_synth: SyntheticPaths,
                                                                   tmp_path: Path) -> None:
    result = train_model(tiny_config("classification", small_synth.classification_train,
                                     small_synth.classification_test, tmp_path / "p", one_class_signal=True,
                                     mirror_tta=True))
    training = result.manifest.training
    note = [r for r in training["defaults"] if r.startswith("one-class signal")]
    assert len(note) == 1 and "blended" in note[0], training["defaults"]
    assert training["mirror_tta"] is True
    # the pipeline checked ONNX Runtime against torch on the blended graph; the runtime agrees with 0.5
    assert training["onnx_max_abs_diff"] < 1e-4
    assert np.array_equal(result.evaluation.anomalous, result.evaluation.scores >= 0.5)


def test_blend_weight_follows_the_validation_labels() -> None:
    from edge_runtime.train.hybrid import fit_blend, judge_blend

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    head = np.clip(0.5 + 0.2 * (labels - 0.5) + rng.normal(0, 0.2, 200), 0.01, 0.99)
    useful = np.exp(labels * 1.5 + rng.normal(0, 0.5, 200))
    useless = np.exp(rng.normal(0, 0.5, 200))
    assert fit_blend(labels, head, useful).weight > 0.5
    assert judge_blend(labels, head, useful)[1] is True
    assert judge_blend(labels, head, useless)[1] is False


def test_normal_only_without_a_test_manifest_says_to_give_one(normal_only: SyntheticPaths, tmp_path: Path) -> None:
    config = TrainConfig(task="classification", train_manifest=normal_only.classification_train,
                         output=str(tmp_path / "p"), normal_only=True, quiet=True)
    with pytest.raises(DatasetError, match=r"(?s)a single dataset needs at least 10.*--test-manifest"):
        plan_data(config)
    assert not (tmp_path / "p").exists()


def test_one_class_signal_is_kept_only_when_the_gain_pays_for_its_cost() -> None:
    from edge_runtime.train.hybrid import COST_RATIO, MIN_GAIN, worth_keeping

    assert MIN_GAIN >= 0.005 and COST_RATIO > 1.0
    # ELPV seed 1 gained 0.0001 on validation: not worth nearly doubling the device's work
    assert worth_keeping(0.4, 0.9500, 0.9501) is False
    assert worth_keeping(0.4, 0.9500, 0.9500 + MIN_GAIN / 2) is False
    assert worth_keeping(0.4, 0.9000, 0.9000 + MIN_GAIN) is True
    assert worth_keeping(0.4, 0.90, 0.95) is True
    assert worth_keeping(0.0, 0.90, 0.95) is False  # no weight: the branch would add nothing
    assert worth_keeping(0.4, 0.95, 0.94) is False


def test_the_summary_line_says_which_way_and_why_with_the_numbers() -> None:
    from edge_runtime.train.hybrid import COST_RATIO, explain_blend

    info = {"weight": 0.4, "validation_roc_auc_head": 0.95, "validation_roc_auc_blend": 0.9501}
    off = explain_blend(info, False, forced=False)
    assert off.startswith("one-class signal off:"), off
    assert "0.9501 blended" in off and "0.9500 head alone" in off and "+0.0001" in off
    assert "below the 0.005" in off and "x%.1f inference latency" % COST_RATIO in off
    on = explain_blend({**info, "validation_roc_auc_blend": 0.97}, True, forced=False)
    assert on.startswith("one-class signal on:") and "+0.0200" in on and "x%.1f" % COST_RATIO in on, on
    forced = explain_blend(info, True, forced=True)
    assert forced.startswith("one-class signal on as asked:") and "x%.1f" % COST_RATIO in forced, forced
    zero = explain_blend({**info, "weight": 0.0}, False, forced=False)
    assert "weight is 0" in zero, zero
