"""Trial detection on the hosted model, verification, the verified images into training, the dashboard."""

from __future__ import annotations

import json
import os
import re

from tests.console.conftest import trained_in_console
from tests.console.images import png
from tests.server.helpers import model_status, wait_for


def _hosted(start_console, tmp_path):
    server, browser = trained_in_console(start_console, tmp_path, "line")
    lv = server.client()
    browser.post("/p/line/m/1/start")
    assert wait_for(model_status(lv, "line", "1"), ("HOSTED", "HOSTING_FAILED")) == "HOSTED"
    return server, browser


def test_trials_are_detected_verified_and_added_to_training(start_console, tmp_path):
    server, browser = _hosted(start_console, tmp_path)
    red = browser.api("/p/line/m/1/detect", png(red=230, seed=7), {"X-File-Name": "red.png"})
    dark = browser.api("/p/line/m/1/detect", png(red=5, seed=8), {"X-File-Name": "dark.png"})
    assert red.status == 200 and red.json()["anomalous"] is True and red.json()["confidence"] > 0.5
    assert dark.json()["anomalous"] is False
    page = browser.get("/p/line/m/1/trial?sort=confidence").text
    assert page.count('class="tile trial"') == 2 and '<span class="verdict-anomaly">anomaly</span>' in page
    browser.post("/p/line/m/1/trial/%d/verify" % red.json()["id"], {"verdict": "correct"}, referer="/p/line/m/1/trial")
    page = browser.post("/p/line/m/1/trial/%d/verify" % dark.json()["id"], {"verdict": "incorrect"},
                        referer="/p/line/m/1/trial").text
    assert "Add 2 verified image(s) to the train dataset" in page
    added = browser.post("/p/line/m/1/trial/add", referer="/p/line/m/1/trial")
    assert "2 verified image(s) added to the train dataset." in added.text
    stats = server.client().describe_dataset(ProjectName="line", DatasetType="train")["DatasetDescription"]
    assert stats["ImageStats"] == {"Total": 12, "Labeled": 12, "Normal": 5, "Anomaly": 7}  # dark fixed to anomaly
    lines = [json.loads(x) for x in server.client().list_dataset_entries(
        ProjectName="line", DatasetType="train", SourceRefContains="trials/")["DatasetEntries"]]
    assert sorted(line["anomaly-label"] for line in lines) == [1, 1]
    fixed = browser.get("/p/line/m/1/trial").text
    links = re.findall(r'added to training: <a href="/console(/p/line/d/train/e/\d+)">fix its label or mask</a>', fixed)
    assert len(links) == 2 and 'id="editor"' in browser.get(links[0]).text
    overview = browser.get("/p/line").text
    assert re.search(r'id="images-processed">2<', overview) and re.search(r'id="anomalies-found">1<', overview)
    assert 'id="anomaly-ratio">50.0%<' in overview and '<svg class="plot"' in overview


def test_detections_through_boto3_count_on_the_dashboard(start_console, tmp_path):
    server, browser = _hosted(start_console, tmp_path)
    lv = server.client()
    for red in (230, 230, 230, 5):
        lv.detect_anomalies(ProjectName="line", ModelVersion="1", Body=png(red=red), ContentType="image/png")
    overview = browser.get("/p/line").text
    assert 'id="images-processed">4<' in overview and 'id="anomalies-found">3<' in overview
    assert 'id="anomaly-ratio">75.0%<' in overview
    assert "<td>4</td><td>3</td><td>75.0%</td>" in browser.get("/").text


def test_a_folder_of_images_is_tried(start_console, tmp_path):
    server, browser = _hosted(start_console, tmp_path)
    folder = os.path.join(server.config.storage.objects_dir, "incoming", "today")
    os.makedirs(folder)
    for i in range(3):
        with open(os.path.join(folder, "cam-%d.png" % i), "wb") as handle:
            handle.write(png(red=200 if i else 10, seed=i))
    page = browser.post("/p/line/m/1/detect-folder", {"location": "s3://incoming/today/"}, referer="/p/line/m/1/trial")
    assert "3 image(s) of s3://incoming/today/ detected." in page.text and page.text.count('class="tile trial"') == 3


def test_bad_trial_input_is_refused_readably(start_console, tmp_path):
    server, browser = _hosted(start_console, tmp_path)
    refused = browser.api("/p/line/m/1/detect", b"GIF89a....", {"X-File-Name": "cam.gif"})
    assert refused.status == 400 and "cam.gif is not a PNG or JPEG image" in refused.json()["error"]
    empty = browser.post("/p/line/m/1/detect-folder", {"location": "s3://incoming/none/"}, referer="/p/line/m/1/trial")
    assert "holds no PNG or JPEG images" in empty.text
    assert "no verified trial images" in browser.post("/p/line/m/1/trial/add", referer="/p/line/m/1/trial").text
    browser.post("/p/line/m/1/stop")
    assert wait_for(model_status(server.client(), "line", "1"), ("TRAINED",)) == "TRAINED"
    stopped = browser.api("/p/line/m/1/detect", png(), {"X-File-Name": "a.png"})
    assert stopped.status == 409 and "start it with StartModel" in stopped.json()["error"]
    assert "start hosting it on the" in browser.get("/p/line/m/1/trial").text
