"""From manifests to the four sample sets training needs, with every dataset check done up front.

Order matters: manifests are parsed and Lookout's limits checked (every image header, every mask)
before a single network weight is touched, so a bad dataset fails in seconds with a named problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

from edge_runtime.datasets.limits import MIN_NORMAL, check_project
from edge_runtime.datasets.manifest import read_manifest
from edge_runtime.datasets.split import split_dataset
from edge_runtime.datasets.types import Dataset, MaskClass, Sample
from edge_runtime.errors import DatasetError
from edge_runtime.modelpkg.manifest import ClassInfo
from edge_runtime.train.config import TrainConfig

BACKGROUND = ClassInfo(0, "background", "#FFFFFF")
ANY_ANOMALY = MaskClass("anomaly", "#FF0000")  # the one class of a one-class segmentation map
FEW_ANOMALIES = 5  # fewer anomalous training images than this: a one-class model on the normal ones
SUPERVISED, ONE_CLASS = "supervised", "one-class"


@dataclass(frozen=True)
class DataPlan:
    train: Dataset
    test: Optional[Dataset]
    fit: Tuple[Sample, ...]  # trains the network
    val: Tuple[Sample, ...]  # held out from training: picks the epoch, calibrates the threshold
    test_samples: Tuple[Sample, ...]  # only for the final metrics
    source_size: Tuple[int, int]  # (width, height) of the dataset's images
    mask_classes: Tuple[MaskClass, ...]  # segmentation: the project's anomaly classes
    method: str = SUPERVISED  # or ONE_CLASS: trained on the normal images only

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


def _need_normal(samples: Tuple[Sample, ...], path: str) -> None:
    normal = sum(1 for s in samples if s.label == 0)
    if normal < MIN_NORMAL["train"]:
        raise DatasetError("normal-only training needs at least %d normal images (Lookout's minimum); the "
                           "training part has %d" % (MIN_NORMAL["train"], normal), path)


def choose_method(samples: Tuple[Sample, ...], normal_only: bool) -> str:
    """One-class when asked for, or when the training part holds fewer than FEW_ANOMALIES anomalies."""
    anomalous = sum(1 for s in samples if s.label == 1)
    return ONE_CLASS if normal_only or anomalous < FEW_ANOMALIES else SUPERVISED


def _fit_and_validation(train: Dataset, samples: Tuple[Sample, ...], method: str, config: TrainConfig
                        ) -> Tuple[Tuple[Sample, ...], Tuple[Sample, ...]]:
    """Supervised: a stratified split. One-class: the normal images are split (the memory bank holds the fit
    part only, the validation part sets the threshold); anomalous training images, if any, join validation."""
    if method == SUPERVISED:
        _need_both_labels(samples, train.path)
        return split_dataset(replace(train, samples=samples), config.val_fraction, config.seed + 1)
    _need_normal(samples, train.path)
    normal = tuple(s for s in samples if s.label == 0)
    fit, val = split_dataset(replace(train, samples=normal), config.val_fraction, config.seed + 1)
    held_out = {s.line for s in val} | {s.line for s in samples if s.label == 1}
    return fit, tuple(s for s in samples if s.line in held_out)


def _check_segmentation(train: Dataset, test: Optional[Dataset], method: str) -> None:
    """Segmentation needs masks, except a normal-only training set (it has nothing to draw a mask on)."""
    for dataset in (train, test):
        if dataset is None or dataset.task == "segmentation":
            continue
        if dataset is train and method == ONE_CLASS and not any(s.label == 1 for s in train.labeled):
            continue
        raise DatasetError("--task segmentation needs a segmentation manifest (lines with an "
                           "anomaly-mask-ref and its color map); this one has no masks", dataset.path)


def plan_data(config: TrainConfig) -> DataPlan:
    train = read_manifest(config.train_manifest)
    test = read_manifest(config.test_manifest) if config.test_manifest else None
    if config.task == "segmentation":
        _check_segmentation(train, test, choose_method(tuple(train.labeled), config.normal_only))
    try:
        train_report, _ = check_project(train, test)
    except DatasetError as exc:
        if config.normal_only and test is None:  # what the user asked for needs a separate test set
            raise DatasetError("%s\nnormal-only training takes a train manifest of normal images and the test "
                               "images from --test-manifest; a single manifest is split into train and test as "
                               "Lookout did, so it needs anomalous images too" % exc) from exc
        raise
    if test is None:
        train_samples, test_samples = split_dataset(train, config.test_fraction, config.seed)
    else:
        train_samples, test_samples = tuple(train.labeled), tuple(test.labeled)
    method = choose_method(train_samples, config.normal_only)
    fit, val = _fit_and_validation(train, train_samples, method, config)
    width, height = next(iter(train_report.sizes)) if train_report.sizes else (0, 0)
    classes: Tuple[MaskClass, ...] = ()
    if config.task == "segmentation":
        classes = (ANY_ANOMALY,) if method == ONE_CLASS else tuple(train.classes)
    return DataPlan(train, test, fit, val, tuple(test_samples), (width, height), classes, method)
