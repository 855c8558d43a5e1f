"""The model package training writes: files, manifest round trip, ONNX limits and batch axis, threshold."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge_runtime.datasets.synth import SyntheticPaths
from edge_runtime.evaluate.metrics import best_f1_threshold, image_metrics
from edge_runtime.modelpkg.manifest import CALIBRATION_FILE, MANIFEST_FILE, MODEL_FILE, ModelManifest, read_manifest
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.loader import load_package
from edge_runtime.train.data import load_image_set
from edge_runtime.train.features import normalise
from edge_runtime.train.pipeline import TrainResult, train_model
from edge_runtime.train.plan import plan_data

from .conftest import tiny_config


def test_package_holds_exactly_the_contract_files(classification_package: TrainResult) -> None:
    root = classification_package.package_dir
    assert sorted(os.listdir(root)) == sorted([MANIFEST_FILE, MODEL_FILE, CALIBRATION_FILE])
    assert not [n for n in os.listdir(os.path.dirname(root)) if ".tmp-" in n]


def test_manifest_round_trips_and_carries_the_summary(classification_package: TrainResult) -> None:
    manifest = read_manifest(classification_package.package_dir)
    assert manifest == classification_package.manifest
    assert ModelManifest.from_dict(manifest.to_dict()) == manifest
    assert manifest.task == "classification" and manifest.backbone == "tiny"
    assert (manifest.input.width, manifest.input.height) == (64, 64)
    training = manifest.training
    assert training["counts"]["train"] == {"normal": 14, "anomaly": 14, "total": 28}
    assert training["counts"]["test"]["total"] == 20
    assert training["seed"] == 0 and training["source_image_size"] == [64, 64]
    assert training["train_manifest"].endswith("classification-train.manifest")
    for key in ("Precision", "Recall", "F1Score", "ROCAUC", "AveragePrecision"):
        assert 0.0 <= manifest.metrics[key] <= 1.0


def test_onnx_opset_ir_and_names(classification_package: TrainResult, segmentation_package: TrainResult) -> None:
    for result, outputs in ((classification_package, ["score"]), (segmentation_package, ["score", "seg"])):
        model = onnx.load(os.path.join(result.package_dir, MODEL_FILE))
        assert model.ir_version <= 10
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) <= 18
        assert [i.name for i in model.graph.input] == ["image"]
        assert [o.name for o in model.graph.output] == outputs


def test_onnx_batch_axis_is_dynamic(segmentation_package: TrainResult) -> None:
    session = ort.InferenceSession(os.path.join(segmentation_package.package_dir, MODEL_FILE))
    for n in (1, 3):
        score, seg = session.run(None, {"image": np.random.default_rng(n).normal(size=(n, 3, 64, 64))
                                        .astype(np.float32)})
        assert score.shape == (n,)
        assert seg.shape == (n, 4, 64, 64)  # background + scratch, dent, crack at the input size
        np.testing.assert_allclose(seg.sum(axis=1), 1.0, atol=1e-5)  # probabilities


def test_segmentation_classes_keep_the_manifest_colours(segmentation_package: TrainResult) -> None:
    classes = [(c.index, c.name, c.color) for c in segmentation_package.manifest.classes]
    assert classes == [(0, "background", "#FFFFFF"), (1, "scratch", "#23A436"), (2, "dent", "#14A3B3"),
                       (3, "crack", "#F76902")]
    pixel = segmentation_package.manifest.metrics["PixelAnomalyClassMetrics"]
    assert [p["ClassName"] for p in pixel] == ["scratch", "dent", "crack"]


def test_calibration_images_are_training_images_at_input_size(classification_package: TrainResult) -> None:
    with np.load(os.path.join(classification_package.package_dir, CALIBRATION_FILE)) as data:
        images = data["images"]
    assert images.dtype == np.uint8 and images.shape[1:] == (64, 64, 3)
    assert 1 <= len(images) <= 64


def _rederive_threshold(package_dir: str, plan, manifest: ModelManifest):  # type: ignore[no-untyped-def]
    """(validation images, F1 at the package's threshold, best F1 over any threshold) from the package's
    runtime scores on the plan's held-out part."""
    val = load_image_set(plan.val, manifest.input, quiet=True)
    predictor = create_predictor(load_package(package_dir),
                                    PredictorOptions(max_batch_size=len(val), prefer_gpu=False))
    predictor.load()
    scores = [p.score for p in predictor.predict(list(val.images))]
    _, best_f1 = best_f1_threshold(val.labels, scores)
    return val, image_metrics(val.labels, scores, manifest.threshold).f1, best_f1


def test_threshold_is_calibrated_on_the_validation_part(classification_package: TrainResult,
                                                        small_synth: SyntheticPaths, tmp_path) -> None:
    """Re-derive the held-out part and score it through the runtime: the calibrated score's threshold is
    0.5 and there it makes the best-F1 decisions the calibration was pinned to."""
    manifest = classification_package.manifest
    plan = plan_data(tiny_config("classification", small_synth.classification_train,
                                 small_synth.classification_test, tmp_path / "unused"))
    lines = lambda samples: {s.line for s in samples}  # noqa: E731
    assert not lines(plan.val) & lines(plan.fit)
    assert manifest.training["validation"]["images"] == len(plan.val) > 0
    val, f1, best_f1 = _rederive_threshold(classification_package.package_dir, plan, manifest)
    assert manifest.threshold == 0.5 and manifest.training["validation"]["calibration"]["method"] == "platt-pinned"
    assert f1 == pytest.approx(manifest.training["validation"]["F1Score"]) == pytest.approx(best_f1)
    assert normalise(val.images[:1], manifest.input).shape == (1, 3, 64, 64)


def test_mirror_tta_package_scores_what_validation_chose(small_synth: SyntheticPaths, tmp_path) -> None:
    """With --tta the validation cache holds two views per image; the package's runtime scores (image and
    mirror averaged by the network) must reproduce the stored threshold and validation F1."""
    config = tiny_config("classification", small_synth.classification_train, small_synth.classification_test,
                         tmp_path / "tta", mirror_tta=True)
    result = train_model(config)
    manifest = result.manifest
    assert manifest.training["mirror_tta"] is True
    _, f1, best_f1 = _rederive_threshold(result.package_dir, plan_data(config), manifest)
    assert manifest.threshold == 0.5
    assert f1 == pytest.approx(manifest.training["validation"]["F1Score"]) == pytest.approx(best_f1)
