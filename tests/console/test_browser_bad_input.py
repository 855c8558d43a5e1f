"""Bad input in a real browser gets a readable message on the page, and nothing is half-written: a duplicate
project, a file that is not an image (through the upload's file input), a dataset folder that does not exist."""

from __future__ import annotations

import pytest

from tests.console.browser import chromium  # noqa: F401
from tests.console.images import png
from tests.server.conftest import ACCESS_KEY, SECRET_KEY


@pytest.mark.slow
def test_bad_input_is_explained_on_the_page(server, chromium, tmp_path):  # noqa: F811
    page = chromium
    page.goto(server.url + "/console/")
    page.fill("input[name=access_key]", ACCESS_KEY)
    page.fill("input[name=secret_key]", "wrong")
    page.click("form.signin button")
    assert "Wrong access key id or secret." in page.inner_text(".flash.error")
    page.fill("input[name=access_key]", ACCESS_KEY)
    page.fill("input[name=secret_key]", SECRET_KEY)
    page.click("form.signin button")
    for _ in range(2):
        page.goto(server.url + "/console/")
        page.fill("form.create input[name=name]", "twice")
        page.click("text=Create project")
    assert page.inner_text(".flash.error") == "project twice already exists"

    page.goto(server.url + "/console/p/twice")
    page.select_option("select[name=source]", "folder")
    page.fill("input[name=location]", str(tmp_path / "missing"))
    page.click("text=Create dataset")
    assert "expected a folder" in page.inner_text(".flash.error")
    assert server.client().describe_project(ProjectName="twice")["ProjectDescription"]["Datasets"] == []

    page.select_option("select[name=source]", "empty")
    page.click("text=Create dataset")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "good.png").write_bytes(png())
    page.set_input_files("#files", [str(tmp_path / "notes.txt"), str(tmp_path / "good.png")])
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message") == "notes.txt is not a PNG or JPEG image (its first bytes are neither); " \
                                         "nothing was stored"
    assert page.inner_text("#upload-status") == "1 of 2 stored, 1 refused"
    entries = server.client().list_dataset_entries(ProjectName="twice", DatasetType="train")["DatasetEntries"]
    assert len(entries) == 1 and "good.png" in entries[0]
