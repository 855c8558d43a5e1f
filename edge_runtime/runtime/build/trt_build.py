"""TensorRT engine builds: the settings a compiled package carries, and `build_engine` on the device.

An engine runs only on the GPU architecture and TensorRT version it was built with, so a compile for
an NVIDIA target on another machine is *deferred*: the package carries the ONNX, these settings and
the calibration data (or cache), and the device builds the engine the first time the model starts
(`build_engine`, called from the GPU predictor factory). Engines are cached under
`<cache_dir>/<onnx sha256[:16]>/<gpu>-trt<version>-<settings hash>.engine`; a device that does not
match `gpu-code` / `trt-ver` / `cuda-ver` is refused with a message naming both sides.
Python 3.8 compatible; tensorrt and cuda-python are imported lazily.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union

from edge_runtime.digests import sha256_hex
from edge_runtime.errors import CompileError, UnsupportedHardware
from edge_runtime.modelpkg.manifest import INPUT_NAME, InputSpec, ModelManifest
from edge_runtime.runtime.build.calibration import (
    DEFAULT_MAX_IMAGES,
    calibration_batch_size,
    load_calibration_images,
    preprocessed_batches,
)
from edge_runtime.runtime.build.gpu_probe import BuildMachine, probe_build_machine
from edge_runtime.runtime.build.trt_calibrator import (
    CalibrationCache,
    CudaBuffers,
    DeviceBuffers,
    make_entropy_calibrator,
)
from edge_runtime.runtime.build.trt_network import serialize_engine
from edge_runtime.runtime.build.versions import (
    cuda_compatible,
    format_version,
    int8_calibration_deprecated,
    parse_version,
    tensorrt_version,
    version_matches,
)

log = logging.getLogger(__name__)
_GPU_CODE = re.compile(r"^sm_\d{2,3}$")


@dataclass(frozen=True)
class BuilderSettings:
    """Everything needed to build the engine on the device, stored in edge-build.json."""

    gpu_code: str
    trt_ver: str
    cuda_ver: str
    input: Dict[str, Any]  # the manifest's InputSpec as a dict: size, and preprocessing for calibration
    precision: str = "fp16"
    max_batch_size: int = 8
    opt_batch_size: int = 8
    workspace_mb: int = 1024
    profiles: int = 2  # identical batch 1..max profiles: one per execution context (GPU runtime stream)
    input_name: str = INPUT_NAME
    calibration_path: Optional[str] = None  # calibration.npz (relative in the package, absolute once resolved)
    calibration_cache_path: Optional[str] = None  # a cache built elsewhere, if the package carries one
    calibration_batch_size: int = 8
    calibration_max_images: int = DEFAULT_MAX_IMAGES
    onnx_sha256: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision not in ("fp16", "fp32", "int8"):
            raise CompileError("precision must be fp16, fp32 or int8, got %r" % self.precision)
        if not 1 <= self.opt_batch_size <= self.max_batch_size:
            raise CompileError("need 1 <= opt_batch_size <= max_batch_size, got %d and %d"
                               % (self.opt_batch_size, self.max_batch_size))
        if not 1 <= self.profiles <= 8:
            raise CompileError("profiles must be 1..8, got %d" % self.profiles)
        if self.workspace_mb < 16:
            raise CompileError("workspace_mb must be at least 16, got %d" % self.workspace_mb)
        if not _GPU_CODE.match(self.gpu_code):
            raise CompileError("gpu_code must look like sm_72, got %r" % self.gpu_code)
        parse_version(self.trt_ver, "trt_ver")
        parse_version(self.cuda_ver, "cuda_ver")
        InputSpec(**self.input)  # validates the size and normalisation

    @property
    def input_spec(self) -> InputSpec:
        data = dict(self.input)
        data["mean"] = tuple(data.get("mean", ()))
        data["std"] = tuple(data.get("std", ()))
        return InputSpec(**data)

    @property
    def input_height(self) -> int:
        return int(self.input["height"])

    @property
    def input_width(self) -> int:
        return int(self.input["width"])

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BuilderSettings":
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise CompileError("not valid TensorRT builder settings: %s" % exc) from exc

    def engine_key(self) -> str:
        """A short hash of the settings that change the engine (not paths)."""
        keep = {k: v for k, v in self.to_dict().items()
                if k not in ("calibration_path", "calibration_cache_path", "onnx_sha256", "extra")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:12]


def settings_for(options: Any, manifest: ModelManifest, calibration_file: Optional[str]) -> BuilderSettings:
    """Builder settings from validated CompilerOptions and the model's manifest."""
    input_dict = manifest.to_dict()["input"]
    return BuilderSettings(
        gpu_code=options.gpu_code, trt_ver=options.trt_ver, cuda_ver=options.cuda_ver, input=input_dict,
        precision=options.precision, max_batch_size=options.max_batch_size,
        opt_batch_size=options.effective_opt_batch_size, workspace_mb=options.workspace_mb or 1024,
        calibration_path=calibration_file if options.precision == "int8" else None,
    )


def machine_mismatches(settings: BuilderSettings, machine: BuildMachine) -> List[str]:
    """What about this machine differs from what the build asks for; empty when it matches."""
    problems = []
    if machine.gpu_code != settings.gpu_code:
        problems.append("GPU architecture %s, not %s" % (machine.gpu_code, settings.gpu_code))
    if not version_matches(parse_version(settings.trt_ver), machine.trt_version):
        problems.append("TensorRT %s, not %s" % (format_version(machine.trt_version), settings.trt_ver))
    if not cuda_compatible(parse_version(settings.cuda_ver), machine.cuda_version):
        problems.append("CUDA %s, not %s-compatible" % (format_version(machine.cuda_version), settings.cuda_ver))
    return problems


def check_machine(settings: BuilderSettings, machine: BuildMachine) -> None:
    problems = machine_mismatches(settings, machine)
    if problems:
        raise UnsupportedHardware(
            "this model was compiled for %s with TensorRT %s and CUDA %s, but this device has %s: %s; "
            "recompile for this device (gpu-code, trt-ver, cuda-ver) or run it on the CPU"
            % (settings.gpu_code, settings.trt_ver, settings.cuda_ver, machine.describe(), "; ".join(problems))
        )


def engine_path(cache_dir: str, onnx_sha256: str, settings: BuilderSettings, machine: BuildMachine) -> str:
    name = "%s-trt%s-%s.engine" % (machine.gpu_code, format_version(machine.trt_version), settings.engine_key())
    return os.path.join(cache_dir, onnx_sha256[:16], name)


def _import_tensorrt() -> Any:
    try:
        return importlib.import_module("tensorrt")
    except ImportError:
        raise UnsupportedHardware(
            "TensorRT is not installed here (on Jetson it comes with JetPack: apt install python3-libnvinfer)"
        ) from None


def build_engine(
    onnx_path: str,
    settings: Union[BuilderSettings, Mapping[str, Any]],
    cache_dir: str,
    machine: Optional[BuildMachine] = None,
    buffers: Optional[DeviceBuffers] = None,
) -> str:
    """Return the engine for this device, building and caching it the first time."""
    if not isinstance(settings, BuilderSettings):
        settings = BuilderSettings.from_dict(settings)
    trt = _import_tensorrt()
    version = tensorrt_version(trt)
    machine = machine or probe_build_machine(trt)
    check_machine(settings, machine)
    onnx_sha = settings.onnx_sha256 or sha256_hex(onnx_path)
    path = engine_path(cache_dir, onnx_sha, settings, machine)
    if os.path.isfile(path):
        log.info("using cached TensorRT engine %s", path)
        return path
    log.info("building TensorRT engine for %s (%s); this takes minutes", machine.describe(), settings.precision)
    with open(onnx_path, "rb") as fh:
        onnx_bytes = fh.read()
    calibrator = None
    owned = buffers is None
    buffers = buffers or CudaBuffers()
    try:
        if settings.precision == "int8":
            cache = CalibrationCache(os.path.join(os.path.dirname(path), "calibration-trt%s.cache"
                                                  % format_version(version)), [settings.calibration_cache_path or ""])
            calibrator = _calibrator(trt, settings, cache, buffers)
            if int8_calibration_deprecated(version):
                log.warning("TensorRT %s deprecates implicit INT8 calibration; it still works",
                            format_version(version))
        plan = serialize_engine(trt, version, onnx_bytes, settings, calibrator)
    finally:
        if owned:
            buffers.close()
    _write_atomically(path, plan)
    return path


def _calibrator(trt: Any, settings: BuilderSettings, cache: CalibrationCache, buffers: DeviceBuffers) -> Any:
    have_cache = cache.read() is not None
    if settings.calibration_path and os.path.isfile(settings.calibration_path):
        images = load_calibration_images(settings.calibration_path, settings.calibration_max_images)
    elif have_cache:
        images = None
    else:
        raise CompileError("precision int8 needs calibration images or a calibration cache; found neither "
                           "(calibration.npz: %s)" % settings.calibration_path)
    batch = calibration_batch_size(len(images) if images is not None else 1, settings.calibration_batch_size)
    batches = iter(()) if images is None else preprocessed_batches(images, settings.input_spec, batch, True)
    return make_entropy_calibrator(trt, iter(batches), batch, settings.input_name, buffers, cache)


def _write_atomically(path: str, data: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
