"""Packaging jobs from the console: the form, the job list, status and recipe; bad options refused readably."""

from __future__ import annotations

import pytest

from tests.console.conftest import trained_in_console
from tests.server.helpers import wait_for


@pytest.fixture()
def trained(start_console, tmp_path):
    return trained_in_console(start_console, tmp_path, "pkg")


def _form(**extra):
    fields = {"model": "1", "job_name": "edge-1", "target_platform": "LINUX/X86_64",
              "compiler_options": '{"mcpu": "core-avx2"}', "component_name": "com.example.Parts",
              "component_version": "1.0.0", "bucket": "components", "prefix": "pkg", "tags": "line=3\nsite=north"}
    fields.update(extra)
    return fields


def test_a_packaging_job_started_in_the_console_succeeds_with_its_recipe(trained):
    server, browser = trained
    page = browser.post("/p/pkg/packaging", _form(), referer="/p/pkg/packaging")
    assert page.url.endswith("/console/p/pkg/packaging/edge-1") and "Packaging job edge-1 started." in page.text
    lv = server.client()

    def status():
        return lv.describe_model_packaging_job(ProjectName="pkg", JobName="edge-1")["ModelPackagingDescription"][
            "Status"]

    assert wait_for(status, ("SUCCEEDED", "FAILED"), timeout=300) == "SUCCEEDED"
    job = browser.get("/p/pkg/packaging/edge-1").text
    assert '<span class="status" id="job-status">SUCCEEDED</span>' in job
    assert '<pre id="recipe">' in job and "com.example.Parts" in job and "RecipeFormatVersion" in job
    described = lv.describe_model_packaging_job(ProjectName="pkg", JobName="edge-1")["ModelPackagingDescription"]
    assert described["ModelPackagingConfiguration"]["Greengrass"]["Tags"] == [
        {"Key": "line", "Value": "3"}, {"Key": "site", "Value": "north"}]
    assert '<a href="/console/p/pkg/packaging/edge-1">edge-1</a>' in browser.get("/p/pkg/packaging").text


def test_bad_packaging_options_are_refused_on_the_page(trained):
    server, browser = trained
    both = browser.post("/p/pkg/packaging", _form(target_device="jetson_xavier"), referer="/p/pkg/packaging")
    assert "flash error" in both.text
    tag = browser.post("/p/pkg/packaging", _form(tags="no-equals-sign"), referer="/p/pkg/packaging")
    assert "a tag is key=value, got &#x27;no-equals-sign&#x27;" in tag.text
    options = browser.post("/p/pkg/packaging", _form(compiler_options="{not json"), referer="/p/pkg/packaging")
    assert "flash error" in options.text
    assert server.client().list_model_packaging_jobs(ProjectName="pkg")["ModelPackagingJobs"] == []
