"""Models and hosting through boto3, with the stand-in trainer (tests/server/fake_training.py).

The stand-in replaces only the network training (it writes a real ONNX package in a second); the
split, the evaluation run over the test images, the outputs in the object store, hosting with the
runtime's predictor and DetectAnomalies are the real server code.
"""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from edge_runtime.server.config import TrainingConfig
from tests.server.fake_training import FAILING_TRAINER, OFF_CENTRE_TRAINER, TRAINER
from tests.server.helpers import copy_to_objects, dataset_status, model_status, synthetic, wait_for

TRAINED = ("TRAINED", "TRAINING_FAILED")
HOSTED = ("HOSTED", "HOSTING_FAILED")
OUTPUT = {"S3Location": {"Bucket": "out", "Prefix": "results/"}}


def _png(color: tuple[int, int, int], size: int = 96) -> bytes:
    image = np.zeros((size, size, 3), dtype=np.uint8)
    image[:] = color[::-1]  # cv2 writes BGR
    return cv2.imencode(".png", image)[1].tobytes()


@pytest.fixture()
def fake_api(start_server):
    return start_server(training=TrainingConfig(trainer=TRAINER))


@pytest.fixture()
def project(fake_api, tmp_path):
    """A project with a segmentation training dataset in the embedded object folder."""
    return _make_project(fake_api, tmp_path)


def _make_project(fake_api, tmp_path):
    lv = fake_api.client()
    paths = synthetic(str(tmp_path / "synth"), normal=6, anomalous=6)
    copy_to_objects(fake_api.config.storage.objects_dir, "data", paths.root, "synth")
    lv.create_project(ProjectName="parts")
    lv.create_dataset(ProjectName="parts", DatasetType="train", DatasetSource={
        "GroundTruthManifest": {"S3Object": {"Bucket": "data", "Key": "synth/segmentation-train.manifest"}}})
    assert wait_for(dataset_status(lv, "parts"), ("CREATE_COMPLETE", "CREATE_FAILED")) == "CREATE_COMPLETE"
    return lv


def _train(lv, **extra) -> str:
    version = lv.create_model(ProjectName="parts", OutputConfig=OUTPUT, **extra)["ModelMetadata"]["ModelVersion"]
    assert wait_for(model_status(lv, "parts", version), TRAINED) == "TRAINED"
    return version


def test_create_model_trains_evaluates_and_publishes_outputs(fake_api, project):
    lv = project
    created = lv.create_model(ProjectName="parts", OutputConfig=OUTPUT, Description="first",
                              Tags=[{"Key": "line", "Value": "3"}])["ModelMetadata"]
    assert created["Status"] == "TRAINING" and created["ModelVersion"] == "1"
    assert wait_for(model_status(lv, "parts", "1"), TRAINED) == "TRAINED"
    model = lv.describe_model(ProjectName="parts", ModelVersion="latest")["ModelDescription"]
    assert model["Performance"] == {"F1Score": 0.5, "Precision": 0.25, "Recall": 1.0}
    assert model["EvaluationResult"] == {"Bucket": "out", "Key": "results/EvaluationResult-parts-1.json"}
    objects = fake_api.config.storage.objects_dir
    with open(os.path.join(objects, "out", model["EvaluationResult"]["Key"])) as handle:
        result = json.load(handle)
    assert result["EvaluationDetails"]["ModelArn"] == created["ModelArn"]
    assert result["EvaluationDetails"]["NumberOfTestingImages"] == 2  # 20% of 6 normal + 20% of 6 anomalous
    assert result["AggregatedEvaluationResults"]["Metrics"]["ROCAUC"] == 0.5
    with open(os.path.join(objects, "out", model["EvaluationManifest"]["Key"])) as handle:
        lines = [json.loads(line) for line in handle]
    assert len(lines) == 2 and all(line["anomaly-label-detected-metadata"]["model-version"] == "1" for line in lines)
    arn = created["ModelArn"]
    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "line", "Value": "3"}]
    lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "line", "Value": "4"}, {"Key": "site", "Value": "Köln"}])
    lv.untag_resource(ResourceArn=arn, TagKeys=["line", "not-there"])
    assert lv.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "site", "Value": "Köln"}]
    with pytest.raises(lv.exceptions.ValidationException, match="reserved"):
        lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "aws:owner", "Value": "x"}])
    with pytest.raises(lv.exceptions.ServiceQuotaExceededException):
        lv.tag_resource(ResourceArn=arn, Tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(200)])
    with open(os.path.join(fake_api.context.config.storage.models_dir, "parts", "1", "package",
                           "edge-model.json")) as handle:
        package = json.load(handle)
    assert (package["name"], package["version"]) == ("parts", 1)


def test_start_detect_stop(fake_api, project):
    lv = project
    version = _train(lv)
    assert lv.start_model(ProjectName="parts", ModelVersion=version, MinInferenceUnits=1)["Status"] == \
        "STARTING_HOSTING"
    assert wait_for(model_status(lv, "parts", version), HOSTED) == "HOSTED"
    red = lv.detect_anomalies(ProjectName="parts", ModelVersion=version, Body=_png((255, 0, 0)),
                              ContentType="image/png")["DetectAnomalyResult"]
    assert red["IsAnomalous"] is True and red["Source"] == {"Type": "direct"}
    assert red["Anomalies"][0]["Name"] == "background" and red["Anomalies"][1]["PixelAnomaly"]["Color"] == "#23A436"
    assert red["Anomalies"][1]["PixelAnomaly"]["TotalPercentageArea"] == pytest.approx(1.0)
    mask = cv2.cvtColor(cv2.imdecode(np.frombuffer(red["AnomalyMask"], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert mask.shape == (96, 96, 3) and tuple(mask[10, 10]) == (0x23, 0xA4, 0x36)
    dark = cv2.imencode(".jpg", np.full((80, 80, 3), 5, np.uint8))[1].tobytes()
    normal = lv.detect_anomalies(ProjectName="parts", ModelVersion=version, Body=dark,
                                 ContentType="image/jpeg")["DetectAnomalyResult"]
    assert normal["IsAnomalous"] is False and normal["Confidence"] > 0.5
    assert [a["Name"] for a in normal["Anomalies"]] == ["background"]
    with pytest.raises(lv.exceptions.ValidationException, match="image/png"):
        lv.detect_anomalies(ProjectName="parts", ModelVersion=version, Body=dark, ContentType="image/png")
    with pytest.raises(lv.exceptions.ConflictException, match="StopModel"):
        lv.delete_model(ProjectName="parts", ModelVersion=version)
    assert lv.stop_model(ProjectName="parts", ModelVersion=version)["Status"] == "STOPPING_HOSTING"
    assert wait_for(model_status(lv, "parts", version), ("TRAINED",)) == "TRAINED"
    with pytest.raises(lv.exceptions.ConflictException, match="StartModel"):
        lv.detect_anomalies(ProjectName="parts", ModelVersion=version, Body=dark, ContentType="image/jpeg")
    with pytest.raises(lv.exceptions.ConflictException):
        lv.stop_model(ProjectName="parts", ModelVersion=version)


def test_model_errors_and_list_models_paginator(fake_api, project):
    lv = project
    lv.create_project(ProjectName="empty")
    with pytest.raises(lv.exceptions.ResourceNotFoundException, match="no train dataset"):
        lv.create_model(ProjectName="empty", OutputConfig=OUTPUT)
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.create_model(ProjectName="absent", OutputConfig=OUTPUT)
    with pytest.raises(lv.exceptions.ValidationException, match="bucket"):
        lv.create_model(ProjectName="parts", OutputConfig={"S3Location": {"Bucket": "bad bucket!"}})
    for call, extra in ((lv.describe_model, {}), (lv.delete_model, {}), (lv.stop_model, {}),
                        (lv.start_model, {"MinInferenceUnits": 1})):
        with pytest.raises(lv.exceptions.ResourceNotFoundException) as caught:
            call(ProjectName="parts", ModelVersion="9", **extra)
        assert caught.value.response["ResourceType"] == "MODEL"
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.detect_anomalies(ProjectName="parts", ModelVersion="9", Body=_png((0, 0, 0)), ContentType="image/png")
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.list_models(ProjectName="absent")
    versions = [_train(lv, ClientToken="same-token")]
    again = lv.create_model(ProjectName="parts", OutputConfig=OUTPUT, ClientToken="same-token")["ModelMetadata"]
    assert again["ModelVersion"] == versions[0]  # the retry returns the first call's model, trains nothing new
    versions += [_train(lv) for _ in range(2)]
    with pytest.raises(lv.exceptions.ValidationException, match="MaxInferenceUnits"):
        lv.start_model(ProjectName="parts", ModelVersion="1", MinInferenceUnits=2, MaxInferenceUnits=1)
    pages = list(lv.get_paginator("list_models").paginate(ProjectName="parts", PaginationConfig={"PageSize": 2}))
    assert [[m["ModelVersion"] for m in p["Models"]] for p in pages] == [versions[:2], versions[2:]]
    assert lv.delete_model(ProjectName="parts", ModelVersion="2")["ModelArn"].endswith("model/parts/2")
    assert [m["ModelVersion"] for m in lv.list_models(ProjectName="parts")["Models"]] == ["1", "3"]
    assert _train(lv) == "4"  # versions are never reused


def test_a_failing_trainer_marks_the_model_training_failed(start_server, tmp_path):
    running = start_server(training=TrainingConfig(trainer=FAILING_TRAINER))
    lv = running.client()
    lv.create_project(ProjectName="p")
    lv.create_dataset(ProjectName="p", DatasetType="train")
    paths = synthetic(str(tmp_path / "s"), normal=3, anomalous=3)
    with open(paths.classification_train, "rb") as handle:
        lines = [json.loads(line) for line in handle]
    for line in lines:
        line["source-ref"] = "s3://b/" + line["source-ref"]
    lv.update_dataset_entries(ProjectName="p", DatasetType="train",
                              Changes="\n".join(json.dumps(line) for line in lines).encode())
    version = lv.create_model(ProjectName="p", OutputConfig=OUTPUT)["ModelMetadata"]["ModelVersion"]
    assert wait_for(model_status(lv, "p", version), TRAINED) == "TRAINING_FAILED"
    message = lv.describe_model(ProjectName="p", ModelVersion=version)["ModelDescription"]["StatusMessage"]
    assert "at least 20 normal images" in message
    with pytest.raises(lv.exceptions.ConflictException, match="only a TRAINED model"):
        lv.start_model(ProjectName="p", ModelVersion=version, MinInferenceUnits=1)


def test_restart_fails_interrupted_training_and_hosts_hosted_models_again(fake_api, project):
    lv = project
    version = _train(lv)
    lv.start_model(ProjectName="parts", ModelVersion=version, MinInferenceUnits=1)
    assert wait_for(model_status(lv, "parts", version), HOSTED) == "HOSTED"
    with fake_api.context.store.transaction() as tx:  # what a crash in the middle of training leaves
        tx.execute("INSERT INTO lv_models (project, version, arn, created, status, output_config) VALUES "
                   "('parts', 99, 'arn', 0, 'TRAINING', ?)", (json.dumps(OUTPUT),))
    fake_api.restart()
    lv = fake_api.client()
    interrupted = lv.describe_model(ProjectName="parts", ModelVersion="99")["ModelDescription"]
    assert interrupted["Status"] == "TRAINING_FAILED" and "restart" in interrupted["StatusMessage"]
    assert wait_for(model_status(lv, "parts", version), HOSTED) == "HOSTED"
    result = lv.detect_anomalies(ProjectName="parts", ModelVersion=version, Body=_png((255, 0, 0)),
                                 ContentType="image/png")["DetectAnomalyResult"]
    assert result["IsAnomalous"] is True
    assert lv.describe_model(ProjectName="parts", ModelVersion=version)["ModelDescription"]["MinInferenceUnits"] == 1



def test_detect_anomalies_confidence_is_never_below_one_half(start_server, tmp_path):
    """A model whose threshold is 0.41 (issue 15): every answer's Confidence is >= 0.5 and agrees with
    IsAnomalous, also for scores between the threshold and 0.5, where AWS's example clients dropped anomalies."""
    lv = _make_project(start_server(training=TrainingConfig(trainer=OFF_CENTRE_TRAINER)), tmp_path)
    version = _train(lv)
    lv.start_model(ProjectName="parts", ModelVersion=version, MinInferenceUnits=1)
    assert wait_for(model_status(lv, "parts", version), HOSTED) == "HOSTED"
    verdicts = []
    for red in (0, 64, 112, 116, 118, 120, 122, 124, 126, 160, 255):  # score sigmoid(4 * normalised red)
        result = lv.detect_anomalies(ProjectName="parts", ModelVersion=version, Body=_png((red, 0, 0)),
                                     ContentType="image/png")["DetectAnomalyResult"]
        assert result["Confidence"] >= 0.5, (red, result)
        verdicts.append(result["IsAnomalous"])
    assert verdicts[0] is False and verdicts[-1] is True and verdicts.index(True) > 2
    lv.stop_model(ProjectName="parts", ModelVersion=version)
    assert wait_for(model_status(lv, "parts", version), ("TRAINED",)) == "TRAINED"
