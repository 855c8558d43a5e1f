"""Issue 13 on the REST server, with a real HTTP client (raw sockets and boto3): bad Content-Length,
oversized bodies before authentication, idle connections, the connection bound, the SigV4 region."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError


def _connect(url: str) -> socket.socket:
    parsed = urlparse(url)
    conn = socket.create_connection((parsed.hostname, parsed.port), timeout=5)
    return conn


def _reply(conn: socket.socket) -> bytes:
    """Everything until the server closes (refusals carry Connection: close)."""
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk


def _post(url: str, length: str, body: bytes = b"") -> bytes:
    conn = _connect(url)
    try:
        conn.sendall(("POST /2020-11-20/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: %s\r\n\r\n" % length).encode() + body)
        return _reply(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("length, status", [("-1", b"400"), ("abc", b"400"), ("1e3", b"400"), (" +5", b"400"),
                                            (str(33 << 20), b"413")])
def test_bad_or_huge_content_length_is_refused_before_auth(api: Any, lv: Any, length: str, status: bytes) -> None:
    started = time.monotonic()
    reply = _post(api.url, length, b"x" * 4096)
    assert reply.split(b" ")[1] == status, reply
    assert time.monotonic() - started < 4, "the server waited for a body it should refuse"
    assert b"non-negative integer" in reply or b"at most" in reply
    assert lv.list_projects()["Projects"] == []  # the next good request is answered


def test_idle_connections_are_closed_and_their_number_is_bounded(start_server: Any) -> None:
    running = start_server(idle_timeout_s=0.5, max_connections=4)
    idle = [_connect(running.url) for _ in range(4)]
    time.sleep(0.2)
    extra = _connect(running.url)
    extra.sendall(b"GET /2020-11-20/projects HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _reply(extra).startswith(b"HTTP/1.1 503"), "a connection past the limit was served"
    extra.close()
    time.sleep(1.0)
    for conn in idle:
        conn.settimeout(3)
        assert conn.recv(1) == b"", "an idle connection was kept open"
        conn.close()
    slow = _connect(running.url)  # a request that never finishes its body is closed too
    slow.sendall(b"POST /2020-11-20/projects HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    slow.settimeout(3)
    assert slow.recv(65536) in (b"",), "a stalled body held the connection"
    slow.close()
    assert running.client().list_projects()["Projects"] == []


def test_a_signature_scoped_to_another_region_gets_awss_error(api: Any) -> None:
    import boto3
    from botocore.config import Config

    from tests.server.conftest import ACCESS_KEY, SECRET_KEY

    client = boto3.session.Session().client(
        "lookoutvision", endpoint_url=api.url, region_name="eu-west-1", aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as info:
        client.list_projects()
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert error["Error"]["Message"] == "Credential should be scoped to a valid region, not 'eu-west-1'. "
    assert api.client().list_projects()["Projects"] == []
