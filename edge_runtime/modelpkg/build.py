"""`edge-build.json`, what a compiled package adds to a plain one: its target, options and artifacts.

The compiler writes it, `runtime/loader.py` reads it. Python 3.8 compatible: this module runs on the device.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from edge_runtime.errors import ModelPackageError

BUILD_FILE = "edge-build.json"
BUILD_FORMAT_VERSION = 1
BACKENDS = ("onnxruntime", "tensorrt")


def is_compiled(package_dir: str) -> bool:
    return os.path.isfile(os.path.join(package_dir, BUILD_FILE))


def read_build(root: str) -> Dict[str, Any]:
    path = os.path.join(root, BUILD_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ModelPackageError("%s is not readable JSON: %s" % (path, exc)) from exc
    if not isinstance(data, dict) or data.get("backend") not in BACKENDS:
        raise ModelPackageError("%s: backend must be one of %s" % (path, ", ".join(BACKENDS)))
    if int(data.get("format_version", 0)) > BUILD_FORMAT_VERSION:
        raise ModelPackageError("%s: build format %s is newer than this runtime understands (%d)"
                                % (path, data.get("format_version"), BUILD_FORMAT_VERSION))
    return data
