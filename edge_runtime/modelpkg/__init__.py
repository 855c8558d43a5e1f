"""The model package: the one contract between training, compile, package and agent.

See docs in README.md ("The model package") and `manifest.py`. Python 3.8 compatible.
"""

from edge_runtime.modelpkg.manifest import (
    MANIFEST_FILE,
    MODEL_FILE,
    ClassInfo,
    InputSpec,
    ModelManifest,
    read_manifest,
    write_manifest,
)

__all__ = [
    "MANIFEST_FILE",
    "MODEL_FILE",
    "ClassInfo",
    "InputSpec",
    "ModelManifest",
    "read_manifest",
    "write_manifest",
]
