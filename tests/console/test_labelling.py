"""Labelling through the console: labels and painted masks become manifest lines the REST API lists."""

from __future__ import annotations

import base64
import json
import os

import cv2
import numpy as np

from edge_runtime.server.operations.entries import parse_changes
from tests.console.images import png


def _painted(size: int, color_bgr: tuple[int, int, int]) -> str:
    """A browser-like mask: transparent, a blob in the class colour with anti-aliased (blended) edges."""
    mask = np.zeros((size, size, 4), np.uint8)
    cv2.circle(mask, (20, 20), 8, (*color_bgr, 255), -1, lineType=cv2.LINE_AA)
    mask[30:34, 30:34] = (*[c // 2 + 100 for c in color_bgr], 200)  # a blended pixel block
    ok, data = cv2.imencode(".png", mask)
    assert ok
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode()


def _setup(browser):
    browser.post("/projects", {"name": "seg"})
    browser.post("/p/seg/datasets", {"dataset_type": "train", "source": "empty"})
    for i in range(2):
        assert browser.api("/p/seg/d/train/upload", png(seed=i), {"X-File-Name": "p%d.png" % i}).status == 200
    page = browser.post("/p/seg/classes", {"name": "scratch", "color": "#E8590C"}, referer="/p/seg/d/train/e/1")
    assert "Class scratch added." in page.text and 'data-color="#e8590c"' in page.text


def _lines(server):
    pages = server.client().list_dataset_entries(ProjectName="seg", DatasetType="train")
    return [json.loads(line) for line in pages["DatasetEntries"]]


def test_a_painted_mask_is_saved_as_lookout_would(browser, server):
    _setup(browser)
    saved = browser.api("/p/seg/d/train/e/1/label", {"label": 1, "mask": _painted(64, (12, 89, 232))})
    assert saved.status == 200, saved.text
    line = _lines(server)[0]
    assert line["anomaly-label"] == 1 and line["anomaly-label-metadata"]["class-name"] == "anomaly"
    assert line["anomaly-mask-ref-metadata"]["internal-color-map"] == {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0},
        "1": {"class-name": "scratch", "hex-color": "#e8590c", "confidence": 0.0}}
    assert line["anomaly-mask-ref-metadata"]["type"] == "groundtruth/semantic-segmentation"
    assert parse_changes(json.dumps(line), "").task == "segmentation"  # the manifest reader's rules hold
    bucket, key = line["anomaly-mask-ref"][len("s3://"):].split("/", 1)
    stored = cv2.imread(os.path.join(server.config.storage.objects_dir, bucket, key), cv2.IMREAD_UNCHANGED)
    assert stored.shape == (64, 64, 3)
    colours = {tuple(int(v) for v in c) for c in stored.reshape(-1, 3)}
    assert colours == {(255, 255, 255), (12, 89, 232)}  # BGR: only background and the class colour
    assert (stored[20, 20] == (12, 89, 232)).all() and (stored[60, 60] == 255).all()
    browser.post("/p/seg/classes", {"name": "dent", "color": "#1971c2"}, referer="/p/seg/d/train/e/1")
    assert browser.get("/p/seg/d/train?label=anomaly&cls=scratch").text.count('class="tile"') == 1
    assert browser.get("/p/seg/d/train?label=anomaly&cls=dent").text.count('class="tile"') == 0
    editor = browser.get("/p/seg/d/train/e/1").text
    assert 'data-mask="/console/object?ref=s3%3A%2F%2Fedge-runtime-console%2Fmasks' in editor


def test_normal_and_anomaly_labels_without_a_mask(browser, server):
    _setup(browser)
    assert browser.api("/p/seg/d/train/e/1/label", {"label": 0}).status == 200
    assert browser.api("/p/seg/d/train/e/2/label", {"label": 1, "mask": None}).status == 200
    first, second = _lines(server)
    assert first["anomaly-label"] == 0 and "anomaly-mask-ref" not in first
    assert second["anomaly-label"] == 1 and "anomaly-mask-ref" not in second
    stats = server.client().describe_dataset(ProjectName="seg", DatasetType="train")["DatasetDescription"]
    assert stats["ImageStats"]["Normal"] == 1 and stats["ImageStats"]["Anomaly"] == 1
    grid = browser.get("/p/seg/d/train?label=normal").text
    assert grid.count('class="tile"') == 1


def test_a_mask_of_the_wrong_size_is_refused_and_nothing_changes(browser, server):
    _setup(browser)
    before = _lines(server)
    refused = browser.api("/p/seg/d/train/e/1/label", {"label": 1, "mask": _painted(48, (12, 89, 232))})
    assert refused.status == 400
    assert refused.json()["error"] == "the mask is 48x48 but the image is 64x64; a mask must have the image's size"
    assert _lines(server) == before
    assert not os.path.isdir(os.path.join(server.config.storage.objects_dir, "edge-runtime-console", "masks"))
    bad = browser.api("/p/seg/d/train/e/1/label", {"label": 1, "mask": "data:image/png;base64,@@@"})
    assert bad.status == 400 and "base64 PNG" in bad.json()["error"]
    assert browser.api("/p/seg/d/train/e/1/label", {"label": 2}).status == 400


def test_the_editor_moves_through_the_filtered_images(browser):
    _setup(browser)
    page = browser.get("/p/seg/d/train/e/1?label=unlabelled").text
    assert 'data-next="/console/p/seg/d/train/e/2?label=unlabelled"' in page and 'data-prev=""' in page
    assert browser.get("/p/seg/d/train/e/99").status == 404


def test_class_names_and_colours_are_checked(browser):
    _setup(browser)
    again = browser.post("/p/seg/classes", {"name": "scratch", "color": "#112233"}, referer="/p/seg/d/train/e/1")
    assert "project seg already has a class scratch" in again.text
    same_colour = browser.post("/p/seg/classes", {"name": "dent", "color": "#e8590c"}, referer="/p/seg/d/train/e/1")
    assert "colour #e8590c is already class scratch" in same_colour.text
    white = browser.post("/p/seg/classes", {"name": "dent", "color": "#ffffff"}, referer="/p/seg/d/train/e/1")
    assert "not white" in white.text
