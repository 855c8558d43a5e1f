"""Resolve a compiled package (edge-build.json) to what runs on this machine.

- ONNX Runtime builds: the build's architecture must be this machine's and every required CPU
  feature present; otherwise UnsupportedHardware names what is missing (instead of an illegal
  instruction, or kernels the build was never measured with).
- TensorRT builds: resolved even here, so the GPU runtime can build the deferred engine on the
  device (trt_build.build_engine) or fall back to the ONNX on the CPU; `build` carries the settings
  with absolute paths, `onnx_path`, the calibration paths, `engine_path` and `deferred`.

Every artifact used is checked against its SHA-256. Python 3.8 compatible: no onnx import here.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from edge_runtime.compiler.cpu_features import HostCpu, detect_host_cpu, missing_features
from edge_runtime.compiler.trt_build import sha256_file
from edge_runtime.errors import ModelPackageError, UnsupportedHardware
from edge_runtime.modelpkg.loader import BUILD_FILE, LoadedPackage
from edge_runtime.modelpkg.manifest import ModelManifest

BUILD_FORMAT_VERSION = 1
BACKENDS = ("onnxruntime", "tensorrt")


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


def verified_artifact(root: str, build: Dict[str, Any], name: Optional[str]) -> Optional[str]:
    """Absolute path of artifact `name` after checking it exists and matches its recorded SHA-256."""
    if not name:
        return None
    records = {a.get("file"): a for a in build.get("artifacts", [])}
    record = records.get(name)
    if record is None:
        raise ModelPackageError("%s names %s but lists no checksum for it" % (BUILD_FILE, name))
    path = os.path.join(root, name)
    if not os.path.isfile(path):
        raise ModelPackageError("compiled package %s is missing %s" % (root, name))
    if sha256_file(path) != record.get("sha256"):
        raise ModelPackageError("%s in %s does not match its SHA-256 in %s: the file was changed or damaged"
                                % (name, root, BUILD_FILE))
    return path


def check_cpu(build: Dict[str, Any], host: HostCpu) -> None:
    """Refuse a CPU build for another architecture or needing features this CPU lacks."""
    features = build.get("features") or {}
    arch = features.get("arch") or (build.get("target") or {}).get("arch")
    if arch and arch != host.arch:
        raise UnsupportedHardware("this model was compiled for %s CPUs; this machine is %s" % (arch, host.arch))
    missing = missing_features(features.get("required", ()), host.features)
    if missing:
        raise UnsupportedHardware(
            "this model was compiled for mcpu %s and needs CPU features this machine lacks: %s; "
            "recompile with an mcpu/mattr this CPU supports" % (features.get("mcpu", "?"), ", ".join(missing))
        )


def resolve_build(root: str, manifest: ModelManifest, host: Optional[HostCpu] = None) -> LoadedPackage:
    """The artifact this machine runs, checked; `host` overrides CPU detection (tests)."""
    build = read_build(root)
    if build["backend"] == "onnxruntime":
        check_cpu(build, host or detect_host_cpu())
        model_path = verified_artifact(root, build, build.get("model_artifact"))
        if model_path is None:
            raise ModelPackageError("%s names no model_artifact" % BUILD_FILE)
        return LoadedPackage(root=root, manifest=manifest, model_path=model_path, backend="onnxruntime", build=build)
    return _resolve_tensorrt(root, manifest, build)


def _resolve_tensorrt(root: str, manifest: ModelManifest, build: Dict[str, Any]) -> LoadedPackage:
    trt = dict(build.get("tensorrt") or {})
    onnx_path = verified_artifact(root, build, trt.get("onnx"))
    if onnx_path is None:
        raise ModelPackageError("%s: a TensorRT build must carry its ONNX model" % BUILD_FILE)
    settings = dict(trt.get("settings") or {})
    for key in ("calibration_path", "calibration_cache_path"):
        if settings.get(key):
            settings[key] = verified_artifact(root, build, settings[key])
    engine_path = verified_artifact(root, build, trt.get("engine"))
    resolved = dict(build)
    resolved.update(
        settings=settings,
        onnx_path=onnx_path,
        calibration_path=settings.get("calibration_path"),
        calibration_cache_path=settings.get("calibration_cache_path"),
        engine_path=engine_path,
        engine_machine=trt.get("engine_machine"),
        deferred=engine_path is None,
    )
    return LoadedPackage(root=root, manifest=manifest, model_path=engine_path or onnx_path,
                         backend="tensorrt", build=resolved)
