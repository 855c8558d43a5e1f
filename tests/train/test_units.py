"""Small pieces of training: input size, views, class mapping, staged package folder, calibration file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.datasets.images import class_lookup
from edge_runtime.datasets.types import MaskClass, Sample
from edge_runtime.errors import InvalidArgument
from edge_runtime.progress import Progress
from edge_runtime.train.features import dihedral_numpy, views_for
from edge_runtime.train.package import staged_package, write_calibration
from edge_runtime.train.pipeline import input_spec


def test_input_spec_keeps_aspect_ratio() -> None:
    assert (input_spec((300, 300), 224).width, input_spec((300, 300), 224).height) == (224, 224)
    wide = input_spec((640, 480), 256)
    assert (wide.width, wide.height) == (256, 192)
    tall = input_spec((480, 640), 256)
    assert (tall.width, tall.height) == (192, 256)


def test_views_are_distinct_and_shape_preserving() -> None:
    image = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    square = views_for(8, square=True)
    assert len(set(square)) == 8 and square[0] == 0
    outputs = {dihedral_numpy(image, v).tobytes() for v in square}
    assert len(outputs) == 8  # eight different images
    assert views_for(8, square=False) == [0, 4, 2, 6]  # no 90-degree turns on non-square inputs
    mask = image[..., 0]
    for v in square:  # images and masks move together
        np.testing.assert_array_equal(dihedral_numpy(image, v)[..., 0], dihedral_numpy(mask, v))


def test_class_lookup_maps_by_name_not_position() -> None:
    project = [MaskClass("scratch", "#23A436"), MaskClass("dent", "#14A3B3")]
    sample = Sample(image_ref="x.png", label=1, line=1, mask_ref="m.png",
                    mask_classes=(MaskClass("dent", "#14A3B3"), MaskClass("stain", "#000000")))
    lut = class_lookup(sample, project)
    assert lut[1] == 2  # the line's first class is the project's second
    assert lut[2] == 0  # a class training never saw counts as background


def test_staged_package_is_all_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "pkg"
    with pytest.raises(RuntimeError), staged_package(str(target)) as staging:
        Path(staging, "model.onnx").write_text("half")
        raise RuntimeError("boom")
    assert not target.exists() and os.listdir(tmp_path) == []
    with staged_package(str(target)) as staging:
        Path(staging, "model.onnx").write_text("whole")
    assert (target / "model.onnx").read_text() == "whole"
    with pytest.raises(InvalidArgument, match="not empty"), staged_package(str(target)):
        pass


def test_calibration_holds_at_most_64_images(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 255, (70, 8, 8, 3), dtype=np.uint8)
    path = write_calibration(str(tmp_path), images)
    with np.load(path) as data:
        assert data["images"].shape == (64, 8, 8, 3) and data["images"].dtype == np.uint8
    with pytest.raises(ValueError, match="uint8"):
        write_calibration(str(tmp_path), images.astype(np.float32))


def test_progress_prints_eta_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress("train", 2, every=0.0)
    progress.step(note="loss 0.5")
    progress.step()
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[train] 1/2 loss 0.5 elapsed") and "eta" in err[0]
    assert err[1].startswith("[train] 2/2")


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 6, 9, 10, 50])
def test_lr_schedule_runs_for_short_trainings(steps: int) -> None:
    """One epoch over a small dataset is a handful of steps: torch's OneCycleLR alone divided by zero."""
    import torch

    from edge_runtime.train.schedule import one_cycle

    optimiser = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=2e-3)
    schedule = one_cycle(optimiser, 2e-3, steps, 0.2)
    rates = []
    for _ in range(steps):
        optimiser.step()
        schedule.step()
        rates.append(optimiser.param_groups[0]["lr"])
    assert all(0 < r <= 2e-3 + 1e-12 for r in rates[:-1]), rates


def test_one_epoch_training_completes(small_synth, tmp_path: Path) -> None:
    from edge_runtime.train.pipeline import train_model

    from .conftest import tiny_config

    result = train_model(tiny_config("classification", small_synth.classification_train,
                                     small_synth.classification_test,
                                     tmp_path / "one", epochs=1, views=1))
    assert result.manifest.training["epochs"] == 1
