"""What GPU, CUDA and TensorRT this machine has: the facts `gpu-code`, `cuda-ver`, `trt-ver` are checked against.

cuda-python moved its modules in 12.x (`cuda.bindings.driver/runtime`; the old `cuda.cuda` /
`cuda.cudart` names were dropped in 13.0); both layouts are tried. Everything is imported lazily:
importing this module needs neither a GPU nor cuda-python. Python 3.8 compatible (JetPack 5).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from edge_runtime.compiler.versions import Version, cuda_version_from_int, format_version, tensorrt_version
from edge_runtime.errors import UnsupportedHardware


@dataclass(frozen=True)
class BuildMachine:
    """The GPU architecture, TensorRT and CUDA versions of the machine that builds (or runs) an engine."""

    gpu_code: str  # "sm_72"
    trt_version: Version
    cuda_version: Version
    gpu_name: str = ""

    def describe(self) -> str:
        name = " (%s)" % self.gpu_name if self.gpu_name else ""
        return "%s%s, TensorRT %s, CUDA %s" % (self.gpu_code, name, format_version(self.trt_version),
                                               format_version(self.cuda_version))


def _cuda_module(new: str, old: str) -> Any:
    for name in (new, old):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise UnsupportedHardware("cuda-python is not installed; install it with: pip install 'edge-runtime[gpu]'")


def cuda_driver() -> Any:
    return _cuda_module("cuda.bindings.driver", "cuda.cuda")


def cuda_runtime() -> Any:
    return _cuda_module("cuda.bindings.runtime", "cuda.cudart")


def checked(result: Any, what: str) -> Any:
    """cuda-python returns (error, value...): raise on an error, return the value(s)."""
    values = result if isinstance(result, tuple) else (result,)
    err: Any = values[0]
    if int(getattr(err, "value", err)) != 0:
        raise UnsupportedHardware("%s failed: %s" % (what, getattr(err, "name", err)))
    rest = values[1:]
    return rest[0] if len(rest) == 1 else rest


def probe_gpu(device: int = 0) -> Tuple[str, str, Version]:
    """(gpu_code, name, CUDA version) of GPU `device` via the CUDA driver API."""
    drv = cuda_driver()
    try:
        return _probe(drv, device)
    except UnsupportedHardware:
        raise
    except Exception as exc:  # cuda-python raises its own types when the driver library is missing
        raise UnsupportedHardware("no usable NVIDIA GPU here (%s: %s)" % (type(exc).__name__, exc)) from exc


def _probe(drv: Any, device: int) -> Tuple[str, str, Version]:
    checked(drv.cuInit(0), "cuInit")
    dev = checked(drv.cuDeviceGet(device), "cuDeviceGet")
    attr = drv.CUdevice_attribute
    major = checked(drv.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "compute major")
    minor = checked(drv.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "compute minor")
    raw_name = checked(drv.cuDeviceGetName(64, dev), "cuDeviceGetName")
    name = raw_name.split(b"\0", 1)[0].decode("utf-8", "replace") if isinstance(raw_name, bytes) else str(raw_name)
    return "sm_%d%d" % (major, minor), name, _cuda_version(drv)


def _cuda_version(drv: Any) -> Version:
    """The CUDA runtime's version where cuda-python has it, else the driver's."""
    try:
        rt = cuda_runtime()
        return cuda_version_from_int(int(checked(rt.cudaRuntimeGetVersion(), "cudaRuntimeGetVersion")))
    except UnsupportedHardware:
        return cuda_version_from_int(int(checked(drv.cuDriverGetVersion(), "cuDriverGetVersion")))


def probe_build_machine(trt: Any, device: int = 0) -> BuildMachine:
    """This machine as an engine builder: needs TensorRT (`trt`), cuda-python and a GPU."""
    version = tensorrt_version(trt)
    gpu_code, name, cuda = probe_gpu(device)
    return BuildMachine(gpu_code=gpu_code, trt_version=version, cuda_version=cuda, gpu_name=name)


def probe_for_compile() -> Tuple[Optional[BuildMachine], str]:
    """(machine, "") when this host can build engines now, else (None, why not)."""
    try:
        trt = importlib.import_module("tensorrt")
    except ImportError:
        return None, "TensorRT is not installed on this machine"
    try:
        return probe_build_machine(trt), ""
    except Exception as exc:  # any probe failure means: cannot build here, defer to the device
        return None, str(exc)
