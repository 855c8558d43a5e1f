"""Fixtures for the API server tests: a real server on 127.0.0.1 and the real boto3 `lookoutvision` client.

The client is built by a current boto3 from AWS's own service model (AWS_DATA_PATH points at the
shipped botocore data), so requests are serialized and SigV4-signed exactly as users' scripts do.
The S3 side is a real moto_server on loopback (the datasets tests' fixture, reused).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Callable, Iterator

import pytest

from edge_runtime.server.app import ApiServer, create_server
from edge_runtime.server.auth import AuthConfig
from edge_runtime.server.config import ServerConfig, StorageConfig, TrainingConfig
from edge_runtime.server.model import PAGINATORS_FILE, SERVICE_FILE

ACCESS_KEY = "AKIAEDGERUNTIMETEST"
SECRET_KEY = "edge-runtime-test-secret"


def botocore_data_dir(tmp_root: str) -> str:
    """A botocore data folder holding the service model shipped in our package (the same file AWS published)."""
    target = os.path.join(tmp_root, "botocore-data", "lookoutvision", "2020-11-20")
    if not os.path.isdir(target):
        os.makedirs(target)
        for source, name in ((SERVICE_FILE, "service-2.json"), (PAGINATORS_FILE, "paginators-1.json")):
            with open(source, "rb") as src, open(os.path.join(target, name), "wb") as dst:
                dst.write(src.read())
    return os.path.join(tmp_root, "botocore-data")


@pytest.fixture(scope="session")
def aws_data_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = botocore_data_dir(str(tmp_path_factory.mktemp("aws-data")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DATA_PATH", path)
        yield path


class RunningServer:
    """A server thread plus what tests need to talk to it and to restart it on the same data."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.server: ApiServer | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> RunningServer:
        self.server, (host, port) = create_server(self.config)
        self.url = "http://%s:%d" % (host, port)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(10)

    def restart(self) -> RunningServer:
        """Same data folder, same port chosen afresh: what a process restart looks like to the state."""
        self.stop()
        return self.start()

    @property
    def context(self) -> Any:
        assert self.server is not None
        return self.server.context

    def client(self, secret: str = SECRET_KEY, access_key: str = ACCESS_KEY, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        return session.client(
            "lookoutvision", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=access_key,
            aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **config))


def make_config(data_dir: str, **overrides: Any) -> ServerConfig:
    storage = overrides.pop("storage", None) or StorageConfig(data_dir=data_dir)
    auth = overrides.pop("auth", None) or AuthConfig({ACCESS_KEY: SECRET_KEY})
    training = overrides.pop("training", None) or TrainingConfig(epochs=1, image_size=64)
    return ServerConfig(host="127.0.0.1", port=0, auth=auth, storage=storage, training=training, **overrides)


@contextlib.contextmanager
def server_factory(kind: type, root: str, prefix: str) -> Iterator[Callable[..., Any]]:
    """start(**config overrides) -> a started `kind` (RunningServer or a subclass), each with its state in a
    new folder under root; all are stopped on leaving."""
    started: list[Any] = []

    def start(**overrides: Any) -> Any:
        running = kind(make_config(os.path.join(root, "%s-%d" % (prefix, len(started))), **overrides)).start()
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.stop()


@pytest.fixture()
def start_server(tmp_path: Any, aws_data_path: str) -> Iterator[Callable[..., RunningServer]]:
    """Factory: start_server(**config overrides) -> RunningServer; all are stopped at the end."""
    with server_factory(RunningServer, str(tmp_path), "server") as start:
        yield start


@pytest.fixture()
def api(start_server: Callable[..., RunningServer]) -> RunningServer:
    """A server with embedded storage and authentication on."""
    return start_server()


@pytest.fixture()
def lv(api: RunningServer) -> Any:
    """The boto3 lookoutvision client for `api`."""
    return api.client()
