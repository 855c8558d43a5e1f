"""Where components are published: an S3 bucket/prefix, or a local folder with the same layout.

Layout (AWS's build tool uses the same, under our prefix):

    <prefix>/<ComponentName>/<ComponentVersion>/<artifact file>
    <prefix>/recipes/<ComponentName>-<ComponentVersion>.json|yaml

The publisher writes every artifact first and the recipe last, so no recipe ever references a
partial upload, and `remove()` takes away exactly what this destination object wrote. A local folder
works with `greengrass-cli deployment create --recipeDir <root>/recipes --artifactDir <root>`; its
recipes name the placeholder bucket `edge-runtime-local-artifacts`, which the nucleus never contacts
for a local deployment because the files it was given already match the recipe's digests.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any, List, Optional, Protocol, Sequence, Tuple

from edge_runtime.errors import (
    AlreadyExists,
    EdgeRuntimeError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
    require,
)
from edge_runtime.packaging.artifacts import Artifact
from edge_runtime.packaging.recipes import recipe_file_name
from edge_runtime.packaging.request import OutputLocation
from edge_runtime.staging import staged_folder

LOCAL_BUCKET = "edge-runtime-local-artifacts"
RECIPES_DIR = "recipes"


def _version_taken(folder: str) -> AlreadyExists:
    return AlreadyExists("%s exists already and is not empty; a published version is never overwritten" % folder)


_S3_MEANINGS = (  # S3 error codes by what they mean to the caller; anything else is Unavailable
    (("NoSuchBucket", "404", "NotFound"), NotFound),
    (("AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"), PermissionDenied),
)


def _s3_error(message: str, exc: Exception) -> EdgeRuntimeError:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    for codes, kind in _S3_MEANINGS:
        if code in codes:
            return kind(message)
    return Unavailable(message)


class Destination(Protocol):
    def describe(self) -> str: ...

    def existing(self, name: str, version: str) -> Optional[str]:
        """Something already published for this name and version (a recipe or an artifact), or None."""

    def artifact_uri(self, name: str, version: str, file_name: str) -> str:
        """The URI a recipe names for an artifact published here."""

    def publish_artifacts(self, name: str, version: str, artifacts: Sequence[Artifact]) -> None:
        """Upload all artifacts; on failure what was written stays recorded for `remove()`."""

    def publish_recipe(self, name: str, version: str, fmt: str, data: bytes) -> str:
        """Write the recipe (after the artifacts); returns where it went."""

    def remove(self) -> List[str]:
        """Delete what this object published; returns what could not be deleted."""


@dataclass(frozen=True)
class S3Settings:
    """boto3 client and transfer settings: multipart above a threshold, standard retries, timeouts."""

    endpoint_url: Optional[str] = None  # None: boto3's own resolution (AWS_ENDPOINT_URL, config files)
    region_name: Optional[str] = None
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 16 * 1024 * 1024
    max_concurrency: int = 4
    max_attempts: int = 5
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.multipart_chunksize < 5 * 1024 * 1024:
            raise InvalidArgument("S3 multipart parts must be at least 5 MiB (an S3 rule)")
        if not 1 <= self.max_attempts <= 20:
            raise InvalidArgument("S3 max_attempts must be 1..20, got %d" % self.max_attempts)

    def client(self, service: str = "s3") -> Any:
        boto3 = require("boto3", "package")
        from botocore.config import Config

        config = Config(retries={"max_attempts": self.max_attempts, "mode": "standard"},
                        connect_timeout=self.connect_timeout_s, read_timeout=self.read_timeout_s)
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region_name, config=config)


class S3Destination:
    def __init__(self, bucket: str, prefix: str, settings: Optional[S3Settings] = None, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings = settings or S3Settings()
        self.client = client or self.settings.client()
        self._written: List[str] = []

    def describe(self) -> str:
        return "s3://%s/%s" % (self.bucket, self.prefix)

    def key(self, *parts: str) -> str:
        return "/".join(([self.prefix] if self.prefix else []) + list(parts))

    def _fail(self, action: str, exc: Exception) -> EdgeRuntimeError:
        return _s3_error("%s s3://%s failed: %s" % (action, self.bucket, exc), exc)

    def existing(self, name: str, version: str) -> Optional[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for fmt in ("json", "yaml"):
                key = self.key(RECIPES_DIR, recipe_file_name(name, version, fmt))
                found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1).get("Contents")
                if found:
                    return "s3://%s/%s" % (self.bucket, key)
            prefix = self.key(name, version) + "/"
            found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1).get("Contents")
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("listing", exc) from exc
        return "s3://%s/%s" % (self.bucket, found[0]["Key"]) if found else None

    def artifact_uri(self, name: str, version: str, file_name: str) -> str:
        return "s3://%s/%s" % (self.bucket, self.key(name, version, file_name))

    def publish_artifacts(self, name: str, version: str, artifacts: Sequence[Artifact]) -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        transfer = TransferConfig(multipart_threshold=self.settings.multipart_threshold,
                                  multipart_chunksize=self.settings.multipart_chunksize,
                                  max_concurrency=self.settings.max_concurrency)
        for artifact in artifacts:
            key = self.key(name, version, artifact.file_name)
            self._written.append(key)  # before the call: a failed multipart upload may still leave parts
            try:
                self.client.upload_file(artifact.path, self.bucket, key, Config=transfer)
            except (BotoCoreError, ClientError, OSError) as exc:
                raise self._fail("uploading %s to" % artifact.file_name, exc) from exc

    def publish_recipe(self, name: str, version: str, fmt: str, data: bytes) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(RECIPES_DIR, recipe_file_name(name, version, fmt))
        self._written.append(key)
        content_type = "application/json" if fmt == "json" else "application/yaml"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("writing the recipe to", exc) from exc
        return "s3://%s/%s" % (self.bucket, key)

    def remove(self) -> List[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        left = []
        for key in reversed(self._written):  # the recipe first, so nothing points at deleted artifacts
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key)
            except (BotoCoreError, ClientError) as exc:
                left.append("s3://%s/%s (%s)" % (self.bucket, key, exc))
        self._written = []
        return left

    def remove_version(self, name: str, version: str) -> Tuple[int, int]:
        """An interrupted job's output: abort open multipart uploads under the version's prefix and
        delete what was written there and its recipes; returns (uploads aborted, objects deleted)."""
        prefix = self.key(name, version) + "/"
        aborted = 0
        for upload in self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix).get("Uploads", []):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            aborted += 1
        keys = [o["Key"] for o in self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])]
        keys += [self.key(RECIPES_DIR, recipe_file_name(name, version, fmt)) for fmt in ("json", "yaml")]
        deleted = 0
        for key in reversed(keys):  # recipes first
            found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1).get("Contents")
            if found and found[0]["Key"] == key:
                self.client.delete_object(Bucket=self.bucket, Key=key)
                deleted += 1
        return aborted, deleted


class LocalDestination:
    """The same layout in a folder; artifacts are staged in a hidden folder and renamed into place."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._written: List[str] = []

    def describe(self) -> str:
        return self.root

    def existing(self, name: str, version: str) -> Optional[str]:
        for fmt in ("json", "yaml"):
            recipe = os.path.join(self.root, RECIPES_DIR, recipe_file_name(name, version, fmt))
            if os.path.exists(recipe):
                return recipe
        folder = os.path.join(self.root, name, version)
        return folder if os.path.exists(folder) else None

    def artifact_uri(self, name: str, version: str, file_name: str) -> str:
        return "s3://%s/%s/%s/%s" % (LOCAL_BUCKET, name, version, file_name)

    def publish_artifacts(self, name: str, version: str, artifacts: Sequence[Artifact]) -> None:
        final = os.path.join(self.root, name, version)
        try:
            with staged_folder(final, refuse=_version_taken) as staging:  # never overwrites a version
                for artifact in artifacts:
                    shutil.copyfile(artifact.path, os.path.join(staging, artifact.file_name))
        except OSError as exc:
            raise Unavailable("writing artifacts to %s failed: %s" % (final, exc)) from exc
        self._written.append(final)

    def publish_recipe(self, name: str, version: str, fmt: str, data: bytes) -> str:
        folder = os.path.join(self.root, RECIPES_DIR)
        path = os.path.join(folder, recipe_file_name(name, version, fmt))
        tmp = path + ".partial"
        try:
            os.makedirs(folder, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise Unavailable("writing the recipe %s failed: %s" % (path, exc)) from exc
        self._written.append(path)
        return path

    def remove(self) -> List[str]:
        left = []
        for path in reversed(self._written):
            try:
                if os.path.isdir(path):
                    shutil.rmtree(path)
                elif os.path.exists(path):
                    os.remove(path)
            except OSError as exc:
                left.append("%s (%s)" % (path, exc))
        self._written = []
        return left

    def remove_version(self, name: str, version: str) -> int:
        """An interrupted job's recipes and version folder; returns how many paths were removed."""
        paths = [os.path.join(self.root, RECIPES_DIR, recipe_file_name(name, version, fmt) + suffix)
                 for fmt in ("json", "yaml") for suffix in ("", ".partial")]
        removed = 0
        for path in paths + [os.path.join(self.root, name, version)]:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
                removed += 1
            elif os.path.lexists(path):
                os.remove(path)
                removed += 1
        return removed


def open_destination(output: OutputLocation, settings: Optional[S3Settings] = None) -> Destination:
    if output.is_s3:
        return S3Destination(output.bucket, output.prefix, settings)
    return LocalDestination(output.local_dir)
