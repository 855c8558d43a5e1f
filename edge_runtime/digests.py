"""SHA-256 of a file, read in 1 MiB blocks: the one hashing routine for artifacts, packages and engines.

Hex digests go into edge-build.json and the engine cache; Greengrass wants the base64 form in recipes.
Python 3.8 compatible: this module runs on the device.
"""

from __future__ import annotations

import base64
import hashlib

_BLOCK = 1 << 20


def file_sha256(path: str) -> "hashlib._Hash":
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest


def sha256_hex(path: str) -> str:
    return file_sha256(path).hexdigest()


def sha256_base64(path: str) -> str:
    """The Greengrass digest of a file."""
    return base64.b64encode(file_sha256(path).digest()).decode("ascii")
