"""SigV4 verification against the real boto3 client's signatures, and refusals of everything else."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from edge_runtime.errors import InvalidArgument
from edge_runtime.server.auth import AuthConfig, SignedRequest, SigV4Verifier
from edge_runtime.server.config import ServerConfig
from edge_runtime.server.errors import ApiError
from tests.server.conftest import ACCESS_KEY, SECRET_KEY


def _signed(url: str, method: str = "GET", body: bytes = b"", secret: str = SECRET_KEY,
            service: str = "lookoutvision") -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, secret), service, "us-east-1").add_auth(request)
    return request


def _as_received(request: AWSRequest) -> SignedRequest:
    path, _, query = request.url.split("://", 1)[1].partition("/")[2].partition("?")
    headers = {k.lower(): [v] for k, v in request.headers.items()}
    headers.setdefault("host", ["127.0.0.1:9"])
    body = request.body or b""
    return SignedRequest(request.method, "/" + path, query, headers, body if isinstance(body, bytes) else body.encode())


def _verifier() -> SigV4Verifier:
    return SigV4Verifier(AuthConfig({ACCESS_KEY: SECRET_KEY}), "us-east-1")


def test_a_botocore_signature_verifies_with_encoded_path_and_query():
    url = ("http://127.0.0.1:9/2020-11-20/projects/p/datasets/train/entries?labeled=true&"
           "sourceRefContains=a%20b%2Fc&maxResults=5")
    assert _verifier().verify(_as_received(_signed(url))) == ACCESS_KEY
    arn_url = "http://127.0.0.1:9/2020-11-20/tags/arn%3Aaws%3Alookoutvision%3Aus-east-1%3A1%3Amodel%2Fp%2F1"
    assert _verifier().verify(_as_received(_signed(arn_url, "POST", b'{"Tags": []}'))) == ACCESS_KEY


@pytest.mark.parametrize("tamper", ["secret", "body", "query", "service", "stale"])
def test_anything_that_breaks_the_signature_is_access_denied(tamper):
    url = "http://127.0.0.1:9/2020-11-20/projects?maxResults=5"
    request = _signed(url, "POST", b'{"ProjectName": "a"}', secret="wrong" if tamper == "secret" else SECRET_KEY,
                      service="s3" if tamper == "service" else "lookoutvision")
    received = _as_received(request)
    now = None
    if tamper == "body":
        received = SignedRequest(received.method, received.raw_path, received.raw_query, received.headers, b"{}")
    if tamper == "query":
        received = SignedRequest(received.method, received.raw_path, "maxResults=6", received.headers, received.body)
    if tamper == "stale":
        now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=16)
    with pytest.raises(ApiError) as caught:
        _verifier().verify(received, now=now)
    assert caught.value.code == "AccessDeniedException"


def test_unsigned_http_request_gets_access_denied_403(api):
    request = urllib.request.Request(api.url + "/2020-11-20/projects", data=json.dumps({"ProjectName": "a"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403
    assert caught.value.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert "not signed" in json.loads(caught.value.read())["message"]


def test_boto3_with_a_wrong_secret_or_unknown_key_is_refused(api, lv):
    for client in (api.client(secret="not-the-secret"), api.client(access_key="AKIAUNKNOWNKEY")):
        with pytest.raises(client.exceptions.AccessDeniedException):
            client.list_projects()
    assert lv.list_projects()["Projects"] == []  # the right key still works


def test_boto3_unsigned_client_is_refused(api):
    from botocore import UNSIGNED

    client = api.client(signature_version=UNSIGNED)
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.create_project(ProjectName="nope")


def test_auth_may_be_off_only_on_loopback():
    ServerConfig(host="127.0.0.1", auth=AuthConfig(enabled=False))
    with pytest.raises(InvalidArgument, match="loopback"):
        ServerConfig(host="0.0.0.0", auth=AuthConfig(enabled=False))
    with pytest.raises(InvalidArgument, match="no access keys"):
        AuthConfig(access_keys={})


def test_local_only_mode_serves_unsigned_requests(start_server):
    running = start_server(auth=AuthConfig(enabled=False))
    request = urllib.request.Request(running.url + "/2020-11-20/projects", method="GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read()) == {"Projects": []}
