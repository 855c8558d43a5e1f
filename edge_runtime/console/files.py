"""Stored images for the pages: objects by their s3:// reference, whole or as thumbnails."""

from __future__ import annotations

from typing import Any

from edge_runtime.console.http import ConsoleError, HttpResponse, Request, data, url
from edge_runtime.console.images import ThumbnailCache, thumbnail
from edge_runtime.datasets.images import image_format
from edge_runtime.errors import EdgeRuntimeError
from edge_runtime.server.objects import OutsideObjectStore, checked_s3_ref, split_uri

THUMB_WIDTHS = (160, 320)


def object_url(ref: str, width: int | None = None) -> str:
    return url("/object", ref=ref, w=width)


def read_object(console: Any, ref: str) -> bytes:
    try:
        bucket, key = split_uri(checked_s3_ref(ref))
        return bytes(console.context.objects.get(bucket, key))
    except OutsideObjectStore:
        raise ConsoleError("images are named as s3://bucket/key", 404) from None
    except EdgeRuntimeError as exc:
        raise ConsoleError(str(exc), 404) from None


def list_s3_keys(console: Any, bucket: str, prefix: str, delimiter: str = "", limit: int = 0) -> list[str]:
    """Keys under s3://bucket/prefix in the server's S3 (at most `limit` when set); a bucket that is missing
    or cannot be listed is a readable ConsoleError, not a failed request."""
    kwargs = {"Bucket": bucket, "Prefix": prefix, **({"Delimiter": delimiter} if delimiter else {})}
    keys: list[str] = []
    try:
        for listing in console.context.objects.client().get_paginator("list_objects_v2").paginate(**kwargs):
            keys.extend(item["Key"] for item in listing.get("Contents", []))
            if limit and len(keys) >= limit:
                break
    except Exception as exc:  # botocore's error classes are generated at run time
        error = getattr(exc, "response", {}).get("Error", {})
        if error.get("Code") == "NoSuchBucket":
            raise ConsoleError("bucket %s does not exist" % bucket) from None
        raise ConsoleError("cannot list s3://%s/%s: %s" % (bucket, prefix, error.get("Message") or exc)) from None
    return keys


def serve_object(console: Any, request: Request) -> HttpResponse:
    ref = request.arg("ref")
    width = int(request.arg("w", "0") or 0) if request.arg("w", "0").isdigit() else 0
    if width and width not in THUMB_WIDTHS:
        raise ConsoleError("thumbnails are %s pixels wide" % " or ".join(str(w) for w in THUMB_WIDTHS))
    cache = console.services.setdefault("thumbnails", ThumbnailCache())
    body = cache.get((ref, width)) if width else None
    if body is None:
        body = read_object(console, ref)
        if width:
            body = thumbnail(body, width)
            cache.put((ref, width), body)
    kind = image_format(body)
    if kind not in ("png", "jpeg"):
        raise ConsoleError("that object is not an image", 404)
    return data(body, "image/" + kind)


ROUTES = [("GET", "/object", serve_object)]
