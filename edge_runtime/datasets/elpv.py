"""Lookout classification manifests for the ELPV solar-cell images (the `elpv-dataset` package).

Defect probability 0.0 is normal, 1.0 anomalous; the uncertain 1/3 and 2/3 cells are left out. A fixed
random, stratified 80/20 split gives a training and a test manifest that point at the package's own
image files by absolute path: the images are never copied into the repository or the output folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from typing import List, Optional, Tuple

from edge_runtime.datasets.split import split_dataset
from edge_runtime.datasets.types import Dataset, Sample
from edge_runtime.errors import DatasetError, MissingExtra

TRAIN_NAME = "elpv-train.manifest"
TEST_NAME = "elpv-test.manifest"
LABELS = {0.0: "normal", 1.0: "anomaly"}


def elpv_data_dir() -> str:
    """Folder holding labels.csv and images/ of the installed package (a dev/bench dependency)."""
    spec = importlib.util.find_spec("elpv_dataset")
    if spec is None or not spec.origin:
        raise MissingExtra("elpv-dataset", "dev")
    return os.path.join(os.path.dirname(spec.origin), "data")


def read_elpv_labels(data_dir: str) -> List[Tuple[str, int]]:
    """(absolute image path, 0/1) for every cell with probability exactly 0 or 1, in file order."""
    labels_path = os.path.join(data_dir, "labels.csv")
    rows: List[Tuple[str, int]] = []
    with open(labels_path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            fields = text.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise DatasetError("expected 'path probability type', got %r" % text.strip(), labels_path, number)
            try:
                probability = float(fields[1])
            except ValueError:
                raise DatasetError("expected a probability, got %r" % fields[1], labels_path, number) from None
            if probability in LABELS:
                rows.append((os.path.join(data_dir, fields[0]), int(probability == 1.0)))
    return rows


def _line(path: str, label: int) -> str:
    return json.dumps({
        "source-ref": path,
        "anomaly-label": label,
        "anomaly-label-metadata": {
            "class-name": "anomaly" if label else "normal", "type": "groundtruth/image-classification",
            "human-annotated": "yes", "job-name": "elpv-dataset",
        },
    }, sort_keys=True)


def write_elpv_manifests(output_dir: str, seed: int = 0, test_fraction: float = 0.2,
                         data_dir: Optional[str] = None) -> Tuple[str, str]:
    """Write elpv-train.manifest and elpv-test.manifest under `output_dir`; return their paths."""
    rows = read_elpv_labels(data_dir or elpv_data_dir())
    samples = tuple(Sample(image_ref=path, label=label, line=i) for i, (path, label) in enumerate(rows, 1))
    dataset = Dataset(path="elpv-dataset", samples=samples, task="classification", label_attribute="anomaly-label")
    train, test = split_dataset(dataset, test_fraction=test_fraction, seed=seed)
    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for name, part in ((TRAIN_NAME, train), (TEST_NAME, test)):
        target = os.path.abspath(os.path.join(output_dir, name))
        _write_atomic(target, "".join(_line(s.image_ref, int(s.label or 0)) + "\n" for s in part))
        paths.append(target)
    return paths[0], paths[1]


def _write_atomic(target: str, text: str) -> None:
    handle, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", dir=os.path.dirname(target))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
