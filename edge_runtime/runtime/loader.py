"""One loader for plain and compiled model packages: what the agent, the benchmarks and the server run.

A plain package is what training writes. A compiled package adds `edge-build.json` (modelpkg/build.py)
naming the target, the options and the artifacts; the loader picks the artifact this machine runs:

- ONNX Runtime builds: the build's architecture must be this machine's and every required CPU
  feature present; otherwise UnsupportedHardware names what is missing (instead of an illegal
  instruction, or kernels the build was never measured with).
- TensorRT builds: resolved even here, so the GPU runtime can build the deferred engine on the
  device (runtime/build/trt_build.build_engine) or fall back to the ONNX on the CPU; `tensorrt` carries
  the ONNX, the builder settings with absolute paths and the engine plan when there is one.

Every artifact used is checked against its SHA-256. Python 3.8 compatible: no onnx import here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from edge_runtime.digests import sha256_hex
from edge_runtime.errors import ModelPackageError, UnsupportedHardware
from edge_runtime.modelpkg.build import BUILD_FILE, BuildRecord, CpuBuild, is_compiled, read_build
from edge_runtime.modelpkg.manifest import ModelManifest, model_file_path, read_manifest
from edge_runtime.runtime.build.cpu_features import HostCpu, detect_host_cpu, missing_features


@dataclass(frozen=True)
class TensorRTSource:
    """A TensorRT build resolved in its package: the ONNX (for a deferred build and the CPU fallback), the
    builder settings with absolute paths (runtime/build/trt_build.BuilderSettings as a dict), and the engine
    plan when the package carries one."""

    onnx_path: str
    settings: Mapping[str, Any]
    engine_path: Optional[str] = None

    @property
    def deferred(self) -> bool:
        return self.engine_path is None

    @property
    def calibration_path(self) -> Optional[str]:
        return self.settings.get("calibration_path")


@dataclass(frozen=True)
class LoadedPackage:
    """A model package resolved to what will actually run here."""

    root: str
    manifest: ModelManifest
    model_path: str  # ONNX file (plain or optimised/quantised build) or the TensorRT engine plan
    backend: str = "onnxruntime"  # "onnxruntime" or "tensorrt"
    build: Optional[BuildRecord] = None  # edge-build.json when compiled
    tensorrt: Optional[TensorRTSource] = None  # backend "tensorrt" only
    openvino_model_path: Optional[str] = None  # a CPU build's OpenVINO IR, checked, when it carries one

    @property
    def onnx_path(self) -> str:
        """The ONNX model the CPU path runs (for a TensorRT build: the ONNX it was built from)."""
        return self.tensorrt.onnx_path if self.tensorrt is not None else self.model_path


def load_package(package_dir: str, manifest: Optional[ModelManifest] = None) -> LoadedPackage:
    """Read a package (its manifest unless the caller read it already); a compiled build is checked here."""
    root = os.path.abspath(package_dir)
    manifest = manifest or read_manifest(root)
    if is_compiled(root):
        return resolve_build(root, manifest)
    return LoadedPackage(root=root, manifest=manifest, model_path=model_file_path(root, manifest))


def verified_artifact(root: str, build: BuildRecord, name: Optional[str]) -> Optional[str]:
    """Absolute path of artifact `name` after checking it exists and matches its recorded SHA-256."""
    if not name:
        return None
    record = build.artifact(name)
    if record is None:
        raise ModelPackageError("%s names %s but lists no checksum for it" % (BUILD_FILE, name))
    path = os.path.join(root, name)
    if not os.path.isfile(path):
        raise ModelPackageError("compiled package %s is missing %s" % (root, name))
    if sha256_hex(path) != record.sha256:
        raise ModelPackageError("%s in %s does not match its SHA-256 in %s: the file was changed or damaged"
                                % (name, root, BUILD_FILE))
    return path


def check_cpu(cpu: CpuBuild, host: HostCpu) -> None:
    """Refuse a CPU build for another architecture or needing features this CPU lacks."""
    if cpu.arch and cpu.arch != host.arch:
        raise UnsupportedHardware("this model was compiled for %s CPUs; this machine is %s" % (cpu.arch, host.arch))
    missing = missing_features(cpu.required, host.features)
    if missing:
        raise UnsupportedHardware(
            "this model was compiled for mcpu %s and needs CPU features this machine lacks: %s; "
            "recompile with an mcpu/mattr this CPU supports" % (cpu.mcpu or "?", ", ".join(missing))
        )


def resolve_build(root: str, manifest: ModelManifest, host: Optional[HostCpu] = None) -> LoadedPackage:
    """The artifact this machine runs, checked; `host` overrides CPU detection (tests)."""
    build = read_build(root)
    if build.cpu is not None:
        check_cpu(build.cpu, host or detect_host_cpu())
        model_path = verified_artifact(root, build, build.cpu.model_artifact)
        assert model_path is not None  # the record always names its model artifact
        return LoadedPackage(root=root, manifest=manifest, model_path=model_path, backend="onnxruntime", build=build,
                             openvino_model_path=_openvino_model(root, build, build.cpu))
    return _resolve_tensorrt(root, manifest, build)


def _openvino_model(root: str, build: BuildRecord, cpu: CpuBuild) -> Optional[str]:
    """The OpenVINO IR (checked with its weights) when the build carries one."""
    if not cpu.openvino.get("model"):
        return None
    xml = verified_artifact(root, build, cpu.openvino["model"])
    verified_artifact(root, build, cpu.openvino.get("weights"))
    return xml


def _resolve_tensorrt(root: str, manifest: ModelManifest, build: BuildRecord) -> LoadedPackage:
    assert build.tensorrt is not None  # a record has the part its backend names
    onnx_path = verified_artifact(root, build, build.tensorrt.onnx)
    assert onnx_path is not None
    settings: Dict[str, Any] = dict(build.tensorrt.settings)
    for key in ("calibration_path", "calibration_cache_path"):
        if settings.get(key):
            settings[key] = verified_artifact(root, build, settings[key])
    source = TensorRTSource(onnx_path=onnx_path, settings=settings,
                            engine_path=verified_artifact(root, build, build.tensorrt.engine))
    return LoadedPackage(root=root, manifest=manifest, model_path=source.engine_path or onnx_path,
                         backend="tensorrt", build=build, tensorrt=source)
