"""The whole Lookout for Vision flow as a boto3 script runs it, against a real S3 protocol server (moto).

Real parts: the boto3 `lookoutvision` client built from AWS's model, SigV4, the server, moto_server
on loopback holding the datasets and receiving the outputs, the project's trainer (few epochs, small
images), the runtime predictor for DetectAnomalies, the compiler and packager for the component.
"""

from __future__ import annotations

import json
import os

import pytest

from edge_runtime.server.config import StorageConfig, TrainingConfig
from tests.server.helpers import copy_to_objects, dataset_status, model_status, synthetic, upload_tree, wait_for

pytest.importorskip("edge_runtime.train.pipeline", reason="the trainer (edge_runtime.train) is not in this tree")



def _s3_object(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


def _pick(lines: list[dict], label: int) -> dict:
    """A test image of the given truth that the evaluation classified correctly, else any of that truth."""
    name = "anomaly" if label else "normal"
    truth = [line for line in lines if line["anomaly-label-metadata"]["class-name"] == name]
    right = [line for line in truth if line["anomaly-label-detected"] == label]
    return (right or truth)[0]


@pytest.mark.slow
def test_boto3_script_from_project_to_packaged_component(start_server, moto_endpoint, s3_bucket, tmp_path):
    s3, bucket = s3_bucket
    paths = synthetic(str(tmp_path / "synth"), normal=20, anomalous=20, size=64)
    upload_tree(s3, bucket, paths.root, "parts")
    running = start_server(storage=StorageConfig(data_dir=str(tmp_path / "server"), s3_endpoint_url=moto_endpoint),
                           training=TrainingConfig(epochs=2, image_size=64))
    lv = running.client()

    project = lv.create_project(ProjectName="circuit-boards")["ProjectMetadata"]
    for kind in ("train", "test"):
        lv.create_dataset(ProjectName="circuit-boards", DatasetType=kind, DatasetSource={"GroundTruthManifest": {
            "S3Object": {"Bucket": bucket, "Key": "parts/segmentation-%s.manifest" % kind}}})
        status = wait_for(dataset_status(lv, "circuit-boards", kind), ("CREATE_COMPLETE", "CREATE_FAILED"))
        assert status == "CREATE_COMPLETE", lv.describe_dataset(ProjectName="circuit-boards", DatasetType=kind)

    output = {"S3Location": {"Bucket": bucket, "Prefix": "lookout-output/"}}
    model = lv.create_model(ProjectName="circuit-boards", OutputConfig=output, Description="first-model",
                            Tags=[{"Key": "line", "Value": "7"}])["ModelMetadata"]
    status = wait_for(model_status(lv, "circuit-boards", "1"), ("TRAINED", "TRAINING_FAILED"), timeout=900)
    described = lv.describe_model(ProjectName="circuit-boards", ModelVersion="1")["ModelDescription"]
    assert status == "TRAINED", described.get("StatusMessage")
    assert set(described["Performance"]) == {"F1Score", "Recall", "Precision"}
    result = json.loads(_s3_object(s3, bucket, described["EvaluationResult"]["Key"]))
    assert result["EvaluationDetails"]["ModelArn"] == model["ModelArn"]
    assert result["EvaluationDetails"]["NumberOfTestingImages"] == 20
    evaluated = [json.loads(line) for line in _s3_object(s3, bucket, described["EvaluationManifest"]["Key"])
                 .decode().splitlines()]
    assert len(evaluated) == 20

    lv.start_model(ProjectName="circuit-boards", ModelVersion="1", MinInferenceUnits=1)
    assert wait_for(model_status(lv, "circuit-boards", "1"), ("HOSTED", "HOSTING_FAILED")) == "HOSTED"
    for label in (0, 1):
        line = _pick(evaluated, label)
        body = _s3_object(s3, *line["source-ref"][len("s3://"):].split("/", 1))
        answer = lv.detect_anomalies(ProjectName="circuit-boards", ModelVersion="1", Body=body,
                                     ContentType="image/png")["DetectAnomalyResult"]
        assert answer["IsAnomalous"] == bool(line["anomaly-label-detected"])  # hosting answers as evaluated
        assert answer["Anomalies"][0]["Name"] == "background" and answer["AnomalyMask"][:4] == b"\x89PNG"
    lv.stop_model(ProjectName="circuit-boards", ModelVersion="1")
    assert wait_for(model_status(lv, "circuit-boards", "1"), ("TRAINED",)) == "TRAINED"

    job = lv.start_model_packaging_job(ProjectName="circuit-boards", ModelVersion="1", Configuration={"Greengrass": {
        "ComponentName": "com.example.CircuitBoards", "S3OutputLocation": {"Bucket": bucket, "Prefix": "components"},
        "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}, "CompilerOptions": '{"mcpu": "core-avx2"}'}})["JobName"]
    assert wait_for(lambda: lv.describe_model_packaging_job(ProjectName="circuit-boards", JobName=job)[
        "ModelPackagingDescription"]["Status"], ("SUCCEEDED", "FAILED"), timeout=600) == "SUCCEEDED"
    assert [j["JobName"] for j in lv.list_model_packaging_jobs(ProjectName="circuit-boards")["ModelPackagingJobs"]] \
        == [job]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="components/")["Contents"]]
    assert any(key.endswith(".zip") for key in keys), keys

    lv.tag_resource(ResourceArn=model["ModelArn"], Tags=[{"Key": "owner", "Value": "qa"}])
    lv.untag_resource(ResourceArn=model["ModelArn"], TagKeys=["line"])
    assert lv.list_tags_for_resource(ResourceArn=model["ModelArn"])["Tags"] == [{"Key": "owner", "Value": "qa"}]

    lv.delete_model(ProjectName="circuit-boards", ModelVersion="1")
    for kind in ("train", "test"):
        lv.delete_dataset(ProjectName="circuit-boards", DatasetType=kind)
    assert lv.delete_project(ProjectName="circuit-boards")["ProjectArn"] == project["ProjectArn"]
    assert lv.list_projects()["Projects"] == []
    assert not os.path.exists(os.path.join(running.config.storage.models_dir, "circuit-boards", "1"))


@pytest.mark.slow
def test_a_single_dataset_is_split_by_the_trainer_and_evaluated_on_the_same_test_images(start_server, tmp_path):
    running = start_server(training=TrainingConfig(epochs=1, image_size=64))
    lv = running.client()
    paths = synthetic(str(tmp_path / "synth"), normal=20, anomalous=10, size=64)
    copy_to_objects(running.config.storage.objects_dir, "data", paths.root, "one")
    lv.create_project(ProjectName="single")
    lv.create_dataset(ProjectName="single", DatasetType="train", DatasetSource={"GroundTruthManifest": {
        "S3Object": {"Bucket": "data", "Key": "one/classification-train.manifest"}}})
    assert wait_for(dataset_status(lv, "single"), ("CREATE_COMPLETE", "CREATE_FAILED")) == "CREATE_COMPLETE"
    lv.create_model(ProjectName="single", OutputConfig={"S3Location": {"Bucket": "out"}})
    status = wait_for(model_status(lv, "single", "1"), ("TRAINED", "TRAINING_FAILED"), timeout=900)
    model = lv.describe_model(ProjectName="single", ModelVersion="1")["ModelDescription"]
    assert status == "TRAINED", model["StatusMessage"]
    objects = running.config.storage.objects_dir
    with open(os.path.join(objects, "out", model["EvaluationResult"]["Key"])) as handle:
        details = json.load(handle)["EvaluationDetails"]
    with open(os.path.join(running.config.storage.models_dir, "single", "1", "package", "edge-model.json")) as handle:
        counts = json.load(handle)["training"]["counts"]
    assert details["NumberOfTestingImages"] == counts["test"]["total"] == 6  # 20% of 20 normal + 20% of 10
    assert details["NumberOfTrainingImages"] == counts["train"]["total"] == 24
