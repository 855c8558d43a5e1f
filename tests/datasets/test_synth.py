"""The synthetic dataset: deterministic, right shapes, masks in the manifest's colours."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from edge_runtime.datasets.images import color_to_rgb, load_image, load_mask
from edge_runtime.datasets.manifest import read_manifest
from edge_runtime.datasets.synth import SynthConfig, write_synthetic_dataset
from edge_runtime.errors import InvalidArgument

SMALL = dict(normal_train=4, anomalous_train=6, normal_test=2, anomalous_test=3, size=96)


def _digest(root: str) -> dict:
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return out


def test_same_seed_writes_identical_files_and_other_seed_differs(tmp_path):
    a = write_synthetic_dataset(str(tmp_path / "a"), config=SynthConfig(seed=3, **SMALL))
    b = write_synthetic_dataset(str(tmp_path / "b"), config=SynthConfig(seed=3, **SMALL))
    c = write_synthetic_dataset(str(tmp_path / "c"), config=SynthConfig(seed=4, **SMALL))
    assert _digest(a.root) == _digest(b.root)
    assert _digest(a.root) != _digest(c.root)


def test_manifests_counts_shapes_and_mask_colours(tmp_path):
    paths = write_synthetic_dataset(str(tmp_path / "s"), config=SynthConfig(seed=1, **SMALL))
    cls_train = read_manifest(paths.classification_train)
    assert cls_train.task == "classification"
    assert cls_train.counts() == {"total": 10, "normal": 4, "anomaly": 6, "unlabeled": 0}
    seg_test = read_manifest(paths.segmentation_test)
    assert seg_test.task == "segmentation"
    assert [c.color for c in seg_test.classes] == ["#23A436", "#14A3B3", "#F76902"]
    allowed = {color_to_rgb(c.color) for c in seg_test.classes} | {(255, 255, 255)}
    for sample in read_manifest(paths.segmentation_train).samples + seg_test.samples:
        image = load_image(sample.image_ref)
        assert image.shape == (96, 96, 3) and image.dtype == np.uint8
        assert image.std() > 2.0  # textured, not flat
        if sample.label == 0:
            assert sample.mask_ref is None
            continue
        mask = load_mask(sample.mask_ref)
        colours = {tuple(int(v) for v in px) for px in np.unique(mask.reshape(-1, 3), axis=0)}
        assert colours <= allowed
        defect = (mask != 255).any(axis=2).mean()
        assert 0.01 < defect < 0.15  # a few percent of the image


def test_refuses_non_empty_output_and_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(InvalidArgument, match="not empty"):
        write_synthetic_dataset(str(target), config=SynthConfig(**SMALL))
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert os.listdir(target) == ["keep.txt"]


def test_config_is_validated():
    with pytest.raises(InvalidArgument, match="64..4096"):
        SynthConfig(size=32)
    with pytest.raises(InvalidArgument, match="texture"):
        SynthConfig(texture="velvet")
