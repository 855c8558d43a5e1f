"""Datasets through the real boto3 client: manifests in a real S3 protocol server (moto) or the object folder."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from edge_runtime.server.config import StorageConfig
from tests.server.helpers import copy_to_objects, dataset_status, synthetic, upload_tree, wait_for

DONE = ("CREATE_COMPLETE", "CREATE_FAILED")


@pytest.fixture()
def s3_api(start_server, moto_endpoint, tmp_path):
    return start_server(storage=StorageConfig(data_dir=str(tmp_path / "s3-server"), s3_endpoint_url=moto_endpoint))


@pytest.fixture()
def s3_data(s3_bucket, tmp_path):
    """(bucket, synthetic paths) with the synthetic data uploaded under s3://bucket/data/."""
    s3, bucket = s3_bucket
    paths = synthetic(str(tmp_path / "synth"))
    upload_tree(s3, bucket, paths.root, "data")
    return bucket, paths


def _source(bucket: str, key: str) -> dict:
    return {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Key": key}}}


def test_dataset_from_an_s3_manifest_lists_filters_and_updates(s3_api, s3_data):
    bucket, _ = s3_data
    lv = s3_api.client()
    lv.create_project(ProjectName="p")
    created = lv.create_dataset(ProjectName="p", DatasetType="train",
                                DatasetSource=_source(bucket, "data/classification-train.manifest"))
    assert created["DatasetMetadata"]["Status"] == "CREATE_IN_PROGRESS"
    assert wait_for(dataset_status(lv, "p"), DONE) == "CREATE_COMPLETE"
    stats = lv.describe_dataset(ProjectName="p", DatasetType="train")["DatasetDescription"]["ImageStats"]
    assert stats == {"Total": 24, "Labeled": 24, "Normal": 12, "Anomaly": 12}

    entries = [json.loads(e) for e in lv.list_dataset_entries(ProjectName="p", DatasetType="train")["DatasetEntries"]]
    assert entries[0]["source-ref"] == "s3://%s/data/images/train/normal-0000.png" % bucket
    anomalies = lv.list_dataset_entries(ProjectName="p", DatasetType="train", AnomalyClass="anomaly")
    assert len(anomalies["DatasetEntries"]) == 12
    found = lv.list_dataset_entries(ProjectName="p", DatasetType="train", SourceRefContains="normal-0003")
    assert len(found["DatasetEntries"]) == 1
    future = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)
    after = lv.list_dataset_entries(ProjectName="p", DatasetType="train", AfterCreationDate=future)
    assert after["DatasetEntries"] == []
    assert len(lv.list_dataset_entries(ProjectName="p", DatasetType="train",
                                       BeforeCreationDate=future)["DatasetEntries"]) == 24

    relabeled = dict(entries[0])
    relabeled["anomaly-label-metadata"] = dict(relabeled["anomaly-label-metadata"], **{"class-name": "anomaly"})
    added = dict(entries[1], **{"source-ref": "s3://%s/data/images/test/normal-0000.png" % bucket})
    changes = (json.dumps(relabeled) + "\n" + json.dumps(added) + "\n").encode()
    assert lv.update_dataset_entries(ProjectName="p", DatasetType="train", Changes=changes)["Status"] == \
        "UPDATE_COMPLETE"
    description = lv.describe_dataset(ProjectName="p", DatasetType="train")["DatasetDescription"]
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["ImageStats"] == {"Total": 25, "Labeled": 25, "Normal": 12, "Anomaly": 13}


def test_list_dataset_entries_paginator(s3_api, s3_data):
    bucket, _ = s3_data
    lv = s3_api.client()
    lv.create_project(ProjectName="p")
    lv.create_dataset(ProjectName="p", DatasetType="train",
                      DatasetSource=_source(bucket, "data/segmentation-train.manifest"))
    assert wait_for(dataset_status(lv, "p"), DONE) == "CREATE_COMPLETE"
    pages = list(lv.get_paginator("list_dataset_entries").paginate(
        ProjectName="p", DatasetType="train", Labeled=True, PaginationConfig={"PageSize": 10}))
    assert [len(p["DatasetEntries"]) for p in pages] == [10, 10, 4]
    refs = [json.loads(e)["source-ref"] for p in pages for e in p["DatasetEntries"]]
    assert len(set(refs)) == 24
    masks = [json.loads(e).get("anomaly-mask-ref") for p in pages for e in p["DatasetEntries"]]
    assert all(m.startswith("s3://%s/data/masks/train/" % bucket) for m in masks if m)


def test_a_bad_manifest_fails_the_dataset_with_the_readers_message(s3_api, s3_bucket):
    s3, bucket = s3_bucket
    s3.put_object(Bucket=bucket, Key="bad.manifest", Body=b'{"source-ref": "s3://b/x.png"}\nnot json\n')
    lv = s3_api.client()
    lv.create_project(ProjectName="p")
    lv.create_dataset(ProjectName="p", DatasetType="train", DatasetSource=_source(bucket, "bad.manifest"))
    assert wait_for(dataset_status(lv, "p"), DONE) == "CREATE_FAILED"
    message = lv.describe_dataset(ProjectName="p", DatasetType="train")["DatasetDescription"]["StatusMessage"]
    assert "bad.manifest:1" in message and "line 2" in message
    lv.create_dataset(ProjectName="p", DatasetType="test", DatasetSource=_source(bucket, "missing.manifest"))
    assert wait_for(dataset_status(lv, "p", "test"), DONE) == "CREATE_FAILED"


def test_dataset_errors(lv):
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.create_dataset(ProjectName="nope", DatasetType="train")
    lv.create_project(ProjectName="p")
    for call in (lv.describe_dataset, lv.delete_dataset, lv.list_dataset_entries):
        with pytest.raises(lv.exceptions.ResourceNotFoundException) as caught:
            call(ProjectName="p", DatasetType="train")
        assert caught.value.response["ResourceType"] == "DATASET"
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.update_dataset_entries(ProjectName="p", DatasetType="train", Changes=b"{}")
    with pytest.raises(lv.exceptions.ValidationException, match="pattern"):
        lv.create_dataset(ProjectName="p", DatasetType="validation")
    assert lv.create_dataset(ProjectName="p", DatasetType="train")["DatasetMetadata"]["Status"] == "CREATE_COMPLETE"
    with pytest.raises(lv.exceptions.ConflictException):
        lv.create_dataset(ProjectName="p", DatasetType="train")
    with pytest.raises(lv.exceptions.ValidationException, match="JSON"):
        lv.update_dataset_entries(ProjectName="p", DatasetType="train", Changes=b"not json")
    with pytest.raises(lv.exceptions.ValidationException, match="relative"):
        lv.update_dataset_entries(ProjectName="p", DatasetType="train", Changes=json.dumps({
            "source-ref": "x.png", "anomaly-label": 0,
            "anomaly-label-metadata": {"class-name": "normal"}}).encode())
    with pytest.raises(lv.exceptions.ValidationException, match="anomalyClass"):
        lv.list_dataset_entries(ProjectName="p", DatasetType="train", AnomalyClass="broken")
    with pytest.raises(lv.exceptions.ConflictException, match="still has"):
        lv.delete_project(ProjectName="p")
    lv.delete_dataset(ProjectName="p", DatasetType="train")
    lv.delete_project(ProjectName="p")


def test_embedded_mode_reads_manifests_from_the_object_folder(api, tmp_path):
    lv = api.client()
    paths = synthetic(str(tmp_path / "synth"), normal=4, anomalous=4)
    copy_to_objects(api.config.storage.objects_dir, "my-bucket", paths.root, "data")
    lv.create_project(ProjectName="p")
    lv.create_dataset(ProjectName="p", DatasetType="train",
                      DatasetSource=_source("my-bucket", "data/classification-train.manifest"))
    assert wait_for(dataset_status(lv, "p"), DONE) == "CREATE_COMPLETE"
    entries = lv.list_dataset_entries(ProjectName="p", DatasetType="train")["DatasetEntries"]
    assert json.loads(entries[0])["source-ref"] == "s3://my-bucket/data/images/train/normal-0000.png"
    objects = api.config.storage.objects_dir
    assert os.path.isfile(os.path.join(objects, "my-bucket", "data/images/train/normal-0000.png"))


def test_an_import_interrupted_by_a_restart_runs_again(api, tmp_path):
    lv = api.client()
    paths = synthetic(str(tmp_path / "synth"), normal=4, anomalous=4)
    copy_to_objects(api.config.storage.objects_dir, "b", paths.root, "d")
    lv.create_project(ProjectName="p")
    with api.context.store.transaction() as tx:  # what a crash during an import leaves behind
        tx.execute("INSERT INTO lv_datasets (project, dataset_type, created, updated, status, source) VALUES "
                   "('p', 'train', 0, 0, 'CREATE_IN_PROGRESS', ?)",
                   (json.dumps({"Bucket": "b", "Key": "d/classification-train.manifest"}),))
    api.restart()
    lv = api.client()
    assert wait_for(dataset_status(lv, "p"), DONE) == "CREATE_COMPLETE"
    assert lv.describe_dataset(ProjectName="p", DatasetType="train")["DatasetDescription"]["ImageStats"]["Total"] == 8
