"""Datasets from a folder (normal/ and anomaly/ subfolders) or a manifest, local or s3://.

An S3 manifest goes to CreateDataset as it is (the API reads it in the background). Anything else is
read here: every image (an S3 folder's objects too) is checked first, then the images are copied into
the object store (a local folder's; an S3 folder's stay where they are) and the lines go to an empty
dataset through UpdateDatasetEntries, in chunks. If any step
fails the dataset and the copies are removed again, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Any

from edge_runtime.console.files import list_s3_keys, read_object
from edge_runtime.console.http import ConsoleError
from edge_runtime.console.images import CONTENT_TYPES, check_image
from edge_runtime.console.lines import changes, line_for
from edge_runtime.datasets.manifest import parse_manifest_text
from edge_runtime.errors import EdgeRuntimeError
from edge_runtime.server.objects import LocalObjects, s3_uri, split_uri

CHUNK = 500  # lines per UpdateDatasetEntries call (its Changes are at most 10 MiB)
LABELS = {"normal": 0, "anomaly": 1}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _folder_files(console: Any, location: str) -> list[tuple[str, int, bytes | None]]:
    """(reference or path, label, bytes when the file must be copied) under normal/ and anomaly/."""
    found: list[tuple[str, int, bytes | None]] = []
    objects = console.context.objects
    if location.startswith("s3://") and not isinstance(objects, LocalObjects):
        bucket, prefix = split_uri(location.rstrip("/") + "/")
        for sub, label in LABELS.items():
            for key in list_s3_keys(console, bucket, prefix + sub + "/"):
                if key.lower().endswith(IMAGE_SUFFIXES):
                    found.append((s3_uri(bucket, key), label, None))
        return found
    folder = objects.folder(*split_uri(location)) if location.startswith("s3://") else location
    if not os.path.isabs(folder) or not os.path.isdir(folder):
        raise ConsoleError("expected a folder (an absolute path on the server or s3://bucket/prefix/) holding "
                           "normal/ and anomaly/ subfolders, got %r" % location)
    for sub, label in LABELS.items():
        path = os.path.join(folder, sub)
        for name in sorted(os.listdir(path)) if os.path.isdir(path) else []:
            if name.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(os.path.join(path, name)):
                with open(os.path.join(path, name), "rb") as handle:
                    found.append((os.path.join(sub, name), label, handle.read()))
    return found


def from_folder(console: Any, project: str, dataset_type: str, location: str) -> str:
    files = _folder_files(console, location.strip())
    if not files:
        raise ConsoleError("%s has no PNG or JPEG images in normal/ or anomaly/ subfolders" % location)
    for name, _, body in files:  # an S3 folder's objects are read and checked too
        check_image(body if body is not None else read_object(console, name), name)
    prefix = "imports/%s/%s/%s" % (project, dataset_type, uuid.uuid4().hex[:12])
    lines = []
    with _Import(console, project, dataset_type) as job:
        for name, label, body in files:
            ref = job.store("%s/%s" % (prefix, name), body) if body is not None else name
            lines.append(line_for(ref, label))
        job.add(lines)
    return "%s dataset created from %d image(s) in %s." % (dataset_type, len(lines), location)


def from_manifest(console: Any, project: str, dataset_type: str, location: str) -> str:
    location = location.strip()
    if location.startswith("s3://"):
        bucket, key = split_uri(location)
        source = {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Key": key}}}
        console.ops.call("CreateDataset", ProjectName=project, DatasetType=dataset_type, DatasetSource=source)
        return "Creating the %s dataset from %s." % (dataset_type, location)
    if not os.path.isabs(location) or not os.path.isfile(location):
        raise ConsoleError("expected a manifest file (an absolute path on the server, or s3://bucket/key), got %r"
                           % location)
    try:
        with open(location, encoding="utf-8-sig") as handle:
            dataset = parse_manifest_text(handle.read(), location, os.path.dirname(location))
    except (EdgeRuntimeError, UnicodeDecodeError) as exc:
        raise ConsoleError("the manifest cannot be read: %s" % exc) from None
    prefix = "imports/%s/%s/%s" % (project, dataset_type, uuid.uuid4().hex[:12])
    lines = []
    with _Import(console, project, dataset_type) as job:
        for number, sample in enumerate(dataset.samples):
            line = dict(sample.raw)
            line["source-ref"] = job.copy(sample.image_ref, "%s/%d-%s" % (prefix, number, _base(sample.image_ref)),
                                          True)
            if sample.mask_ref:
                mask_key = next(k for k in line if k.endswith("-ref") and k != "source-ref")
                line[mask_key] = job.copy(sample.mask_ref, "%s/%d-mask-%s" % (prefix, number, _base(sample.mask_ref)),
                                          False)
            lines.append(line)
        job.add(lines)
    return "%s dataset created from %d manifest line(s)." % (dataset_type, len(lines))


def _base(ref: str) -> str:
    return ref.replace("\\", "/").rsplit("/", 1)[-1]


class _Import:
    """An empty dataset filled in chunks; on any failure the dataset and the copied objects are removed."""

    def __init__(self, console: Any, project: str, dataset_type: str) -> None:
        self.console, self.project, self.dataset_type = console, project, dataset_type
        self.keys: list[str] = []

    def __enter__(self) -> _Import:
        self.console.ops.call("CreateDataset", ProjectName=self.project, DatasetType=self.dataset_type)
        return self

    def store(self, key: str, body: bytes) -> str:
        fmt = check_image(body, key.rsplit("/", 1)[-1])[0]
        self.console.context.objects.put(self.console.bucket, key, body, CONTENT_TYPES[fmt])
        self.keys.append(key)
        return s3_uri(self.console.bucket, key)

    def copy(self, ref: str, key: str, image: bool) -> str:
        if ref.startswith("s3://"):
            return ref
        try:
            with open(ref, "rb") as handle:
                body = handle.read()
        except OSError as exc:
            raise ConsoleError("the manifest names %s, which cannot be read: %s" % (_base(ref), exc.strerror)) from None
        if image:
            return self.store(key, body)
        self.console.context.objects.put(self.console.bucket, key, body, "image/png")
        self.keys.append(key)
        return s3_uri(self.console.bucket, key)

    def add(self, lines: list[dict[str, Any]]) -> None:
        for start in range(0, len(lines), CHUNK):
            self.console.ops.call("UpdateDatasetEntries", ProjectName=self.project, DatasetType=self.dataset_type,
                                  Changes=changes(lines[start:start + CHUNK]))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            return
        with contextlib.suppress(ConsoleError):
            self.console.ops.call("DeleteDataset", ProjectName=self.project, DatasetType=self.dataset_type)
        for key in self.keys:
            self.console.context.objects.delete(self.console.bucket, key)
