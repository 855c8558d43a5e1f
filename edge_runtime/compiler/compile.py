"""`compile_package`: a model package + a validated target -> a compiled model package, written atomically.

The output folder holds the package's own files (edge-model.json, model.onnx, calibration.npz),
`edge-build.json` and the artifacts:

    model.cpu-fp32.onnx / model.cpu-int8.onnx      CPU builds (ONNX Runtime)
    model.openvino.xml / .bin                       CPU builds at fp32 or bf16, when openvino is installed
    model.<gpu>-trt<version>.engine                 NVIDIA builds made here (only on a matching machine)

An NVIDIA build on another machine is deferred (see trt_build). Everything is written to a temporary
folder beside the output and renamed into place, so a failed compile leaves nothing half-written.
"""

from __future__ import annotations

import datetime
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from edge_runtime import __version__
from edge_runtime.compiler.cpu_build import build_cpu
from edge_runtime.compiler.openvino_build import build_openvino, check_bf16_target, openvino_precision
from edge_runtime.compiler.options import TargetKind
from edge_runtime.compiler.targets import CompileTarget
from edge_runtime.digests import sha256_hex
from edge_runtime.errors import AlreadyExists, CompileError
from edge_runtime.modelpkg.build import Artifact, BuildRecord, CpuBuild, TensorRTBuild, is_compiled, write_build
from edge_runtime.modelpkg.manifest import CALIBRATION_FILE, MANIFEST_FILE, ModelManifest, read_manifest
from edge_runtime.progress import ProgressSink
from edge_runtime.runtime.build.calibration import DEFAULT_MAX_IMAGES, load_calibration_images
from edge_runtime.runtime.build.gpu_probe import BuildMachine, probe_for_compile
from edge_runtime.runtime.build.trt_build import build_engine, machine_mismatches, settings_for
from edge_runtime.runtime.build.versions import format_version
from edge_runtime.staging import staged_folder

MachineProbe = Callable[[], Tuple[Optional[BuildMachine], str]]


@dataclass(frozen=True)
class CompileSettings:
    """How to compile, beyond the target: calibration budget and whether to replace the output."""

    max_calibration_images: int = DEFAULT_MAX_IMAGES
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.max_calibration_images < 1:
            raise CompileError("max_calibration_images must be >= 1, got %d" % self.max_calibration_images)


@dataclass(frozen=True)
class CompileResult:
    output_dir: str
    build: BuildRecord


@dataclass(frozen=True)
class _Built:
    """One backend's part of the record, and the files it added to the package."""

    precision: str
    accuracy: Dict[str, Any]
    new_files: List[Tuple[str, str]] = field(default_factory=list)
    cpu: Optional[CpuBuild] = None
    tensorrt: Optional[TensorRTBuild] = None


def stderr_progress(message: str) -> None:
    print("[compile] %s" % message, file=sys.stderr, flush=True)


def compile_package(
    model_dir: str,
    target: CompileTarget,
    output_dir: str,
    settings: CompileSettings = CompileSettings(),
    progress: ProgressSink = stderr_progress,
    machine_probe: MachineProbe = probe_for_compile,
) -> CompileResult:
    """Compile the plain package at `model_dir` for `target` into `output_dir`."""
    manifest = read_manifest(model_dir)
    if is_compiled(model_dir):
        raise CompileError("%s is already a compiled package; compile the plain package training wrote" % model_dir)
    output_dir = os.path.abspath(output_dir)
    with staged_folder(output_dir, replace=settings.overwrite, refuse=_taken) as work:
        progress("compiling %s for %s" % (model_dir, target.describe()))
        files = _copy_package(model_dir, manifest, work)
        if target.kind == TargetKind.CPU:
            built = _cpu_build(work, manifest, target, settings, progress)
        else:
            built = _nvidia_build(work, manifest, target, settings, progress, machine_probe)
        build = _record(target, built, tuple(_artifact(work, name, role) for name, role in files + built.new_files))
        write_build(work, build)
    progress("wrote %s" % output_dir)
    return CompileResult(output_dir=output_dir, build=build)


def _copy_package(model_dir: str, manifest: ModelManifest, work: str) -> List[Tuple[str, str]]:
    files = [(MANIFEST_FILE, "manifest"), (manifest.model_file, "source_model")]
    if os.path.isfile(os.path.join(model_dir, CALIBRATION_FILE)):
        files.append((CALIBRATION_FILE, "calibration_images"))
    for name, _ in files:
        shutil.copy2(os.path.join(model_dir, name), os.path.join(work, name))
    return files


def _images(work: str, settings: CompileSettings) -> Any:
    path = os.path.join(work, CALIBRATION_FILE)
    return load_calibration_images(path, settings.max_calibration_images) if os.path.isfile(path) else None


def _record(target: CompileTarget, built: _Built, artifacts: Tuple[Artifact, ...]) -> BuildRecord:
    return BuildRecord(
        backend="onnxruntime" if built.cpu is not None else "tensorrt", precision=built.precision,
        target=target.to_dict(), lookout_configuration=target.lookout_configuration(), accuracy=built.accuracy,
        compiler_version="edge-runtime %s" % __version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        artifacts=artifacts, cpu=built.cpu, tensorrt=built.tensorrt,
    )


def _cpu_build(work: str, manifest: ModelManifest, target: CompileTarget, settings: CompileSettings,
               progress: ProgressSink) -> _Built:
    cpu, precision = target.cpu, target.options.precision
    if precision == "bf16":
        check_bf16_target(cpu)
    source, images = os.path.join(work, manifest.model_file), _images(work, settings)
    result = build_cpu(source, work, manifest, target.options, cpu, images, progress)
    new_files = [(result.artifact, "model")]
    onnxruntime, accuracy = dict(result.onnxruntime), result.accuracy
    openvino: Optional[Dict[str, Any]] = None
    ov_precision = openvino_precision(precision)
    if ov_precision is not None:
        openvino, files = build_openvino(source, work, manifest, ov_precision, images, progress)
        new_files += [(name, "openvino_model") for name in files]
        if precision == "bf16":
            if not files:
                raise CompileError("precision bf16 is served by OpenVINO, but its model was not built: %s"
                                   % openvino.get("reason"))
            onnxruntime["accuracy_of_fallback"] = result.accuracy  # fp32, when openvino is absent
            accuracy = openvino["accuracy"]
    part = CpuBuild(model_artifact=result.artifact, arch=cpu.arch, mcpu=cpu.mcpu, mattr=tuple(cpu.mattr),
                    target_features=tuple(sorted(cpu.features)), required=tuple(sorted(cpu.required)),
                    onnxruntime=onnxruntime, openvino=openvino or {}, serving=_serving(openvino, precision))
    return _Built(precision, accuracy, new_files, cpu=part)


def _serving(openvino: Optional[Dict[str, Any]], precision: str) -> Dict[str, Any]:
    """Which engine the device runs this build on, and why (the agent reports what it actually chose)."""
    if openvino is None:
        return {"engine": "onnxruntime", "fallback": None,
                "reason": "%s builds run on ONNX Runtime's quantised kernels" % precision}
    if openvino.get("model"):
        return {"engine": "openvino", "fallback": "onnxruntime",
                "reason": "OpenVINO at %s where the device has the openvino package (models.cpu_engine auto); "
                          "else ONNX Runtime on model_artifact" % openvino["precision"]}
    return {"engine": "onnxruntime", "fallback": None, "reason": "no OpenVINO model: %s" % openvino.get("reason")}


def _nvidia_build(work: str, manifest: ModelManifest, target: CompileTarget, settings: CompileSettings,
                  progress: ProgressSink, machine_probe: MachineProbe) -> _Built:
    onnx_path = os.path.join(work, manifest.model_file)
    calibration = CALIBRATION_FILE if os.path.isfile(os.path.join(work, CALIBRATION_FILE)) else None
    if target.options.precision == "int8" and calibration is None:
        raise CompileError("precision int8 needs calibration images, but the package has no calibration.npz")
    trt_settings = settings_for(target.options, manifest, calibration)
    machine, reason = machine_probe()
    if machine is not None and machine_mismatches(trt_settings, machine):
        reason = "this machine (%s) is not the target: %s" % (
            machine.describe(), "; ".join(machine_mismatches(trt_settings, machine)))
        machine = None
    accuracy = {"measured": False, "reason": "TensorRT engines are measured where they are built"}
    if machine is None:
        progress("TensorRT engine deferred to the device: %s" % reason)
        cache = ("produced on the device at the first build from calibration.npz"
                 if calibration and trt_settings.precision == "int8" else None)
        part = TensorRTBuild(onnx=manifest.model_file, settings=trt_settings.to_dict(), deferred_reason=reason,
                             calibration_cache=cache)
        return _Built(trt_settings.precision, accuracy, tensorrt=part)
    name = _build_engine_here(work, onnx_path, trt_settings, machine, progress)
    part = TensorRTBuild(onnx=manifest.model_file, settings=trt_settings.to_dict(), engine=name,
                         engine_machine=machine.describe())
    return _Built(trt_settings.precision, accuracy, [(name, "engine")], tensorrt=part)


def _build_engine_here(work: str, onnx_path: str, trt_settings: Any, machine: BuildMachine,
                       progress: ProgressSink) -> str:
    progress("building the TensorRT engine here (%s)" % machine.describe())
    with_paths = trt_settings.to_dict()
    if with_paths.get("calibration_path"):
        with_paths["calibration_path"] = os.path.join(work, with_paths["calibration_path"])
    with tempfile.TemporaryDirectory(dir=work) as cache:
        built = build_engine(onnx_path, with_paths, cache, machine=machine)
        name = "model.%s-trt%s.engine" % (machine.gpu_code, format_version(machine.trt_version))
        shutil.copy2(built, os.path.join(work, name))
    return name


def _artifact(work: str, name: str, role: str) -> Artifact:
    path = os.path.join(work, name)
    return Artifact(file=name, role=role, sha256=sha256_hex(path), bytes=os.path.getsize(path))


def _taken(output_dir: str) -> AlreadyExists:
    return AlreadyExists("%s exists and is not empty; choose another output or replace it (--force)" % output_dir)
