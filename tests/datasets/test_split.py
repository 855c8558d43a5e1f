"""Splitting a single dataset: stratified by label, unlabeled left out, deterministic by seed."""

from __future__ import annotations

import pytest

from edge_runtime.datasets.split import split_dataset
from edge_runtime.datasets.types import Dataset, Sample
from edge_runtime.errors import DatasetError, InvalidArgument


def _dataset(normal: int, anomalous: int, unlabeled: int = 0) -> Dataset:
    labels = [0] * normal + [1] * anomalous + [None] * unlabeled
    samples = tuple(Sample(image_ref="/img/%d.png" % i, label=label, line=i + 1) for i, label in enumerate(labels))
    return Dataset(path="m.manifest", samples=samples, task="classification", label_attribute="anomaly-label")


def test_stratified_disjoint_and_unlabeled_excluded():
    dataset = _dataset(50, 20, unlabeled=3)
    train, test = split_dataset(dataset)
    assert sum(s.label == 0 for s in test) == 10 and sum(s.label == 1 for s in test) == 4
    assert sum(s.label == 0 for s in train) == 40 and sum(s.label == 1 for s in train) == 16
    assert not {s.line for s in train} & {s.line for s in test}
    assert {s.line for s in train + test} == {s.line for s in dataset.labeled}
    assert [s.line for s in test] == sorted(s.line for s in test)  # manifest order kept


def test_same_seed_same_split_other_seed_differs():
    dataset = _dataset(40, 40)
    assert split_dataset(dataset, seed=7) == split_dataset(dataset, seed=7)
    assert split_dataset(dataset, seed=7)[1] != split_dataset(dataset, seed=8)[1]
    assert len(split_dataset(dataset, test_fraction=0.5)[1]) == 40


def test_small_groups_keep_one_image_on_each_side():
    train, test = split_dataset(_dataset(20, 2))
    assert sum(s.label == 1 for s in test) == 1 and sum(s.label == 1 for s in train) == 1


def test_bad_inputs():
    with pytest.raises(InvalidArgument, match="between 0 and 1"):
        split_dataset(_dataset(5, 5), test_fraction=1.0)
    with pytest.raises(DatasetError, match="no labeled images"):
        split_dataset(_dataset(0, 0, unlabeled=4))
