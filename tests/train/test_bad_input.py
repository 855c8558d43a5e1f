"""Bad datasets and options stop training with a message naming the problem, and leave no output behind."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import List

import pytest

from edge_runtime.cli.main import main
from edge_runtime.datasets.synth import SyntheticPaths
from edge_runtime.errors import DatasetError, InvalidArgument
from edge_runtime.train.config import TrainConfig
from edge_runtime.train.pipeline import train_model

from .conftest import tiny_config


def _copy(synth: SyntheticPaths, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(synth.root, root)
    return root


def _lines(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, lines: List[dict]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _corrupt_image(root: Path) -> str:
    manifest = root / "classification-train.manifest"
    image = root / _lines(manifest)[3]["source-ref"]
    image.write_bytes(image.read_bytes()[:200])
    return "corrupt or truncated PNG"


def _missing_file(root: Path) -> str:
    (root / _lines(root / "classification-train.manifest")[5]["source-ref"]).unlink()
    return "file not found"


def _wrong_key(root: Path) -> str:
    manifest = root / "classification-train.manifest"
    lines = _lines(manifest)
    lines[2]["source_ref"] = lines[2].pop("source-ref")
    _write(manifest, lines)
    return "expected 'source-ref'"


CASES = {"corrupt image": _corrupt_image, "missing file": _missing_file, "wrong manifest key": _wrong_key}


def _assert_nothing_written(output: Path) -> None:
    assert not output.exists()
    assert not [n for n in os.listdir(output.parent) if n.startswith("." + output.name)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_classification_data_is_named_and_leaves_nothing(case: str, small_synth: SyntheticPaths,
                                                             tmp_path: Path) -> None:
    root = _copy(small_synth, tmp_path)
    expected = CASES[case](root)
    output = tmp_path / "out" / "package"
    output.parent.mkdir()
    config = tiny_config("classification", str(root / "classification-train.manifest"),
                         str(root / "classification-test.manifest"), output)
    with pytest.raises(DatasetError, match=expected):
        train_model(config)
    _assert_nothing_written(output)


def test_empty_class_is_named_and_leaves_nothing(small_synth: SyntheticPaths, tmp_path: Path) -> None:
    root = _copy(small_synth, tmp_path)
    manifest = root / "segmentation-train.manifest"
    lines = _lines(manifest)
    for line in lines:  # a fourth class in every colour map that no mask ever paints
        meta = line.get("anomaly-mask-ref-metadata")
        if meta:
            meta["internal-color-map"]["4"] = {"class-name": "stain", "hex-color": "#9380FF"}
    _write(manifest, lines)
    output = tmp_path / "out" / "package"
    output.parent.mkdir()
    config = tiny_config("segmentation", str(manifest), str(root / "segmentation-test.manifest"), output)
    with pytest.raises(DatasetError, match="empty class 'stain'"):
        train_model(config)
    _assert_nothing_written(output)


def test_failure_after_training_started_leaves_nothing(small_synth: SyntheticPaths, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing the package (here: the export) removes the staged folder too."""
    import edge_runtime.train.pipeline as pipeline

    def broken_export(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "export_onnx", broken_export)
    output = tmp_path / "package"
    with pytest.raises(RuntimeError, match="disk full"):
        train_model(tiny_config("classification", small_synth.classification_train,
                                small_synth.classification_test, output))
    _assert_nothing_written(output)


def test_segmentation_needs_masks(small_synth: SyntheticPaths, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="needs a segmentation manifest"):
        train_model(tiny_config("segmentation", small_synth.classification_train, None, tmp_path / "p"))


def test_non_empty_output_is_refused(small_synth: SyntheticPaths, tmp_path: Path) -> None:
    output = tmp_path / "busy"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    with pytest.raises(InvalidArgument, match="not empty"):
        train_model(tiny_config("classification", small_synth.classification_train, None, output))
    assert os.listdir(output) == ["keep.txt"]


@pytest.mark.parametrize("field, value, message", [
    ("task", "detection", "--task"), ("image_size", 8, "--image-size"), ("backbone", "resnet", "--backbone"),
    ("name", "bad name!", "--name"), ("epochs", 0, "--epochs"), ("val_fraction", 0.9, "validation fraction"),
])
def test_config_is_validated_on_creation(field: str, value: object, message: str) -> None:
    options = {"task": "classification", "train_manifest": "m", "output": "o", field: value}
    with pytest.raises(InvalidArgument, match=message):
        TrainConfig(**options)  # type: ignore[arg-type]


def test_cli_reports_the_problem_with_exit_code_2(small_synth: SyntheticPaths, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = _copy(small_synth, tmp_path)
    _missing_file(root)
    output = tmp_path / "package"
    code = main(["train", "--manifest", str(root / "classification-train.manifest"), "--task", "classification",
                 "--output", str(output), "--backbone", "tiny", "--image-size", "64", "--quiet"])
    assert code == 2
    assert "file not found" in capsys.readouterr().err
    _assert_nothing_written(output)

