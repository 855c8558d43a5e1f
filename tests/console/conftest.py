"""Fixtures for the console tests: a real server with the console mounted, and a cookie-keeping client.

The server is the REST API's (tests/server/conftest.py) with /console mounted, on 127.0.0.1:0 with its
state under tmp_path; boto3 clients from `RunningServer.client` reach the same state.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.request
from typing import Any, Callable, Iterator

import pytest

from edge_runtime.console import PREFIX, console_mount
from edge_runtime.server.app import create_server
from edge_runtime.server.config import TrainingConfig
from tests.console.images import write_folder
from tests.server.conftest import ACCESS_KEY, SECRET_KEY, RunningServer, aws_data_path, server_factory  # noqa: F401
from tests.server.fake_training import TRAINER
from tests.server.helpers import model_status, wait_for


class ConsoleServer(RunningServer):
    def start(self) -> ConsoleServer:
        self.server, (host, port) = create_server(self.config, {PREFIX: console_mount})
        self.url = "http://%s:%d" % (host, port)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    @property
    def console(self) -> Any:
        assert self.server is not None
        return self.server.mounts[PREFIX]


class Page:
    def __init__(self, status: int, url: str, body: bytes, headers: Any) -> None:
        self.status, self.url, self.body, self.headers = status, url, body, headers

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def csrf(self) -> str:
        match = re.search(r'name="csrf-token" content="([^"]*)"', self.text)
        assert match, "no CSRF token on the page"
        return match.group(1)


class ConsoleClient:
    """A browser without JavaScript: cookies, redirects followed, the CSRF token of the last page kept."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.token = ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
                ) -> Page:
        request = urllib.request.Request(self.base + PREFIX + path, data=body, method=method,
                                         headers={"Referer": self.base + PREFIX + "/", **(headers or {})})
        try:
            with self.opener.open(request, timeout=60) as response:
                page = Page(response.status, response.url, response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            page = Page(exc.code, exc.url, exc.read(), exc.headers)
        if "text/html" in (page.headers.get("Content-Type") or "") and 'name="csrf-token"' in page.text:
            self.token = page.csrf() or self.token
        return page

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str] | None = None, csrf: bool = True, referer: str = "") -> Page:
        values = dict(fields or {})
        if csrf:
            values.setdefault("_csrf", self.token)
        body = urllib.parse.urlencode(values).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if referer:
            headers["Referer"] = self.base + PREFIX + referer
        return self.request("POST", path, body, headers)

    def api(self, path: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> Page:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        extra = {"X-CSRF-Token": self.token, "Accept": "application/json", **(headers or {})}
        if isinstance(body, dict):
            extra["Content-Type"] = "application/json"
        return self.request("POST", "/api" + path, raw, extra)

    def sign_in(self, access_key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> Page:
        self.get("/signin")
        return self.post("/signin", {"access_key": access_key, "secret_key": secret}, csrf=False)


@pytest.fixture()
def start_console(tmp_path: Any, aws_data_path: str) -> Iterator[Callable[..., ConsoleServer]]:  # noqa: F811
    with server_factory(ConsoleServer, str(tmp_path), "console") as start:
        yield start


@pytest.fixture()
def server(start_console: Callable[..., ConsoleServer]) -> ConsoleServer:
    return start_console()


@pytest.fixture()
def browser(server: ConsoleServer) -> ConsoleClient:
    """A signed-in client."""
    client = ConsoleClient(server.url)
    page = client.sign_in()
    assert page.status == 200 and "Projects" in page.text
    return client


def trained_in_console(start_console: Callable[..., ConsoleServer], root: Any,
                       project: str) -> tuple[ConsoleServer, ConsoleClient]:
    """A signed-in console whose `project` has model 1 TRAINED (tests/server/fake_training's trainer, under a
    second) on a folder import of 5 normal and 5 anomalous images."""
    server = start_console(training=TrainingConfig(trainer=TRAINER))
    browser = ConsoleClient(server.url)
    browser.sign_in()
    browser.post("/projects", {"name": project})
    write_folder(str(root / "train"), normal=5, anomaly=5)
    browser.post("/p/%s/datasets" % project, {"dataset_type": "train", "source": "folder",
                                              "location": str(root / "train")})
    browser.post("/p/%s/models" % project, {})
    assert wait_for(model_status(server.client(), project, "1"), ("TRAINED", "TRAINING_FAILED")) == "TRAINED"
    return server, browser
