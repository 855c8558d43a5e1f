"""Model packaging jobs through boto3: the packaging subsystem's jobs, compiled by the real compiler.

The model comes from the stand-in trainer (tests/server/fake_training.py); the compile for an x86-64
CPU target, the ZIP, the recipe and the publish to the object folder are the real code.
"""

from __future__ import annotations

import json
import os

import pytest

from edge_runtime.server.config import TrainingConfig
from tests.server.fake_training import TRAINER
from tests.server.helpers import model_status, wait_for

DONE = ("SUCCEEDED", "FAILED")
CPU = {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}, "CompilerOptions": '{"mcpu": "core-avx2"}'}


def _greengrass(name: str = "com.example.Parts", **extra) -> dict:
    config = {"ComponentName": name, "S3OutputLocation": {"Bucket": "components", "Prefix": "parts"}}
    config.update(CPU)
    config.update(extra)
    return {"Greengrass": config}


@pytest.fixture()
def trained(start_server, tmp_path):
    """(server, client) with project "p" holding a TRAINED model version 1 (a tiny classification model)."""
    running = start_server(training=TrainingConfig(trainer=TRAINER))
    lv = running.client()
    lv.create_project(ProjectName="p")
    lv.create_dataset(ProjectName="p", DatasetType="train")
    lines = [json.dumps({"source-ref": "s3://b/%d.png" % i, "anomaly-label": i % 2,
                         "anomaly-label-metadata": {"class-name": "anomaly" if i % 2 else "normal"}})
             for i in range(10)]
    lv.update_dataset_entries(ProjectName="p", DatasetType="train", Changes="\n".join(lines).encode())
    _stage_images(running.config.storage.objects_dir)
    lv.create_model(ProjectName="p", OutputConfig={"S3Location": {"Bucket": "out"}})
    assert wait_for(model_status(lv, "p", "1"), ("TRAINED", "TRAINING_FAILED")) == "TRAINED"
    return running, lv


def _stage_images(objects_dir: str) -> None:
    import cv2
    import numpy as np

    os.makedirs(os.path.join(objects_dir, "b"), exist_ok=True)
    for i in range(10):
        cv2.imwrite(os.path.join(objects_dir, "b", "%d.png" % i), np.full((64, 64, 3), 40 * (i % 2), np.uint8))


def _job_status(lv, name: str):
    return lambda: lv.describe_model_packaging_job(ProjectName="p", JobName=name)["ModelPackagingDescription"]["Status"]


def test_packaging_job_publishes_a_component_and_is_listed(trained):
    running, lv = trained
    name = lv.start_model_packaging_job(ProjectName="p", ModelVersion="1", JobName="job-1", Description="first",
                                        Configuration=_greengrass())["JobName"]
    assert name == "job-1"
    assert wait_for(_job_status(lv, name), DONE, timeout=300) == "SUCCEEDED"
    job = lv.describe_model_packaging_job(ProjectName="p", JobName=name)["ModelPackagingDescription"]
    assert job["ModelVersion"] == "1" and job["ModelPackagingMethod"] == "Greengrass"
    assert job["ModelPackagingConfiguration"]["Greengrass"]["S3OutputLocation"] == {"Bucket": "components",
                                                                                    "Prefix": "parts"}
    assert job["ModelPackagingOutputDetails"]["Greengrass"]["ComponentVersion"] == "1.0.0"
    published = []
    for _folder, _, files in os.walk(os.path.join(running.config.storage.objects_dir, "components", "parts")):
        published.extend(files)
    assert any(f.endswith(".zip") for f in published) and any("recipe" in f or f.endswith(".json") for f in published)
    listed = lv.list_model_packaging_jobs(ProjectName="p")["ModelPackagingJobs"]
    assert [j["JobName"] for j in listed] == ["job-1"]


def test_packaging_errors_and_list_paginator(trained):
    running, lv = trained
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.start_model_packaging_job(ProjectName="p", ModelVersion="7", Configuration=_greengrass())
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.describe_model_packaging_job(ProjectName="p", JobName="nope")
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.list_model_packaging_jobs(ProjectName="absent")
    with pytest.raises(lv.exceptions.ValidationException, match="gpu-code"):
        lv.start_model_packaging_job(ProjectName="p", ModelVersion="1", Configuration=_greengrass(
            TargetPlatform={"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}, CompilerOptions='{"x": 1}'))
    with pytest.raises(lv.exceptions.ValidationException, match="componentVersion"):
        lv.start_model_packaging_job(ProjectName="p", ModelVersion="1",
                                     Configuration=_greengrass(ComponentVersion="1.0"))
    names = [lv.start_model_packaging_job(ProjectName="p", ModelVersion="1", Configuration=_greengrass(
        ComponentVersion="1.0.%d" % i))["JobName"] for i in range(3)]
    for name in names:
        assert wait_for(_job_status(lv, name), DONE, timeout=300) == "SUCCEEDED"
    with pytest.raises(lv.exceptions.ConflictException, match="1.0.0"):
        lv.start_model_packaging_job(ProjectName="p", ModelVersion="1", Configuration=_greengrass(
            ComponentVersion="1.0.0"))
    pages = list(lv.get_paginator("list_model_packaging_jobs").paginate(
        ProjectName="p", PaginationConfig={"PageSize": 2}))
    assert [[j["JobName"] for j in p["ModelPackagingJobs"]] for p in pages] == [names[:2], names[2:]]
