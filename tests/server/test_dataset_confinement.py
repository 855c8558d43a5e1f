"""Issue 13, item 6, through the real boto3 client: a dataset reference must name an object of the
store; a manifest line climbing out with '..', or a server path in UpdateDatasetEntries, is refused
without saying what the server has where, and failed-training messages show no server paths."""

from __future__ import annotations

import json
import os

import pytest

from edge_runtime.server.config import TrainingConfig
from tests.server.fake_training import FAILING_TRAINER
from tests.server.helpers import copy_to_objects, dataset_status, model_status, synthetic, wait_for

DONE = ("CREATE_COMPLETE", "CREATE_FAILED")
TRAINED = ("TRAINED", "TRAINING_FAILED")
OUTPUT = {"S3Location": {"Bucket": "out", "Prefix": "models/"}}


def _source(bucket: str, key: str) -> dict:
    return {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Key": key}}}


def _manifest_lines(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.mark.parametrize("escape", ["dotdot", "absolute", "mask"])
def test_a_manifest_reference_outside_the_store_fails_the_import(api, tmp_path, escape):
    lv = api.client()
    paths = synthetic(str(tmp_path / "synth"), normal=4, anomalous=4)
    copy_to_objects(api.config.storage.objects_dir, "bkt", paths.root, "d")
    secret = tmp_path / "secret.png"  # a server file outside the object folder
    first = os.path.join(paths.root, _manifest_lines(paths.classification_train)[0]["source-ref"])
    with open(first, "rb") as handle:
        secret.write_bytes(handle.read())
    lines = _manifest_lines(paths.classification_train)
    climb = os.path.relpath(str(secret), os.path.join(api.config.storage.objects_dir, "bkt", "d"))
    ref = {"dotdot": climb, "absolute": str(secret), "mask": lines[1]["source-ref"]}[escape]
    lines[1]["source-ref"] = ref
    if escape == "mask":
        seg = _manifest_lines(paths.segmentation_train)
        masked = [line for line in seg if "anomaly-mask-ref" in line]
        lines = [seg[0], masked[0]] + masked[1:]
        lines[1]["anomaly-mask-ref"] = "../../../../../../../../../../../etc/hostname"
    objects = os.path.join(api.config.storage.objects_dir, "bkt", "d")
    with open(os.path.join(objects, "evil.manifest"), "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in lines)
    lv.create_project(ProjectName="p")
    lv.create_dataset(ProjectName="p", DatasetType="train", DatasetSource=_source("bkt", "d/evil.manifest"))
    assert wait_for(dataset_status(lv, "p"), DONE) == "CREATE_FAILED"
    message = lv.describe_dataset(ProjectName="p", DatasetType="train")["DatasetDescription"]["StatusMessage"]
    assert "line 2" in message and "s3://bucket/key" in message, message
    for leak in (str(tmp_path), api.config.storage.data_dir, "/etc"):
        assert leak not in message, message
    # the next good import works
    lv.create_dataset(ProjectName="p", DatasetType="test",
                      DatasetSource=_source("bkt", "d/classification-train.manifest"))
    assert wait_for(dataset_status(lv, "p", "test"), DONE) == "CREATE_COMPLETE"


def test_update_dataset_entries_refuses_server_paths_and_escapes(api, tmp_path):
    lv = api.client()
    paths = synthetic(str(tmp_path / "synth"), normal=2, anomalous=2)
    copy_to_objects(api.config.storage.objects_dir, "bkt", paths.root, "d")
    lv.create_project(ProjectName="p")
    lv.create_dataset(ProjectName="p", DatasetType="train")
    line = _manifest_lines(paths.classification_train)[0]
    for ref in ("/etc/hostname", str(tmp_path / "synth" / line["source-ref"]), "s3://bkt/d/../../../etc/hostname",
                "s3://../etc/hostname"):
        bad = dict(line, **{"source-ref": ref})
        with pytest.raises(lv.exceptions.ValidationException) as info:
            lv.update_dataset_entries(ProjectName="p", DatasetType="train", Changes=json.dumps(bad).encode())
        message = info.value.response["Error"]["Message"]
        assert "s3://bucket/key" in message and "etc" not in message and str(tmp_path) not in message, message
    good = dict(line, **{"source-ref": "s3://bkt/d/" + line["source-ref"]})
    assert lv.update_dataset_entries(ProjectName="p", DatasetType="train",
                                     Changes=json.dumps(good).encode())["Status"] == "UPDATE_COMPLETE"
    # an absolute path inside the object folder is the object it names
    inside = dict(line, **{"source-ref": os.path.join(api.config.storage.objects_dir, "bkt", "d", line["source-ref"])})
    lv.update_dataset_entries(ProjectName="p", DatasetType="train", Changes=json.dumps(inside).encode())
    entries = lv.list_dataset_entries(ProjectName="p", DatasetType="train")["DatasetEntries"]
    assert [json.loads(e)["source-ref"] for e in entries] == ["s3://bkt/d/" + line["source-ref"]]


def test_failed_training_messages_show_no_server_paths(start_server, tmp_path):
    running = start_server(training=TrainingConfig(trainer=FAILING_TRAINER))
    lv = running.client()
    lv.create_project(ProjectName="p")
    lv.create_dataset(ProjectName="p", DatasetType="train")
    paths = synthetic(str(tmp_path / "s"), normal=3, anomalous=3)
    lines = _manifest_lines(paths.classification_train)
    for line in lines:
        line["source-ref"] = "s3://b/" + line["source-ref"]
    lv.update_dataset_entries(ProjectName="p", DatasetType="train",
                              Changes="\n".join(json.dumps(line) for line in lines).encode())
    version = lv.create_model(ProjectName="p", OutputConfig=OUTPUT)["ModelMetadata"]["ModelVersion"]
    assert wait_for(model_status(lv, "p", version), TRAINED) == "TRAINING_FAILED"
    message = lv.describe_model(ProjectName="p", ModelVersion=version)["ModelDescription"]["StatusMessage"]
    assert "at least 20 normal images" in message
    assert running.config.storage.data_dir not in message and str(tmp_path) not in message, message
