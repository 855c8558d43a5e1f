"""Training inputs as local files: S3 objects copied once into the job's folder before training starts.

The trainer and the evaluation then read plain files (no S3 credentials or endpoint inside the
trainer, and each image is fetched once instead of once per epoch). `publish` maps a staged path back
to the `s3://` reference users know, for the EvaluationManifest. In embedded mode the object folder
is already local and nothing is copied.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

from edge_runtime.server.objects import LocalObjects, ObjectStore, split_uri

WORKERS = 8


class TrainingInputs:
    """Training inputs copied once to local files (or, in embedded mode, the local object folder itself)."""

    def __init__(self, objects: ObjectStore, root: str) -> None:
        self._objects = objects
        self._copies = None if isinstance(objects, LocalObjects) else LocalObjects(root)

    def _copy(self, ref: str) -> str:
        assert self._copies is not None
        bucket, key = split_uri(ref)
        path = self._copies.path(bucket, key)
        if not os.path.isfile(path):
            self._copies.put(bucket, key, self._objects.get(bucket, key))
        return path

    def prefetch(self, refs: Iterable[str]) -> None:
        """Copy every s3:// reference (in parallel); raises the first failure (NotFound names the object)."""
        if self._copies is None:
            return
        wanted = sorted({r for r in refs if r.startswith("s3://")})
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(self._copy, wanted))

    def localize(self, ref: str) -> str:
        if self._copies is not None and ref.startswith("s3://"):
            return self._copy(ref)
        return self._objects.localize(ref)

    def publish(self, ref: str) -> str:
        if self._copies is not None:
            ref = self._copies.publish(ref)
        return self._objects.publish(ref)
