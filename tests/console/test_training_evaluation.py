"""Training from the console and the evaluation page (the stand-in trainer of tests/server: red = anomaly)."""

from __future__ import annotations

import re
import time

from edge_runtime.server.config import TrainingConfig
from tests.console.images import write_folder
from tests.server.fake_training import TRAINER
from tests.server.helpers import model_status, wait_for


def _trained(start_console, tmp_path, browser_factory):
    server = start_console(training=TrainingConfig(trainer=TRAINER))
    browser = browser_factory(server)
    browser.post("/projects", {"name": "red"})
    write_folder(str(tmp_path / "train"), normal=6, anomaly=6)
    write_folder(str(tmp_path / "test"), normal=3, anomaly=3)
    # one red image labelled normal (a false positive) and one dark one labelled anomaly (a false negative)
    (tmp_path / "test" / "anomaly" / "anomaly-00.png").rename(tmp_path / "test" / "normal" / "zz-red.png")
    (tmp_path / "test" / "normal" / "normal-00.png").rename(tmp_path / "test" / "anomaly" / "zz-dark.png")
    for kind in ("train", "test"):
        page = browser.post("/p/red/datasets", {"dataset_type": kind, "source": "folder",
                                                "location": str(tmp_path / kind)})
        assert "dataset created" in page.text, page.text
    page = browser.post("/p/red/models", {"description": "from-the-console"})
    assert page.url.endswith("/console/p/red/m/1")
    assert wait_for(model_status(server.client(), "red", "1"), ("TRAINED", "TRAINING_FAILED")) == "TRAINED"
    return server, browser


def _signed_in(server):
    from tests.console.conftest import ConsoleClient

    client = ConsoleClient(server.url)
    client.sign_in()
    return client


def test_a_model_trained_from_the_console_shows_its_evaluation(start_console, tmp_path):
    server, browser = _trained(start_console, tmp_path, _signed_in)
    model = browser.get("/p/red/m/1").text
    assert '<span class="status" id="status">TRAINED</span>' in model and "from-the-console" in model
    assert 'href="/console/p/red/m/1/evaluation"' in model and "Start hosting" in model
    page = browser.get("/p/red/m/1/evaluation").text
    for metric in ("Precision", "Recall", "F1Score", "ROCAUC"):
        assert 'data-metric="%s"' % metric in page
    assert "ROC curve" in page and "Precision-recall curve" in page and "<polyline" in page
    groups = dict(re.findall(r"<h3>([A-Za-z ]+) \([^)]*\): (\d+)</h3>", page))
    assert groups == {"False positives": "1", "False negatives": "1"}
    assert "<h3>Correct: 4</h3>" in page
    fp = page.split('id="false-positives"')[1].split("</section>")[0]
    assert "normal → <span class=\"label-anomaly\">anomaly</span>" in fp and "score 1.00" in fp
    status = browser.get("/api/p/red/m/1/status").json()
    assert status == {"status": "TRAINED", "message": "Training completed successfully."}
    refused = browser.get("/p/red/m/1/predicted-mask?ref=%s" % re.search(r'ref=([^"&]+)&amp;w=160', fp).group(1))
    assert refused.status == 404 and "classification model" in refused.text


def test_hosting_starts_and_stops_from_the_model_page(start_console, tmp_path):
    server, browser = _trained(start_console, tmp_path, _signed_in)
    lv = server.client()
    page = browser.post("/p/red/m/1/start", referer="/p/red/m/1")
    assert "Hosting model 1" in page.text
    assert wait_for(model_status(lv, "red", "1"), ("HOSTED", "HOSTING_FAILED")) == "HOSTED"
    assert 'href="/console/p/red/m/1/trial"' in browser.get("/p/red/m/1").text
    browser.post("/p/red/m/1/stop", referer="/p/red/m/1")
    assert wait_for(model_status(lv, "red", "1"), ("TRAINED",)) == "TRAINED"


def test_training_a_project_without_a_train_dataset_says_why(browser):
    browser.post("/projects", {"name": "empty"})
    page = browser.post("/p/empty/models", {}, referer="/p/empty")
    assert "flash error" in page.text and "has no train dataset" in page.text


def test_an_evaluation_before_training_finished_says_so(browser, server):
    assert browser.get("/p/none/m/1/evaluation").status == 404


def test_the_model_page_shows_training_progress_live(start_console, tmp_path):
    from tests.console import progress_training

    progress_training.RELEASE.clear()
    server = start_console(training=TrainingConfig(trainer=progress_training.TRAINER))
    browser = _signed_in(server)
    browser.post("/projects", {"name": "slow"})
    write_folder(str(tmp_path / "train"), normal=5, anomaly=5)
    browser.post("/p/slow/datasets", {"dataset_type": "train", "source": "folder", "location": str(tmp_path / "train")})
    browser.post("/p/slow/models", {})
    lv = server.client()
    message = ""
    for _ in range(300):
        message = browser.get("/api/p/slow/m/1/status").json()["message"]
        if "[train] 1/3" in message:
            break
        time.sleep(0.1)
    assert message.startswith("training: [train] 1/3 loss 0.700 elapsed"), message
    described = lv.describe_model(ProjectName="slow", ModelVersion="1")["ModelDescription"]
    assert described["Status"] == "TRAINING" and described["StatusMessage"] == message  # boto3 sees it too
    assert 'data-status-url="/console/api/p/slow/m/1/status"' in browser.get("/p/slow/m/1").text
    progress_training.RELEASE.set()
    assert wait_for(model_status(lv, "slow", "1"), ("TRAINED", "TRAINING_FAILED")) == "TRAINED"
