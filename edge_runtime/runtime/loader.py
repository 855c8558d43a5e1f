"""One loader for plain and compiled model packages: what the agent, the benchmarks and the server run.

A plain package is what training writes. A compiled package adds `edge-build.json` (modelpkg/build.py)
naming the target, the options and the artifacts; the loader picks the artifact this machine runs:

- ONNX Runtime builds: the build's architecture must be this machine's and every required CPU
  feature present; otherwise UnsupportedHardware names what is missing (instead of an illegal
  instruction, or kernels the build was never measured with).
- TensorRT builds: resolved even here, so the GPU runtime can build the deferred engine on the
  device (runtime/build/trt_build.build_engine) or fall back to the ONNX on the CPU; `build` carries the
  settings with absolute paths, `onnx_path`, the calibration paths, `engine_path` and `deferred`.

Every artifact used is checked against its SHA-256. Python 3.8 compatible: no onnx import here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from edge_runtime.digests import sha256_hex
from edge_runtime.errors import ModelPackageError, UnsupportedHardware
from edge_runtime.modelpkg.build import BUILD_FILE, is_compiled, read_build
from edge_runtime.modelpkg.manifest import ModelManifest, model_file_path, read_manifest
from edge_runtime.runtime.build.cpu_features import HostCpu, detect_host_cpu, missing_features


@dataclass(frozen=True)
class LoadedPackage:
    """A model package resolved to what will actually run here."""

    root: str
    manifest: ModelManifest
    model_path: str  # ONNX file (plain or optimised/quantised build) or the TensorRT engine plan
    backend: str = "onnxruntime"  # "onnxruntime" or "tensorrt"
    build: Optional[Dict[str, Any]] = field(default=None)  # parsed edge-build.json when compiled


def load_package(package_dir: str) -> LoadedPackage:
    """Read a package; a compiled build is checked against this machine."""
    root = os.path.abspath(package_dir)
    manifest = read_manifest(root)
    if is_compiled(root):
        return resolve_build(root, manifest)
    return LoadedPackage(root=root, manifest=manifest, model_path=model_file_path(root, manifest))


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
    if sha256_hex(path) != record.get("sha256"):
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
        return LoadedPackage(root=root, manifest=manifest, model_path=model_path, backend="onnxruntime",
                             build=_with_openvino_paths(root, build))
    return _resolve_tensorrt(root, manifest, build)


def _with_openvino_paths(root: str, build: Dict[str, Any]) -> Dict[str, Any]:
    """The build with `openvino_model_path` (the IR, checked with its weights) when it carries one."""
    record = build.get("openvino") or {}
    if not record.get("model"):
        return build
    xml = verified_artifact(root, build, record["model"])
    verified_artifact(root, build, record.get("weights"))
    resolved = dict(build)
    resolved["openvino_model_path"] = xml
    return resolved


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
