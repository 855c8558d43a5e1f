"""Fixtures shared by every area: a real S3-protocol server (moto_server on 127.0.0.1, one per session), and
the fake `tensorrt` for the engine build tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any, Iterator, Tuple

import pytest

MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("moto_server exited with %s" % process.returncode)
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not answer on %s within %.0f s" % (url, timeout))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto_server started for this test session on a free 127.0.0.1 port, with fake credentials."""
    port = _free_port()
    url = "http://127.0.0.1:%d" % port
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in MOTO_ENV.items():
            patch.setenv(key, value)
        try:
            _wait_ready(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture()
def s3_bucket(moto_endpoint: str) -> Tuple[Any, str]:
    """(boto3 S3 client on the moto endpoint, name of a fresh empty bucket)."""
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = "test-" + uuid.uuid4().hex[:12]
    client.create_bucket(Bucket=bucket)
    return client, bucket


@pytest.fixture(params=["8.5.2.2", "10.3.0"], ids=["trt8.5", "trt10"])
def fake_trt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fake `tensorrt` (TensorRT cannot exist here) in sys.modules, in the 8.5 and the 10 flavour."""
    from tests.fakes import tensorrt as fake_tensorrt

    module = fake_tensorrt.make_module(version=request.param)
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    return module
