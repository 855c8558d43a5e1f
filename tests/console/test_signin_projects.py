"""Sign-in, sessions and CSRF; projects list/create/delete, seen by boto3 and the console alike."""

from __future__ import annotations

from edge_runtime.server.auth import AuthConfig
from tests.console.conftest import ConsoleClient


def test_nothing_is_readable_before_signing_in(server):
    client = ConsoleClient(server.url)
    page = client.get("/")
    assert page.url.endswith("/console/signin?next=%2Fconsole%2F")
    assert "Access key id" in page.text
    assert client.get("/p/anything").url.split("?")[0].endswith("/console/signin")
    refused = client.api("/p/x/d/train/upload", b"data")
    assert refused.status == 401 and refused.json() == {"error": "sign in first"}
    assert client.get("/static/console.css").status == 200  # the stylesheet is public, nothing else


def test_a_wrong_secret_is_refused_and_the_right_pair_signs_in(server):
    client = ConsoleClient(server.url)
    wrong = client.sign_in(secret="not-the-secret")
    assert wrong.status == 401 and "Wrong access key id or secret" in wrong.text
    assert not list(client.jar)
    page = client.sign_in()
    assert page.status == 200 and "<h1>Projects</h1>" in page.text
    cookie = page.headers.get("Set-Cookie") or ""
    assert not cookie  # set on the sign-in redirect, not on the page
    (session,) = list(client.jar)
    assert session.name == "edge_console" and session.path == "/console"
    assert session.has_nonstandard_attr("HttpOnly") and session.get_nonstandard_attr("SameSite") == "Strict"


def test_every_change_needs_the_csrf_token(browser, server):
    refused = browser.post("/projects", {"name": "p1", "_csrf": "forged"})
    assert refused.status == 403 and "CSRF" in refused.text
    missing = browser.post("/projects", {"name": "p1"}, csrf=False)
    assert missing.status == 403
    assert server.client().list_projects()["Projects"] == []


def test_sign_out_ends_the_session(browser):
    browser.post("/signout")
    assert browser.get("/").url.split("?")[0].endswith("/signin")


def test_a_one_time_link_signs_in_once(server):
    token = server.console.sessions.signin_link_token()
    client = ConsoleClient(server.url)
    assert "<h1>Projects</h1>" in client.get("/signin?token=" + token).text
    again = ConsoleClient(server.url).get("/signin?token=" + token)
    assert again.status == 401 and "used or expired" in again.text


def test_no_auth_on_loopback_opens_the_console_but_still_checks_csrf(start_console):
    server = start_console(auth=AuthConfig(enabled=False))
    client = ConsoleClient(server.url)
    page = client.get("/")
    assert "<h1>Projects</h1>" in page.text
    assert client.post("/projects", {"name": "open"}).status == 200
    assert client.post("/projects", {"name": "forged", "_csrf": "x"}).status == 403
    assert [p["ProjectName"] for p in server.client().list_projects()["Projects"]] == ["open"]


def test_projects_are_shared_with_the_rest_api(browser, server):
    lv = server.client()
    created = browser.post("/projects", {"name": "bracket"})
    assert created.url.endswith("/console/p/bracket") and "Project bracket created." in created.text
    assert [p["ProjectName"] for p in lv.list_projects()["Projects"]] == ["bracket"]
    lv.create_project(ProjectName="from-boto3")
    listing = browser.get("/").text
    assert 'href="/console/p/from-boto3"' in listing and 'href="/console/p/bracket"' in listing


def test_a_duplicate_project_gets_a_readable_message_on_the_page(browser, server):
    browser.post("/projects", {"name": "dup"})
    page = browser.post("/projects", {"name": "dup"}, referer="/")
    assert page.status == 200 and page.url.endswith("/console/")
    assert 'class="flash error"' in page.text and "project dup already exists" in page.text
    assert [p["ProjectName"] for p in server.client().list_projects()["Projects"]] == ["dup"]


def test_a_bad_project_name_is_refused_with_the_api_message(browser, server):
    page = browser.post("/projects", {"name": "no spaces"}, referer="/")
    assert "flash error" in page.text and "failed to satisfy constraint" in page.text
    assert server.client().list_projects()["Projects"] == []


def test_delete_removes_the_project_with_its_datasets(browser, server):
    lv = server.client()
    lv.create_project(ProjectName="gone")
    lv.create_dataset(ProjectName="gone", DatasetType="train")
    page = browser.post("/p/gone/delete", referer="/")
    assert "Project gone deleted." in page.text
    assert lv.list_projects()["Projects"] == []


def test_unknown_pages_and_projects_say_so(browser):
    assert browser.get("/nothing-here").status == 404
    missing = browser.get("/p/absent")
    assert missing.status == 404 and "project absent does not exist" in missing.text


def test_a_project_created_again_starts_its_dashboard_at_zero(browser, server):
    lv = server.client()
    lv.create_project(ProjectName="again")
    with server.context.store.transaction() as tx:  # detections a hosted model of the old project counted
        tx.execute("INSERT INTO lv_detections (project, version, minute, images, anomalies) "
                   "VALUES ('again', 1, 1, 5, 2)")
    assert 'id="images-processed">5<' in browser.get("/p/again").text
    browser.post("/p/again/delete")
    lv.create_project(ProjectName="again")
    assert 'id="images-processed">0<' in browser.get("/p/again").text
