"""Publishing failures say what they mean: a taken version is AlreadyExists, S3's own answers become
NotFound / PermissionDenied, anything else (no connection, a failing disk) is Unavailable."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from edge_runtime.errors import AlreadyExists, NotFound, PermissionDenied, Unavailable
from edge_runtime.packaging.destinations import LocalDestination, _s3_error


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "ListObjectsV2")


@pytest.mark.parametrize("exc, kind", [
    (client_error("NoSuchBucket"), NotFound),
    (client_error("AccessDenied"), PermissionDenied),
    (client_error("SlowDown"), Unavailable),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), Unavailable),
])
def test_s3_failures_are_classified_by_meaning(exc, kind):
    error = _s3_error("listing s3://b failed: %s" % exc, exc)
    assert type(error) is kind and "listing s3://b failed" in str(error)


def test_a_taken_version_is_already_exists(tmp_path):
    destination = LocalDestination(str(tmp_path))
    (tmp_path / "acme.Tiny" / "1.0.0").mkdir(parents=True)
    (tmp_path / "acme.Tiny" / "1.0.0" / "model.zip").write_bytes(b"x")
    with pytest.raises(AlreadyExists, match="a published version is never overwritten"):
        destination.publish_artifacts("acme.Tiny", "1.0.0", [])
