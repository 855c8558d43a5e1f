"""Small helpers for the server tests: synthetic data in S3 or in the embedded object folder, waiting."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Callable

from edge_runtime.datasets.synth import SynthConfig, SyntheticPaths, write_synthetic_dataset


def synthetic(root: str, normal: int = 12, anomalous: int = 12, size: int = 64, seed: int = 0) -> SyntheticPaths:
    config = SynthConfig(seed=seed, normal_train=normal, anomalous_train=anomalous, normal_test=normal // 2,
                         anomalous_test=anomalous // 2, size=size)
    return write_synthetic_dataset(root, config=config)


def upload_tree(s3: Any, bucket: str, root: str, prefix: str) -> None:
    """Every file under `root` to s3://bucket/prefix/<relative path>."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            key = "%s/%s" % (prefix, os.path.relpath(path, root).replace(os.sep, "/"))
            s3.upload_file(path, bucket, key)


def copy_to_objects(objects_dir: str, bucket: str, root: str, prefix: str) -> None:
    """The embedded mode's object folder holds s3://bucket/prefix/... as <objects>/bucket/prefix/..."""
    shutil.copytree(root, os.path.join(objects_dir, bucket, prefix))


def wait_for(fetch: Callable[[], str], done: tuple[str, ...], timeout: float = 120.0) -> str:
    """Poll a status until it is one of `done` (what Lookout scripts do); returns the last status."""
    deadline = time.monotonic() + timeout
    status = fetch()
    while status not in done and time.monotonic() < deadline:
        time.sleep(0.1)
        status = fetch()
    return status


def dataset_status(lv: Any, project: str, dataset_type: str = "train") -> Callable[[], str]:
    return lambda: lv.describe_dataset(ProjectName=project, DatasetType=dataset_type)["DatasetDescription"]["Status"]


def model_status(lv: Any, project: str, version: str) -> Callable[[], str]:
    return lambda: lv.describe_model(ProjectName=project, ModelVersion=version)["ModelDescription"]["Status"]
