"""From manifests to the four sample sets training needs, with every dataset check done up front.

Order matters: manifests are parsed and Lookout's limits checked (every image header, every mask)
before a single network weight is touched, so a bad dataset fails in seconds with a named problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

from edge_runtime.datasets.limits import check_project
from edge_runtime.datasets.manifest import read_manifest
from edge_runtime.datasets.split import split_dataset
from edge_runtime.datasets.types import Dataset, MaskClass, Sample
from edge_runtime.errors import DatasetError
from edge_runtime.modelpkg.manifest import ClassInfo
from edge_runtime.train.config import TrainConfig

BACKGROUND = ClassInfo(0, "background", "#FFFFFF")


@dataclass(frozen=True)
class DataPlan:
    train: Dataset
    test: Optional[Dataset]
    fit: Tuple[Sample, ...]  # trains the network
    val: Tuple[Sample, ...]  # held out from training: picks the epoch, calibrates the threshold
    test_samples: Tuple[Sample, ...]  # only for the final metrics
    source_size: Tuple[int, int]  # (width, height) of the dataset's images
    mask_classes: Tuple[MaskClass, ...]  # segmentation: the project's anomaly classes

    def model_classes(self) -> Tuple[ClassInfo, ...]:
        if not self.mask_classes:
            return ()
        return (BACKGROUND,) + tuple(ClassInfo(i, c.name, c.color.upper())
                                     for i, c in enumerate(self.mask_classes, start=1))

    def counts(self) -> Dict[str, Dict[str, int]]:
        def count(samples: Tuple[Sample, ...]) -> Dict[str, int]:
            anomalous = sum(1 for s in samples if s.label == 1)
            return {"normal": len(samples) - anomalous, "anomaly": anomalous, "total": len(samples)}

        return {"train": count(self.fit + self.val), "fit": count(self.fit), "validation": count(self.val),
                "test": count(self.test_samples)}


def _need_both_labels(samples: Tuple[Sample, ...], path: str) -> None:
    anomalous = sum(1 for s in samples if s.label == 1)
    normal = len(samples) - anomalous
    if anomalous < 2 or normal < 2:
        raise DatasetError("training needs at least 2 normal and 2 anomalous labelled images (some are held out "
                           "to calibrate the threshold); the training part has %d normal and %d anomalous"
                           % (normal, anomalous), path)


def plan_data(config: TrainConfig) -> DataPlan:
    train = read_manifest(config.train_manifest)
    test = read_manifest(config.test_manifest) if config.test_manifest else None
    if config.task == "segmentation":
        for dataset in (train, test):
            if dataset is not None and dataset.task != "segmentation":
                raise DatasetError("--task segmentation needs a segmentation manifest (lines with an "
                                   "anomaly-mask-ref and its color map); this one has no masks", dataset.path)
    train_report, _ = check_project(train, test)
    if test is None:
        train_samples, test_samples = split_dataset(train, config.test_fraction, config.seed)
    else:
        train_samples, test_samples = tuple(train.labeled), tuple(test.labeled)
    _need_both_labels(train_samples, train.path)
    fit, val = split_dataset(replace(train, samples=train_samples), config.val_fraction, config.seed + 1)
    width, height = next(iter(train_report.sizes)) if train_report.sizes else (0, 0)
    classes = train.classes if config.task == "segmentation" else ()
    return DataPlan(train, test, fit, val, tuple(test_samples), (width, height), tuple(classes))
