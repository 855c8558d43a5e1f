"""`edge-build.json`, what a compiled package adds to a plain one: a frozen, typed build record.

The compiler makes a `BuildRecord` and writes `to_json()`; `runtime/loader.py` reads it back with
`from_json`, which refuses a file of the wrong shape naming the key. Nothing stored can be derived:
a TensorRT build is deferred exactly when it names no engine. Python 3.8 compatible: this module runs
on the device, and imports nothing of ours but the errors.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from edge_runtime.errors import ModelPackageError

BUILD_FILE = "edge-build.json"
BUILD_FORMAT_VERSION = 1
BACKENDS = ("onnxruntime", "tensorrt")


@dataclass(frozen=True)
class Artifact:
    """A file of the compiled package with its role and SHA-256 (hex)."""

    file: str
    role: str
    sha256: str
    bytes: int

    def to_json(self) -> Dict[str, Any]:
        return {"file": self.file, "role": self.role, "sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class CpuBuild:
    """An ONNX Runtime build: its model file and the CPU features it was built for and needs."""

    model_artifact: str
    arch: str
    mcpu: str
    mattr: Tuple[str, ...] = ()
    target_features: Tuple[str, ...] = ()  # everything the target CPU has
    required: Tuple[str, ...] = ()  # what the kernels dispatch on: the device must have these
    onnxruntime: Mapping[str, Any] = field(default_factory=dict)  # how the graph was optimised / quantised
    openvino: Mapping[str, Any] = field(default_factory=dict)  # compiler/openvino_build's record: IR files or why not
    serving: Mapping[str, Any] = field(default_factory=dict)  # which engine the device runs it on, and why

    def to_json(self) -> Dict[str, Any]:
        features = {"arch": self.arch, "mcpu": self.mcpu, "mattr": list(self.mattr),
                    "target": list(self.target_features), "required": list(self.required)}
        data = {"model_artifact": self.model_artifact, "features": features, "onnxruntime": dict(self.onnxruntime),
                "serving": dict(self.serving)}
        if self.openvino:
            data["openvino"] = dict(self.openvino)
        return data


@dataclass(frozen=True)
class TensorRTBuild:
    """A TensorRT build: the ONNX it comes from, the builder settings, and the engine if one was built here."""

    onnx: str
    settings: Mapping[str, Any]  # runtime/build/trt_build.BuilderSettings.to_dict(), paths relative to the package
    engine: Optional[str] = None
    engine_machine: Optional[str] = None
    deferred_reason: Optional[str] = None
    calibration_cache: Optional[str] = None  # where the INT8 calibration cache comes from, in words

    @property
    def deferred(self) -> bool:
        return self.engine is None

    @property
    def status(self) -> str:
        return "deferred" if self.deferred else "built"

    def to_json(self) -> Dict[str, Any]:
        return {"onnx": self.onnx, "settings": dict(self.settings), "engine": self.engine,
                "engine_machine": self.engine_machine, "deferred_reason": self.deferred_reason,
                "calibration_cache": self.calibration_cache}


@dataclass(frozen=True)
class BuildRecord:
    """What was built, for which target, from which files; exactly one of `cpu` / `tensorrt` by `backend`."""

    backend: str
    precision: str
    target: Mapping[str, Any]  # compiler/targets.CompileTarget.to_dict()
    lookout_configuration: Mapping[str, Any]  # the TargetPlatform / TargetDevice / CompilerOptions Lookout echoes
    accuracy: Mapping[str, Any]  # the measured change against the source model, or why it was not measured
    compiler_version: str
    created: str
    artifacts: Tuple[Artifact, ...] = ()
    cpu: Optional[CpuBuild] = None
    tensorrt: Optional[TensorRTBuild] = None
    format_version: int = BUILD_FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ModelPackageError("backend must be one of %s, got %r" % (", ".join(BACKENDS), self.backend))
        if (self.backend == "onnxruntime") != (self.cpu is not None) or (
                self.backend == "tensorrt") != (self.tensorrt is not None):
            raise ModelPackageError("a %s build record needs its %s part and only that"
                                    % (self.backend, "CPU" if self.backend == "onnxruntime" else "TensorRT"))

    def artifact(self, name: str) -> Optional[Artifact]:
        return next((a for a in self.artifacts if a.file == name), None)

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "format_version": self.format_version, "compiler_version": self.compiler_version,
            "created": self.created, "backend": self.backend, "precision": self.precision,
            "target": dict(self.target), "lookout_configuration": dict(self.lookout_configuration),
            "accuracy": dict(self.accuracy), "artifacts": [a.to_json() for a in self.artifacts],
        }
        if self.cpu is not None:
            data.update(self.cpu.to_json())
        if self.tensorrt is not None:
            data["tensorrt"] = self.tensorrt.to_json()
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = BUILD_FILE) -> "BuildRecord":
        """The record in `data` (parsed JSON); ModelPackageError names what is wrong, `where` says in which file."""
        if not isinstance(data, dict) or data.get("backend") not in BACKENDS:
            raise ModelPackageError("%s: backend must be one of %s" % (where, ", ".join(BACKENDS)))
        version = _int(data, "format_version", where, 0)
        if version > BUILD_FORMAT_VERSION:
            raise ModelPackageError("%s: build format %s is newer than this runtime understands (%d)"
                                    % (where, version, BUILD_FORMAT_VERSION))
        try:
            return cls(
                backend=data["backend"], precision=str(data.get("precision", "")),
                target=_mapping(data, "target", where), accuracy=_mapping(data, "accuracy", where),
                lookout_configuration=_mapping(data, "lookout_configuration", where),
                compiler_version=str(data.get("compiler_version", "")), created=str(data.get("created", "")),
                artifacts=tuple(_artifact(a, where) for a in _list(data, "artifacts", where)),
                cpu=_cpu(data, where) if data["backend"] == "onnxruntime" else None,
                tensorrt=_tensorrt(data, where) if data["backend"] == "tensorrt" else None,
                format_version=version or BUILD_FORMAT_VERSION,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelPackageError("%s: not a valid build record (%s)" % (where, exc)) from exc


def is_compiled(package_dir: str) -> bool:
    return os.path.isfile(os.path.join(package_dir, BUILD_FILE))


def read_build(root: str) -> BuildRecord:
    path = os.path.join(root, BUILD_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ModelPackageError("%s is not readable JSON: %s" % (path, exc)) from exc
    return BuildRecord.from_json(data, path)


def write_build(folder: str, record: BuildRecord) -> str:
    path = os.path.join(folder, BUILD_FILE)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(record.to_json(), fh, indent=2, sort_keys=True)
        fh.write("\n")
    return path


def _cpu(data: Dict[str, Any], where: str) -> CpuBuild:
    features = _mapping(data, "features", where)
    model = data.get("model_artifact")
    if not model:
        raise ModelPackageError("%s names no model_artifact" % where)
    return CpuBuild(
        model_artifact=str(model), arch=str(features.get("arch") or _mapping(data, "target", where).get("arch", "")),
        mcpu=str(features.get("mcpu", "")), mattr=tuple(features.get("mattr", ())),
        target_features=tuple(features.get("target", ())), required=tuple(features.get("required", ())),
        onnxruntime=_mapping(data, "onnxruntime", where), openvino=_mapping(data, "openvino", where),
        serving=_mapping(data, "serving", where),
    )


def _tensorrt(data: Dict[str, Any], where: str) -> TensorRTBuild:
    trt = _mapping(data, "tensorrt", where)
    if not trt.get("onnx"):
        raise ModelPackageError("%s: a TensorRT build must carry its ONNX model" % where)
    return TensorRTBuild(onnx=str(trt["onnx"]), settings=dict(trt.get("settings") or {}), engine=trt.get("engine"),
                         engine_machine=trt.get("engine_machine"), deferred_reason=trt.get("deferred_reason"),
                         calibration_cache=trt.get("calibration_cache"))


def _artifact(item: Any, where: str) -> Artifact:
    if not isinstance(item, dict) or not item.get("file"):
        raise ModelPackageError("%s: every artifact needs a file name, got %r" % (where, item))
    return Artifact(file=str(item["file"]), role=str(item.get("role", "")), sha256=str(item.get("sha256", "")),
                    bytes=int(item.get("bytes", 0)))


def _mapping(data: Dict[str, Any], key: str, where: str) -> Dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ModelPackageError("%s: %s must be an object, got %r" % (where, key, value))
    return value


def _list(data: Dict[str, Any], key: str, where: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ModelPackageError("%s: %s must be a list, got %r" % (where, key, value))
    return value


def _int(data: Dict[str, Any], key: str, where: str, default: int) -> int:
    try:
        return int(data.get(key, default))
    except (TypeError, ValueError):
        raise ModelPackageError("%s: %s must be an integer, got %r" % (where, key, data.get(key))) from None
