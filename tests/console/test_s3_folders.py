"""Folder imports and folder trials from s3:// when the server keeps its objects in real S3 (moto).

Real parts: the console on the REST API's server with StorageConfig(s3_endpoint_url=moto), boto3 against
moto_server for the images and for ListDatasetEntries. The trainer is the fake one of tests/server
(a real model package in under a second), as in test_trial.py.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from edge_runtime.console import PREFIX, console_mount_with
from edge_runtime.server.app import create_server
from edge_runtime.server.config import StorageConfig, TrainingConfig
from tests.console.conftest import ConsoleClient, ConsoleServer
from tests.console.images import png
from tests.server.fake_training import TRAINER
from tests.server.helpers import model_status, wait_for


class S3ConsoleServer(ConsoleServer):
    """The console whose uploads, trials and model outputs go to `bucket` (one that exists in moto)."""

    def __init__(self, config: Any, bucket: str) -> None:
        super().__init__(config)
        self.bucket = bucket

    def start(self) -> S3ConsoleServer:
        self.server, (host, port) = create_server(self.config, {PREFIX: console_mount_with(self.bucket)})
        self.url = "http://%s:%d" % (host, port)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self


@pytest.fixture()
def s3_console(tmp_path, aws_data_path, moto_endpoint, s3_bucket):
    from tests.server.conftest import make_config

    s3, bucket = s3_bucket
    storage = StorageConfig(data_dir=str(tmp_path / "server"), s3_endpoint_url=moto_endpoint)
    server = S3ConsoleServer(make_config(str(tmp_path / "server"), storage=storage,
                                         training=TrainingConfig(trainer=TRAINER)), bucket).start()
    browser = ConsoleClient(server.url)
    assert "Projects" in browser.sign_in().text
    try:
        yield server, browser, s3, bucket
    finally:
        server.stop()


def _upload(s3: Any, bucket: str, prefix: str, normal: int, anomaly: int) -> list[str]:
    keys = []
    for sub, count, red in (("normal", normal, 10), ("anomaly", anomaly, 220)):
        for i in range(count):
            key = "%s/%s/%s-%02d.png" % (prefix, sub, sub, i)
            s3.put_object(Bucket=bucket, Key=key, Body=png(red=red, seed=i), ContentType="image/png")
            keys.append(key)
    return keys


def _entries(lv: Any, project: str, dataset_type: str = "train") -> list[dict]:
    pages = lv.get_paginator("list_dataset_entries").paginate(ProjectName=project, DatasetType=dataset_type)
    return [json.loads(line) for page in pages for line in page["DatasetEntries"]]


def _import(browser: ConsoleClient, project: str, location: str, dataset_type: str = "train") -> Any:
    browser.post("/projects", {"name": project})
    return browser.post("/p/%s/datasets" % project, {"dataset_type": dataset_type, "source": "folder",
                                                     "location": location}, referer="/p/" + project)


def test_an_s3_folder_becomes_a_labelled_dataset_of_its_objects(s3_console):
    server, browser, s3, bucket = s3_console
    keys = _upload(s3, bucket, "lines/seven", normal=4, anomaly=3)
    s3.put_object(Bucket=bucket, Key="lines/seven/normal/notes.txt", Body=b"not an image")
    s3.put_object(Bucket=bucket, Key="lines/seven/other/x.png", Body=png())  # outside normal/ and anomaly/
    page = _import(browser, "parts", "s3://%s/lines/seven/" % bucket)
    assert page.status == 200 and "train dataset created from 7 image(s)" in page.text
    lv = server.client()
    entries = _entries(lv, "parts")
    by_ref = {e["source-ref"]: e["anomaly-label"] for e in entries}
    assert by_ref == {"s3://%s/%s" % (bucket, k): (1 if "/anomaly/" in k else 0) for k in keys}
    stats = lv.describe_dataset(ProjectName="parts", DatasetType="train")["DatasetDescription"]
    assert stats["ImageStats"] == {"Total": 7, "Labeled": 7, "Normal": 4, "Anomaly": 3}
    # the images stay where they are (no copies in the bucket), and the grid shows them from S3
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not [k for k in listed if k.startswith("imports/")]
    grid = browser.get("/p/parts/d/train?label=anomaly").text
    assert grid.count('class="tile"') == 3
    thumb = browser.get("/object?ref=s3://%s/%s&w=160" % (bucket, keys[-1]))
    assert thumb.status == 200 and thumb.body[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")


def test_an_s3_folder_without_images_or_bucket_is_refused_and_leaves_no_dataset(s3_console):
    server, browser, s3, bucket = s3_console
    s3.put_object(Bucket=bucket, Key="empty/normal/readme.txt", Body=b"no images here")
    page = _import(browser, "parts", "s3://%s/empty/" % bucket)
    assert "flash error" in page.text and "has no PNG or JPEG images in normal/ or anomaly/" in page.text
    lv = server.client()
    assert lv.describe_project(ProjectName="parts")["ProjectDescription"]["Datasets"] == []
    missing = browser.post("/p/parts/datasets", {"dataset_type": "train", "source": "folder",
                                                 "location": "s3://no-such-bucket-here/parts/"}, referer="/p/parts")
    assert "flash error" in missing.text and "no-such-bucket-here" in missing.text
    assert "the console failed" not in missing.text
    assert lv.describe_project(ProjectName="parts")["ProjectDescription"]["Datasets"] == []


def _hosted(server: Any, browser: ConsoleClient, s3: Any, bucket: str) -> None:
    _upload(s3, bucket, "train", normal=5, anomaly=5)
    assert "created from 10 image(s)" in _import(browser, "line", "s3://%s/train/" % bucket).text
    browser.post("/p/line/models", {})
    lv = server.client()
    assert wait_for(model_status(lv, "line", "1"), ("TRAINED", "TRAINING_FAILED")) == "TRAINED"
    browser.post("/p/line/m/1/start")
    assert wait_for(model_status(lv, "line", "1"), ("HOSTED", "HOSTING_FAILED")) == "HOSTED"


def test_an_s3_folder_is_tried_on_the_hosted_model(s3_console):
    server, browser, s3, bucket = s3_console
    _hosted(server, browser, s3, bucket)
    for i in range(3):
        s3.put_object(Bucket=bucket, Key="incoming/today/cam-%d.png" % i, Body=png(red=220 if i else 5, seed=i))
    s3.put_object(Bucket=bucket, Key="incoming/today/older/cam-9.png", Body=png())  # a subfolder is not tried
    s3.put_object(Bucket=bucket, Key="incoming/today/log.txt", Body=b"x")
    page = browser.post("/p/line/m/1/detect-folder", {"location": "s3://%s/incoming/today" % bucket},
                        referer="/p/line/m/1/trial")
    assert "3 image(s) of s3://%s/incoming/today/ detected." % bucket in page.text
    assert page.text.count('class="tile trial"') == 3 and page.text.count("verdict-anomaly") == 2
    trials = server.console.state.trials("line", 1)
    assert sorted(t["name"] for t in trials) == ["cam-0.png", "cam-1.png", "cam-2.png"]
    for trial in trials:  # the trial copies and masks are objects in the console's bucket in S3
        ref_bucket, key = trial["image_ref"][len("s3://"):].split("/", 1)
        assert ref_bucket == bucket and s3.get_object(Bucket=bucket, Key=key)["Body"].read()[:4] == b"\x89PNG"
    browser.post("/p/line/m/1/trial/%d/verify" % trials[0]["id"], {"verdict": "correct"}, referer="/p/line/m/1/trial")
    added = browser.post("/p/line/m/1/trial/add", referer="/p/line/m/1/trial")
    assert "1 verified image(s) added to the train dataset." in added.text
    assert len(_entries(server.client(), "line")) == 11
    empty = browser.post("/p/line/m/1/detect-folder", {"location": "s3://%s/incoming/none/" % bucket},
                         referer="/p/line/m/1/trial")
    assert "holds no PNG or JPEG images" in empty.text
    missing = browser.post("/p/line/m/1/detect-folder", {"location": "s3://no-such-bucket-here/today/"},
                           referer="/p/line/m/1/trial")
    assert "flash error" in missing.text and "no-such-bucket-here" in missing.text
    assert "the console failed" not in missing.text


def test_an_s3_folder_with_a_bad_image_creates_nothing(s3_console):
    server, browser, s3, bucket = s3_console
    _upload(s3, bucket, "lines/eight", normal=2, anomaly=2)
    s3.put_object(Bucket=bucket, Key="lines/eight/anomaly/broken.png", Body=b"\x89PNG\r\n\x1a\n broken")
    page = _import(browser, "parts", "s3://%s/lines/eight/" % bucket)
    assert "flash error" in page.text and "broken.png" in page.text and "created from" not in page.text
    assert server.client().describe_project(ProjectName="parts")["ProjectDescription"]["Datasets"] == []
