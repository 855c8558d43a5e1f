"""One loader for plain and compiled model packages, used by the agent and the benchmarks.

A plain package is what training writes. A compiled package (see compiler/) adds `edge-build.json`
naming the target, the options and the artifacts; the loader picks the artifact this machine runs and
refuses builds that need hardware the machine lacks. Python 3.8 compatible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from edge_runtime.modelpkg.manifest import ModelManifest, read_manifest

BUILD_FILE = "edge-build.json"


@dataclass(frozen=True)
class LoadedPackage:
    """A model package resolved to what will actually run here."""

    root: str
    manifest: ModelManifest
    model_path: str  # ONNX file (plain or optimised/quantised build) or the TensorRT engine plan
    backend: str = "onnxruntime"  # "onnxruntime" or "tensorrt"
    build: Optional[Dict[str, Any]] = field(default=None)  # parsed edge-build.json when compiled


def load_package(package_dir: str) -> LoadedPackage:
    """Read a package; a compiled build is checked against this machine by the compiler's loader hook."""
    root = os.path.abspath(package_dir)
    manifest = read_manifest(root)
    if os.path.isfile(os.path.join(root, BUILD_FILE)):
        from edge_runtime.compiler.build_loader import resolve_build  # device-safe module

        return resolve_build(root, manifest)
    return LoadedPackage(root=root, manifest=manifest, model_path=os.path.join(root, manifest.model_file))
