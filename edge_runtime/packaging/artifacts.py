"""Component artifacts: reproducible ZIPs and the digests Greengrass checks.

A device re-hashes every downloaded artifact and compares it with the recipe's `Digest`: standard
Base64 (with padding) of the raw 32-byte SHA-256, not hex (the nucleus' ArtifactDownloader does
`Base64.getEncoder().encodeToString(messageDigest.digest())`). ZIPs are written with sorted entries
and a fixed timestamp so packaging the same folder twice gives the same bytes and the same digest.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from typing import List

from edge_runtime.digests import sha256_base64
from edge_runtime.errors import InvalidArgument

ALGORITHM = "SHA-256"
_CHUNK = 1 << 20
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Artifact:
    """A file ready to upload: where it is, how the device treats it, and its digest."""

    path: str
    digest: str  # Base64 SHA-256
    size: int
    unarchive: str = "NONE"  # ZIP or NONE
    execute: str = "NONE"

    @property
    def file_name(self) -> str:
        return os.path.basename(self.path)

    @classmethod
    def of(cls, path: str, unarchive: str = "NONE", execute: str = "NONE") -> "Artifact":
        return cls(path=path, digest=sha256_base64(path), size=os.path.getsize(path), unarchive=unarchive,
                   execute=execute)


def _files(root: str) -> List[str]:
    found: List[str] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        found.extend(os.path.relpath(os.path.join(folder, f), root) for f in sorted(files))
    return found


def zip_folder(source_dir: str, zip_path: str) -> Artifact:
    """ZIP a folder's contents (no top folder inside: the device unpacks to `<decompressedPath>/<zip name>/`).

    Written to a temporary name beside the target and renamed, so a failure leaves no partial ZIP.
    """
    if not os.path.isdir(source_dir):
        raise InvalidArgument("cannot zip %s: not a folder" % source_dir)
    files = _files(source_dir)
    if not files:
        raise InvalidArgument("cannot zip %s: the folder is empty" % source_dir)
    tmp = zip_path + ".partial"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for rel in files:
                full = os.path.join(source_dir, rel)
                info = zipfile.ZipInfo(rel.replace(os.sep, "/"), date_time=_FIXED_TIME)
                mode = 0o755 if os.stat(full).st_mode & stat.S_IXUSR else 0o644
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(full, "rb") as src, archive.open(info, "w") as dst:
                    for chunk in iter(lambda: src.read(_CHUNK), b""):  # noqa: B023 - src is bound per loop
                        dst.write(chunk)
        os.replace(tmp, zip_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return Artifact.of(zip_path, unarchive="ZIP")
