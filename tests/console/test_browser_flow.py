"""The console in a real headless browser (chromium through Playwright), end to end on a real server with the
real trainer (1 epoch, 64 px): sign in, create a project, import and upload images, label and paint a mask,
train, find a false positive or negative in the evaluation, host the model and try an image with its mask
overlay, start a packaging job and see it succeed.

Two copies of one image are uploaded to the test set and labelled normal and anomaly: the model answers the
same for both, so the evaluation must show one of them as a false positive or a false negative.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from edge_runtime.datasets.manifest import read_manifest
from tests.console.browser import chromium, screenshot  # noqa: F401
from tests.server.conftest import ACCESS_KEY, SECRET_KEY
from tests.server.helpers import synthetic

expect = pytest.importorskip("playwright.sync_api", reason="the dev extra installs playwright").expect


def _settle(page, predicate: str, timeout: float = 30.0) -> None:
    """Poll a predicate with evaluate: wait_for_function compiles strings in the page, which the console's
    Content-Security-Policy (no eval) rightly refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, "timed out waiting for %s" % predicate
        time.sleep(0.1)


def _sign_in_and_create(page, base: str) -> None:
    page.goto(base + "/console/")
    screenshot(page, "signin")
    page.fill("input[name=access_key]", ACCESS_KEY)
    page.fill("input[name=secret_key]", SECRET_KEY)
    page.click("form.signin button")
    page.wait_for_selector("h1:text('Projects')")
    page.fill("form.create input[name=name]", "flow")
    page.click("text=Create project")
    page.wait_for_url(re.compile(r".*/console/p/flow$"))


def _import(page, base: str, kind: str, manifest: str, lines: int) -> None:
    page.goto(base + "/console/p/flow")
    page.select_option("select[name=dataset_type]", kind)
    page.select_option("select[name=source]", "manifest")
    page.fill("input[name=location]", manifest)
    page.click("text=Create dataset")
    page.wait_for_selector("text=%s dataset created from %d manifest line(s)." % (kind, lines))


def _upload_and_label(page, base: str, image: str) -> None:
    page.set_input_files("#files", [image, image])
    expect(page.locator("#grid .tile")).to_have_count(22, timeout=60_000)
    page.goto(base + "/console/p/flow/d/test?label=unlabelled")
    page.click("#grid .tile a >> nth=0")
    page.wait_for_selector("#picture")
    first = page.url
    page.keyboard.press("n")  # normal, and on to the next unlabelled image
    page.wait_for_url(lambda url: url != first)
    _settle(page, "() => document.getElementById('picture').complete")
    page.click("#classes button >> nth=0")
    box = page.locator("#mask").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    screenshot(page, "labelling")
    page.keyboard.press("s")  # anomaly with the painted mask
    page.wait_for_selector("text=Saved as anomaly with its mask.")
    page.goto(base + "/console/p/flow/d/train?label=anomaly")
    _settle(page, "() => Array.from(document.images).every((i) => i.complete)")
    screenshot(page, "dataset")


def _train_and_evaluate(page, base: str) -> int:
    page.goto(base + "/console/p/flow")
    page.click("text=Train a model")
    page.wait_for_url(re.compile(r".*/console/p/flow/m/1$"))
    page.wait_for_selector("#status:text('TRAINING')")
    screenshot(page, "training")
    page.wait_for_selector("#status:text-is('TRAINED')", timeout=600_000)
    page.click("text=Evaluation")
    page.wait_for_selector("h2:text('Metrics')")
    screenshot(page, "evaluation", full_page=True)
    return page.locator("#false-positives .tile, #false-negatives .tile").count()


def _host_and_try(page, base: str, image: str) -> dict:
    page.goto(base + "/console/p/flow/m/1")
    page.click("text=Start hosting")
    page.wait_for_selector("text=Trial detection", timeout=120_000)
    page.click("text=Trial detection")
    page.set_input_files("#files", [image])
    page.wait_for_selector(".tile.trial", timeout=60_000)
    _settle(page, "() => Array.from(document.images).every((i) => i.complete)")
    screenshot(page, "trial")
    return page.evaluate("""() => {
        const tile = document.querySelector('.tile.trial');
        const mask = tile.querySelector('img.mask');
        return {verdict: tile.querySelector('[class^=verdict-]').textContent,
                maskWidth: mask ? mask.naturalWidth : 0, areas: tile.querySelectorAll('li').length};
    }""")


def _package(page, base: str) -> str:
    page.goto(base + "/console/p/flow/packaging")
    page.select_option("select[name=target_platform]", "LINUX/X86_64")
    page.fill("input[name=job_name]", "flow-1")
    page.fill("input[name=compiler_options]", '{"mcpu": "core-avx2"}')
    page.fill("input[name=component_name]", "com.example.Flow")
    page.fill("input[name=component_version]", "1.0.0")
    page.fill("textarea[name=tags]", "line=3")
    page.click("text=Start packaging job")
    page.wait_for_selector("#job-status:text-matches('SUCCEEDED|FAILED')", timeout=300_000)
    screenshot(page, "packaging")
    return page.inner_text("#job-status")


@pytest.mark.slow
def test_the_console_in_a_real_browser(start_console, chromium, tmp_path):  # noqa: F811
    started = time.monotonic()
    server = start_console()
    page, base = chromium, server.url
    paths = synthetic(str(tmp_path / "synth"), normal=20, anomalous=20)
    test_samples = read_manifest(paths.segmentation_test).samples
    normal = next(s.image_ref for s in test_samples if s.label == 0)
    anomalous = next(s.image_ref for s in test_samples if s.label == 1)

    _sign_in_and_create(page, base)
    _import(page, base, "train", paths.segmentation_train, 40)
    _import(page, base, "test", paths.segmentation_test, 20)
    _upload_and_label(page, base, normal)
    lines = [json.loads(x) for x in server.client().list_dataset_entries(
        ProjectName="flow", DatasetType="test", SourceRefContains="datasets/flow/test/")["DatasetEntries"]]
    assert sorted(line["anomaly-label"] for line in lines) == [0, 1]
    assert sum(1 for line in lines if line.get("anomaly-mask-ref")) == 1

    assert _train_and_evaluate(page, base) >= 1  # the two copies cannot both be right
    trial = _host_and_try(page, base, anomalous)
    assert trial["verdict"] in ("anomaly", "normal")
    assert trial["maskWidth"] > 0  # the predicted mask came back and lies over the image
    assert _package(page, base) == "SUCCEEDED"
    assert "RecipeFormatVersion" in page.inner_text("#recipe")

    page.goto(base + "/console/p/flow")
    assert page.inner_text("#images-processed") == "1"
    screenshot(page, "project")
    page.goto(base + "/console/")
    screenshot(page, "projects")
    print("browser flow: %.1f s" % (time.monotonic() - started))
