"""Where datasets and outputs live: the user's S3 buckets, or a local folder laid out like S3.

The local layout is `<root>/<bucket>/<key>`, so `s3://bucket/key` in requests and manifests means the
same object either way. Readers from edge_runtime.datasets take local paths or s3:// URIs;
`localize` hands them the right one and `publish` turns a local path back into the s3:// form users see.

`publish` is also the one confinement rule for dataset references arriving over the API (manifest
lines, UpdateDatasetEntries): a reference must name an object of the store, `s3://bucket/key` without
`..` segments, or (embedded) a file inside the object folder; anything else, a relative path climbing
out of the manifest's bucket or an absolute server path, raises OutsideObjectStore, whose message does
not say what the server has where.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Protocol

from edge_runtime.errors import InvalidArgument, NotFound, require


class OutsideObjectStore(InvalidArgument):
    """A dataset reference that names no object of the store (the caller's text is not echoed)."""

    def __init__(self) -> None:
        super().__init__("references must name objects as s3://bucket/key (no '..' segments); relative paths "
                         "may not leave the manifest's bucket and server file paths are not accepted")


def checked_s3_ref(ref: str) -> str:
    """`ref` if it is s3://bucket/key with a plain bucket name and no empty, '.' or '..' key segments."""
    if not ref.startswith("s3://"):
        raise OutsideObjectStore()
    bucket, key = split_uri(ref)
    if bucket in ("", ".", "..") or not key or any(part in ("", ".", "..") for part in key.split("/")):
        raise OutsideObjectStore()
    return ref


def s3_uri(bucket: str, key: str) -> str:
    return "s3://%s/%s" % (bucket, key.lstrip("/"))


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


class ObjectStore(Protocol):
    endpoint_url: str | None

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get(self, bucket: str, key: str, version_id: str | None = None) -> bytes: ...

    def delete(self, bucket: str, key: str) -> None: ...

    def manifest_base(self, uri: str) -> str: ...

    def localize(self, ref: str) -> str: ...

    def publish(self, ref: str) -> str: ...


class LocalObjects:
    """Embedded mode: objects are files under `root`; buckets are its first-level folders."""

    endpoint_url: str | None = None

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def path(self, bucket: str, key: str) -> str:
        bucket_dir = os.path.join(self.root, bucket)
        target = os.path.normpath(os.path.join(bucket_dir, key))
        if "/" in bucket or bucket in ("", ".", "..") or not (target + os.sep).startswith(bucket_dir + os.sep):
            raise NotFound("s3://%s/%s is outside the bucket" % (bucket, key))
        return target

    def folder(self, bucket: str, prefix: str) -> str:
        """The folder that holds s3://bucket/prefix/... (the bucket itself for an empty prefix)."""
        return self.path(bucket, prefix.strip("/")) if prefix.strip("/") else self.path(bucket, ".")

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        target = self.path(bucket, key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(target))
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def get(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """The object's bytes; a local folder keeps no versions, so `version_id` is not used here."""
        target = self.path(bucket, key)
        if not os.path.isfile(target):
            raise NotFound("s3://%s/%s does not exist (embedded object folder %s)" % (bucket, key, self.root))
        with open(target, "rb") as handle:
            return handle.read()

    def delete(self, bucket: str, key: str) -> None:
        """Remove an object if it exists (undoing a write whose follow-up failed)."""
        target = self.path(bucket, key)
        if os.path.isfile(target):
            os.unlink(target)

    def manifest_base(self, uri: str) -> str:
        """Folder that relative references in the manifest at `uri` resolve against."""
        return os.path.dirname(self.localize(uri))

    def localize(self, ref: str) -> str:
        if ref.startswith("s3://"):
            bucket, key = split_uri(ref)
            return self.path(bucket, key)
        return ref

    def publish(self, ref: str) -> str:
        if ref.startswith("s3://"):
            return checked_s3_ref(ref)
        absolute = os.path.realpath(ref)
        if absolute.startswith(self.root + os.sep):
            bucket, _, key = os.path.relpath(absolute, self.root).replace(os.sep, "/").partition("/")
            return checked_s3_ref(s3_uri(bucket, key))
        raise OutsideObjectStore()


class S3Objects:
    """S3 mode: the user's buckets at `endpoint_url` (None: AWS itself), credentials from the usual chain."""

    def __init__(self, endpoint_url: str | None, region: str) -> None:
        self.endpoint_url = endpoint_url
        self._region = region
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            boto3 = require("boto3", "package")
            self._client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self._region)
        return self._client

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        extra = {"VersionId": version_id} if version_id else {}
        try:
            return self.client().get_object(Bucket=bucket, Key=key, **extra)["Body"].read()  # type: ignore[no-any-return]
        except Exception as exc:  # botocore's error classes are generated at run time
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
                raise NotFound("s3://%s/%s does not exist" % (bucket, key)) from None
            raise InvalidArgument("cannot read s3://%s/%s: %s" % (bucket, key, exc)) from None

    def delete(self, bucket: str, key: str) -> None:
        self.client().delete_object(Bucket=bucket, Key=key)

    def manifest_base(self, uri: str) -> str:
        return uri.rsplit("/", 1)[0]

    def localize(self, ref: str) -> str:
        return ref

    def publish(self, ref: str) -> str:
        return checked_s3_ref(ref)
