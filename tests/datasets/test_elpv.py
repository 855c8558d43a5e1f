"""ELPV manifests from the installed elpv-dataset package (a dev/bench dependency)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from edge_runtime.datasets import elpv
from edge_runtime.datasets.manifest import read_manifest
from edge_runtime.errors import MissingExtra
from tests.datasets.builders import textured, write_image


def test_fabricated_labels_map_probabilities_and_split_stratified(tmp_path):
    data = tmp_path / "data"
    rows = []
    for i, probability in enumerate([0.0] * 10 + [1.0] * 5 + [0.3333333333333333, 0.6666666666666666]):
        write_image(str(data / "images" / ("cell%04d.png" % i)), textured(64, 64, seed=i))
        rows.append("images/cell%04d.png  %s  mono" % (i, probability))
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    train_path, test_path = elpv.write_elpv_manifests(str(tmp_path / "out"), data_dir=str(data))
    train, test = read_manifest(train_path), read_manifest(test_path)
    assert train.counts() == {"total": 12, "normal": 8, "anomaly": 4, "unlabeled": 0}
    assert test.counts() == {"total": 3, "normal": 2, "anomaly": 1, "unlabeled": 0}
    refs = [s.image_ref for s in train.samples + test.samples]
    assert all(r.startswith(str(data / "images")) and os.path.isfile(r) for r in refs)
    assert sorted(os.listdir(tmp_path / "out")) == ["elpv-test.manifest", "elpv-train.manifest"]


def test_missing_package_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "elpv_dataset" else real(name))
    with pytest.raises(MissingExtra, match=r"elpv-dataset.*edge-runtime\[dev\]"):
        elpv.write_elpv_manifests("unused")


def test_installed_package_gives_fixed_80_20_split(tmp_path):
    pytest.importorskip("elpv_dataset")
    train_path, test_path = elpv.write_elpv_manifests(str(tmp_path), seed=0)
    train, test = read_manifest(train_path), read_manifest(test_path)
    assert train.counts()["normal"] + test.counts()["normal"] == 1508
    assert train.counts()["anomaly"] + test.counts()["anomaly"] == 715
    assert (test.counts()["normal"], test.counts()["anomaly"]) == (302, 143)
    again = elpv.write_elpv_manifests(str(tmp_path / "again"), seed=0)
    assert Path(again[1]).read_text() == Path(test_path).read_text()
    assert not any(name.endswith(".png") for name in os.listdir(tmp_path))
