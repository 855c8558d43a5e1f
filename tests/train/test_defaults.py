"""Defaults that fit the data: input size from the images' size and the time budget, TTA on validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_runtime.datasets.synth import SyntheticPaths
from edge_runtime.errors import InvalidArgument
from edge_runtime.train.defaults import SIZES, choose_image_size, estimated_seconds, prefer_tta, view_images
from edge_runtime.train.pipeline import TrainResult, train_model

from .conftest import tiny_config


def test_small_images_are_never_enlarged() -> None:
    choice = choose_image_size((200, 200), 100, 50, 4, "classification", budget=3600)
    assert choice.image_size == 200
    assert "200x200" in choice.reasons[0]


def test_elpv_sized_project_keeps_its_detail_within_ten_minutes() -> None:
    # ELPV 70/30: 1,556 training and 667 test cells of 300x300
    choice = choose_image_size((300, 300), 1556, 667, 4, "classification", budget=600)
    assert choice.image_size == 300
    assert estimated_seconds(300, view_images(1556, 667, 4, "classification")) <= 600


def test_a_tight_budget_shrinks_the_input() -> None:
    roomy = choose_image_size((1024, 768), 1000, 200, 4, "classification", budget=3600)
    tight = choose_image_size((1024, 768), 1000, 200, 4, "classification", budget=300)
    assert roomy.image_size > tight.image_size >= SIZES[0]
    assert "budget" in tight.reasons[0]
    work = view_images(1000, 200, 4, "classification")
    assert estimated_seconds(tight.image_size, work) <= 300 < estimated_seconds(
        SIZES[SIZES.index(tight.image_size) + 1], work)


def test_an_impossible_budget_gives_the_smallest_size_and_says_so() -> None:
    choice = choose_image_size((2000, 2000), 50_000, 5_000, 8, "segmentation", budget=60)
    assert choice.image_size == SIZES[0]
    assert "over the 60 s budget" in choice.reasons[0]


def test_segmentation_costs_more_than_classification() -> None:
    cls = choose_image_size((1024, 1024), 2000, 500, 4, "classification", budget=900)
    seg = choose_image_size((1024, 1024), 2000, 500, 4, "segmentation", budget=900)
    assert seg.image_size < cls.image_size


def test_tta_is_kept_only_when_validation_says_it_pays() -> None:
    assert prefer_tta(0.90, 0.91)[0] is True
    assert prefer_tta(0.91, 0.91)[0] is True  # a tie keeps it: the mirrored mean is the steadier score
    keep, why = prefer_tta(0.92, 0.91)
    assert keep is False and "0.9100 with, 0.9200 without" in why


def test_time_budget_is_validated(small_synth: SyntheticPaths, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="time-budget"):
        tiny_config("classification", small_synth.classification_train, None, tmp_path / "p", time_budget=5)


def test_summary_says_what_was_chosen_and_why(small_synth: SyntheticPaths, tmp_path: Path) -> None:
    config = tiny_config("classification", small_synth.classification_train, small_synth.classification_test,
                         tmp_path / "p", image_size=None, mirror_tta=None)
    result: TrainResult = train_model(config)
    training = result.manifest.training
    assert training["input_size"] == [128, 128]  # 64 px images: the smallest automatic input
    reasons = training["defaults"]
    assert "64x64: enlarged to 128 px" in reasons[0] and reasons[1].startswith("mirror TTA ")
    assert training["mirror_tta"] == reasons[1].startswith("mirror TTA on")


def test_explicit_options_win(classification_package: TrainResult) -> None:
    training = classification_package.manifest.training
    assert training["defaults"][0] == "--image-size 64 given"
