"""`edge-runtime train` then `edge-runtime evaluate` in-process: Lookout's JSON shapes and the plots."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Tuple

import cv2
import numpy as np
import pytest

from edge_runtime.cli.main import main
from edge_runtime.datasets.synth import SynthConfig, SyntheticPaths, write_synthetic_dataset
from edge_runtime.evaluate.metrics import image_metrics

RESULT_METRICS = {"ROCAUC", "AveragePrecision", "Precision", "Recall", "F1Score"}
DETECTED_METADATA = {"class-name", "confidence", "type", "human-annotated", "creation-date", "job-name",
                     "model-arn", "project-name", "model-version"}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SyntheticPaths:
    config = SynthConfig(normal_train=12, anomalous_train=12, normal_test=10, anomalous_test=10, size=64)
    return write_synthetic_dataset(str(tmp_path_factory.mktemp("eval") / "data"), config=config)


@pytest.fixture(scope="module")
def trained(synth: SyntheticPaths, tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, str]:
    """(package folder, what `train` printed)."""
    output = tmp_path_factory.mktemp("pkg") / "parts"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", "--manifest", synth.segmentation_train, "--test-manifest", synth.segmentation_test,
                 "--task", "segmentation", "--output", str(output), "--name", "parts", "--backbone", "tiny",
                     "--image-size", "64", "--epochs", "1", "--views", "1", "--quiet"])
    assert code == 0
    return output, printed.getvalue()


@pytest.fixture(scope="module")
def seg_package(trained: Tuple[Path, str]) -> Path:
    return trained[0]


def test_train_prints_a_summary(trained: Tuple[Path, str]) -> None:
    package, printed = trained
    assert "model package: %s" % package in printed
    assert "threshold" in printed and "ROC AUC" in printed and "pixel crack" in printed


def test_evaluate_writes_lookout_files(seg_package: Path, synth: SyntheticPaths, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "evaluation"
    assert main(["evaluate", "--model", str(seg_package), "--manifest", synth.segmentation_test,
                 "--output", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "ROC AUC" in printed and "pixel scratch" in printed

    result = json.loads((out / "EvaluationResult-parts.json").read_text())
    assert set(result) == {"Version", "EvaluationDetails", "AggregatedEvaluationResults"}
    assert result["Version"] == 1
    assert set(result["EvaluationDetails"]) == {"ModelArn", "EvaluationEndTimestamp", "NumberOfTrainingImages",
                                                "NumberOfTestingImages"}
    assert result["EvaluationDetails"]["NumberOfTrainingImages"] == 24
    assert result["EvaluationDetails"]["NumberOfTestingImages"] == 20
    metrics = result["AggregatedEvaluationResults"]["Metrics"]
    assert set(metrics) == RESULT_METRICS | {"PixelAnomalyClassMetrics"}
    assert [m["ClassName"] for m in metrics["PixelAnomalyClassMetrics"]] == ["scratch", "dent", "crack"]
    for entry in metrics["PixelAnomalyClassMetrics"]:
        assert set(entry) == {"ClassName", "Precision", "Recall", "F1Score", "AIOU"}

    lines = [json.loads(t) for t in (out / "EvaluationManifest-parts.json").read_text().splitlines()]
    test_lines = [json.loads(t) for t in Path(synth.segmentation_test).read_text().splitlines()]
    assert len(lines) == len(test_lines) == 20
    for line, original in zip(lines, test_lines):
        assert {k: v for k, v in line.items() if not k.startswith("anomaly-label-detected")} == original
        assert line["anomaly-label-detected"] in (0, 1)
        meta = line["anomaly-label-detected-metadata"]
        assert set(meta) == DETECTED_METADATA
        assert meta["class-name"] == ("anomaly" if line["anomaly-label-detected"] else "normal")
        assert meta["human-annotated"] == "no" and meta["project-name"] == "parts"
        assert 0.5 <= meta["confidence"] <= 1.0  # the confidence in the verdict it sits beside

    # the JSON's precision and recall follow from the detected labels it lists
    truth = np.array([line["anomaly-label"] for line in lines])
    detected = np.array([line["anomaly-label-detected"] for line in lines])
    tp = int(((truth == 1) & (detected == 1)).sum())
    assert metrics["Recall"] == pytest.approx(tp / max(1, int(truth.sum())), abs=1e-6)
    assert metrics["Precision"] == pytest.approx(tp / max(1, int(detected.sum())), abs=1e-6)

    for plot in ("roc.png", "precision-recall.png", "reliability.png"):
        image = cv2.imread(str(out / plot))
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
    calibration = json.loads((out / "calibration.json").read_text())
    assert sum(b["Images"] for b in calibration["Bins"]) == 20 and calibration["Threshold"] == 0.5
    assert 0.0 <= calibration["ExpectedCalibrationError"] <= 1.0 and calibration["Warnings"] == []
    assert "expected calibration error" in printed
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".eval-")]


def _subset_manifest(source: str, target: Path, normal: int, anomalous: int) -> str:
    lines = [json.loads(t) for t in Path(source).read_text().splitlines()]
    picked = [x for x in lines if x["anomaly-label"] == 0][:normal] + [x for x in lines if x["anomaly-label"] == 1][
        :anomalous]
    target.write_text("".join(json.dumps(x) + "\n" for x in picked))
    return str(target)


def test_evaluate_a_tiny_set_warns_and_writes_everything(seg_package: Path, synth: SyntheticPaths, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """One normal and one anomalous image: below Lookout's test minimum, so a warning, but every output."""
    manifest = _subset_manifest(synth.segmentation_test, Path(synth.root) / "two.manifest", 1, 1)
    out = tmp_path / "evaluation"
    assert main(["evaluate", "--model", str(seg_package), "--manifest", manifest, "--output", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "warning: only 1 normal and 1 anomalous test images" in printed and "noisy" in printed
    assert {p.name for p in out.iterdir()} == {"EvaluationResult-parts.json", "EvaluationManifest-parts.json",
                                               "roc.png", "precision-recall.png", "reliability.png",
                                               "calibration.json"}
    assert json.loads((out / "calibration.json").read_text())["Warnings"]
    result = json.loads((out / "EvaluationResult-parts.json").read_text())
    assert result["EvaluationDetails"]["NumberOfTestingImages"] == 2


def test_evaluate_needs_one_image_of_each_label(seg_package: Path, synth: SyntheticPaths, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _subset_manifest(synth.segmentation_test, Path(synth.root) / "normal-only.manifest", 3, 0)
    out = tmp_path / "evaluation"
    assert main(["evaluate", "--model", str(seg_package), "--manifest", manifest, "--output", str(out)]) == 2
    assert "0 anomalous images; a evaluate dataset needs at least 1" in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_refuses_classification_manifest_for_segmentation(seg_package: Path, synth: SyntheticPaths,
                                                                   tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "evaluation"
    assert main(["evaluate", "--model", str(seg_package), "--manifest", synth.classification_test,
                 "--output", str(out)]) == 2
    assert "segmentation test manifest" in capsys.readouterr().err
    assert not out.exists()


def test_image_metrics_of_stored_package_match_recomputation(seg_package: Path) -> None:
    manifest = json.loads((seg_package / "edge-model.json").read_text())
    counts = manifest["metrics"]["Counts"]
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    assert manifest["metrics"]["F1Score"] == pytest.approx(2 * tp / max(1, 2 * tp + fp + fn))
    labels = [1] * (tp + fn) + [0] * (fp + counts["tn"])
    assert image_metrics(labels, [1.0] * tp + [0.0] * fn + [1.0] * fp + [0.0] * counts["tn"], 0.5).f1 == \
        pytest.approx(manifest["metrics"]["F1Score"])
