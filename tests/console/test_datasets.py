"""Datasets in the console: create, upload (good and bad files), folder and manifest imports, the grid."""

from __future__ import annotations

import json
import os
import time

from tests.console.images import png, write_folder
from tests.server.helpers import synthetic


def _objects(server) -> list[str]:
    root = server.config.storage.objects_dir
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def _entries(lv, project, dataset_type="train") -> list[dict]:
    pages = lv.get_paginator("list_dataset_entries").paginate(ProjectName=project, DatasetType=dataset_type)
    return [json.loads(line) for page in pages for line in page["DatasetEntries"]]


def _project(browser, name="parts", source="empty", location=""):
    browser.post("/projects", {"name": name})
    return browser.post("/p/%s/datasets" % name, {"dataset_type": "train", "source": source, "location": location},
                        referer="/p/" + name)


def test_uploaded_images_are_entries_the_rest_api_lists(browser, server):
    page = _project(browser)
    assert page.url.endswith("/console/p/parts/d/train") and "Empty train dataset created" in page.text
    for i in range(3):
        stored = browser.api("/p/parts/d/train/upload", png(seed=i), {"X-File-Name": "part%%20%d.png" % i})
        assert stored.status == 200, stored.text
    entries = _entries(server.client(), "parts")
    assert len(entries) == 3
    assert entries[0]["source-ref"].startswith("s3://edge-runtime-console/datasets/parts/train/")
    assert entries[0]["source-ref"].endswith("-part_0.png")
    assert entries[0]["anomaly-label-metadata"]["class-name"] == "unlabeled"
    grid = browser.get("/p/parts/d/train?label=unlabelled").text
    assert grid.count('class="tile"') == 3 and "3 image(s)" in grid
    assert browser.get("/p/parts/d/train?label=normal").text.count('class="tile"') == 0
    thumb = browser.get("/object?ref=%s&w=160" % entries[0]["source-ref"])
    assert thumb.status == 200 and thumb.headers["Content-Type"] == "image/png"


def test_a_non_image_upload_is_refused_readably_and_stores_nothing(browser, server):
    _project(browser)
    before = _objects(server)
    refused = browser.api("/p/parts/d/train/upload", b"%PDF-1.4 not an image", {"X-File-Name": "notes.pdf"})
    assert refused.status == 400
    assert refused.json()["error"] == "notes.pdf is not a PNG or JPEG image (its first bytes are neither); " \
                                      "nothing was stored"
    small = browser.api("/p/parts/d/train/upload", png(size=32), {"X-File-Name": "tiny.png"})
    assert small.status == 400 and "32x32" in small.json()["error"]
    truncated = browser.api("/p/parts/d/train/upload", png()[:200], {"X-File-Name": "cut.png"})
    assert truncated.status == 400 and "cut.png" in truncated.json()["error"]
    assert _objects(server) == before
    assert _entries(server.client(), "parts") == []


def test_an_upload_to_a_missing_dataset_leaves_no_object(browser, server):
    browser.post("/projects", {"name": "nodata"})
    refused = browser.api("/p/nodata/d/train/upload", png(), {"X-File-Name": "a.png"})
    assert refused.status == 404 and "has no train dataset" in refused.json()["error"]
    assert [p for p in _objects(server) if p.endswith(".png")] == []


def test_a_folder_with_normal_and_anomaly_subfolders_becomes_a_labelled_dataset(browser, server, tmp_path):
    write_folder(str(tmp_path / "parts"), normal=4, anomaly=3)
    page = _project(browser, source="folder", location=str(tmp_path / "parts"))
    assert "train dataset created from 7 image(s)" in page.text
    stats = server.client().describe_dataset(ProjectName="parts", DatasetType="train")["DatasetDescription"]
    assert stats["ImageStats"] == {"Total": 7, "Labeled": 7, "Normal": 4, "Anomaly": 3}
    assert browser.get("/p/parts/d/train?label=anomaly").text.count('class="tile"') == 3


def test_a_folder_with_a_bad_file_creates_nothing(browser, server, tmp_path):
    write_folder(str(tmp_path / "parts"), normal=2, anomaly=2)
    (tmp_path / "parts" / "anomaly" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    page = _project(browser, source="folder", location=str(tmp_path / "parts"))
    assert "flash error" in page.text and "broken.png" in page.text
    assert server.client().describe_project(ProjectName="parts")["ProjectDescription"]["Datasets"] == []
    assert [p for p in _objects(server) if p.endswith(".png")] == []
    missing = browser.post("/p/parts/datasets", {"dataset_type": "train", "source": "folder", "location": "rel/dir"},
                           referer="/p/parts")
    assert "expected a folder" in missing.text


def test_a_local_segmentation_manifest_is_copied_into_the_store(browser, server, tmp_path):
    paths = synthetic(str(tmp_path / "synth"), normal=3, anomalous=3)
    page = _project(browser, source="manifest", location=paths.segmentation_train)
    assert "train dataset created from 6 manifest line(s)" in page.text
    entries = _entries(server.client(), "parts")
    masked = [e for e in entries if "anomaly-mask-ref" in e]
    assert len(masked) == 3 and all(e["anomaly-mask-ref"].startswith("s3://edge-runtime-console/") for e in masked)
    grid = browser.get("/p/parts/d/train").text
    assert grid.count('class="mask"') == 3
    scratched = sum(1 for e in masked if any(c["class-name"] == "scratch" for c in
                                             e["anomaly-mask-ref-metadata"]["internal-color-map"].values()))
    assert browser.get("/p/parts/d/train?label=anomaly&cls=scratch").text.count('class="tile"') == scratched


def test_an_s3_manifest_goes_to_create_dataset(browser, server, tmp_path):
    import shutil

    paths = synthetic(str(tmp_path / "synth"), normal=3, anomalous=3)
    shutil.copytree(os.path.dirname(paths.classification_train), os.path.join(server.config.storage.objects_dir,
                                                                               "data", "synth"))
    key = "synth/" + os.path.basename(paths.classification_train)
    page = _project(browser, source="manifest", location="s3://data/" + key)
    assert "Creating the train dataset from s3://data/" in page.text
    lv = server.client()
    from tests.server.helpers import dataset_status, wait_for

    assert wait_for(dataset_status(lv, "parts"), ("CREATE_COMPLETE", "CREATE_FAILED")) == "CREATE_COMPLETE"


def test_the_grid_pages_through_2000_images_quickly(browser, server):
    _project(browser)
    lv = server.client()
    ref = json.loads(json.dumps({"r": "s3://edge-runtime-console/datasets/parts/train/x.png"}))["r"]
    lines = [json.dumps({"source-ref": ref.replace("x.png", "img-%04d.png" % i), "anomaly-label": i % 2,
                         "anomaly-label-metadata": {"class-name": "anomaly" if i % 2 else "normal"}})
             for i in range(2000)]
    for start in range(0, 2000, 500):
        lv.update_dataset_entries(ProjectName="parts", DatasetType="train",
                                  Changes="\n".join(lines[start:start + 500]).encode())
    timings = []
    for number in (1, 17, 34):
        started = time.perf_counter()
        page = browser.get("/p/parts/d/train?page=%d" % number)
        timings.append(1000 * (time.perf_counter() - started))
        assert page.status == 200 and page.text.count('class="tile"') == (20 if number == 34 else 60)
    assert "page 17 of 34 · 2000 image(s)" in browser.get("/p/parts/d/train?page=17").text
    anomalies = browser.get("/p/parts/d/train?label=anomaly&page=17").text
    assert "page 17 of 17 · 1000 image(s)" in anomalies and anomalies.count('class="tile"') == 40
    print("grid page with 2,000 images: %s ms" % ", ".join("%.0f" % t for t in timings))
    assert min(timings) < 300  # the goal; on this loaded 2-core box a page takes ~20-60 ms
