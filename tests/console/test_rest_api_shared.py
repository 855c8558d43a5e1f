"""The console and the REST API on the same data, with the real trainer (short epochs, 64 px):
a dataset labelled in the console trains through boto3, and a model trained through boto3 shows its
evaluation in the console."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from edge_runtime.datasets.manifest import read_manifest
from tests.console.conftest import ConsoleClient
from tests.server.helpers import copy_to_objects, model_status, synthetic, wait_for

OUTPUT = {"S3Location": {"Bucket": "out", "Prefix": "models/"}}


def _label_folder(paths, root: str) -> dict[str, int]:
    """The synthetic classification images as a normal/ and anomaly/ folder; the labels by file name."""
    labels = {}
    for number, sample in enumerate(read_manifest(paths.classification_train).samples):
        name = "part%02d.png" % number
        labels[name] = int(sample.label)
        target = os.path.join(root, "unsorted")
        os.makedirs(target, exist_ok=True)
        shutil.copy(sample.image_ref, os.path.join(target, name))
    return labels


@pytest.mark.slow
def test_a_dataset_labelled_in_the_console_trains_through_boto3(start_console, tmp_path):
    server = start_console()
    browser = ConsoleClient(server.url)
    browser.sign_in()
    paths = synthetic(str(tmp_path / "synth"), normal=20, anomalous=10)
    labels = _label_folder(paths, str(tmp_path))
    browser.post("/projects", {"name": "shared"})
    browser.post("/p/shared/datasets", {"dataset_type": "train", "source": "empty"})
    for name in sorted(labels):
        with open(os.path.join(tmp_path, "unsorted", name), "rb") as handle:
            assert browser.api("/p/shared/d/train/upload", handle.read(), {"X-File-Name": name}).status == 200
    grid = browser.get("/p/shared/d/train?label=unlabelled").text
    first = int(re.search(r'data-entry="(\d+)"', grid).group(1))
    for entry in range(first, first + len(labels)):
        name = re.search(r'alt="image to label" src="[^"]*-([^"]+?\.png)"', browser.get(
            "/p/shared/d/train/e/%d" % entry).text).group(1)
        assert browser.api("/p/shared/d/train/e/%d/label" % entry, {"label": labels[name]}).status == 200
    lv = server.client()
    stats = lv.describe_dataset(ProjectName="shared", DatasetType="train")["DatasetDescription"]["ImageStats"]
    assert stats == {"Total": 30, "Labeled": 30, "Normal": 20, "Anomaly": 10}
    lv.create_model(ProjectName="shared", OutputConfig=OUTPUT)
    status = wait_for(model_status(lv, "shared", "1"), ("TRAINED", "TRAINING_FAILED"), timeout=600)
    described = lv.describe_model(ProjectName="shared", ModelVersion="1")["ModelDescription"]
    assert status == "TRAINED", described["StatusMessage"]
    result = json.loads((tmp_path / "console-0" / "objects" / "out" / described["EvaluationResult"]["Key"]).read_text())
    details = result["EvaluationDetails"]
    assert details["NumberOfTrainingImages"] + details["NumberOfTestingImages"] == 30
    assert "Precision" in browser.get("/p/shared/m/1/evaluation").text


@pytest.mark.slow
def test_a_model_trained_through_boto3_shows_its_evaluation_in_the_console(start_console, tmp_path):
    server = start_console()
    lv = server.client()
    paths = synthetic(str(tmp_path / "synth"), normal=20, anomalous=20)
    copy_to_objects(server.config.storage.objects_dir, "data", os.path.dirname(paths.segmentation_train), "synth")
    lv.create_project(ProjectName="api")
    for kind, manifest in (("train", paths.segmentation_train), ("test", paths.segmentation_test)):
        source = {"GroundTruthManifest": {"S3Object": {"Bucket": "data", "Key": "synth/" + os.path.basename(manifest)}}}
        lv.create_dataset(ProjectName="api", DatasetType=kind, DatasetSource=source)
        assert wait_for(lambda k=kind: lv.describe_dataset(ProjectName="api", DatasetType=k)["DatasetDescription"][
            "Status"], ("CREATE_COMPLETE", "CREATE_FAILED")) == "CREATE_COMPLETE"
    lv.create_model(ProjectName="api", OutputConfig=OUTPUT)
    status = wait_for(model_status(lv, "api", "1"), ("TRAINED", "TRAINING_FAILED"), timeout=600)
    assert status == "TRAINED", lv.describe_model(ProjectName="api", ModelVersion="1")["ModelDescription"]
    browser = ConsoleClient(server.url)
    browser.sign_in()
    page = browser.get("/p/api/m/1/evaluation").text
    counts = [int(n) for n in re.findall(r"<h3>[A-Za-z ]+(?: \([^)]*\))?: (\d+)</h3>", page)]
    assert sum(counts) == 20  # the test dataset: 10 normal + 10 anomalous (Lookout's minimum)
    assert "Per-class pixel metrics" in page and "scratch" in page
    mask_url = re.search(r'class="mask" alt="" loading="lazy" src="([^"]+)"', page).group(1).replace("&amp;", "&")
    mask = browser.get(mask_url[len("/console"):])
    assert mask.status == 200 and mask.body.startswith(b"\x89PNG")
    assert "TRAINED" in browser.get("/p/api").text
