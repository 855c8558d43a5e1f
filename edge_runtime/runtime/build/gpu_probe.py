"""What GPU, CUDA and TensorRT this machine has: the facts `gpu-code`, `cuda-ver`, `trt-ver` are checked against.

cuda-python is reached through runtime/gpu/cuda_api.py (its module layouts across releases, one status
check, MissingExtra('gpu') when it is absent). Everything is imported lazily: importing this module
needs neither a GPU nor cuda-python. Python 3.8 compatible (JetPack 5).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from edge_runtime.errors import MissingExtra, UnsupportedHardware
from edge_runtime.runtime.build.versions import Version, cuda_version_from_int, format_version, tensorrt_version
from edge_runtime.runtime.gpu import cuda_api


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


def probe_gpu(device: int = 0) -> Tuple[str, str, Version]:
    """(gpu_code, name, CUDA version) of GPU `device` via the CUDA driver API."""
    drv = cuda_api.load_driver()
    try:
        return _probe(drv, device)
    except Exception as exc:  # CudaError, or cuda-python's own types when the driver library is missing
        raise UnsupportedHardware("no usable NVIDIA GPU here (%s: %s)" % (type(exc).__name__, exc)) from exc


def _probe(drv: Any, device: int) -> Tuple[str, str, Version]:
    cuda_api.check(drv.cuInit(0), "cuInit", drv)
    dev = cuda_api.check(drv.cuDeviceGet(device), "cuDeviceGet", drv)
    major, minor = cuda_api.compute_capability(drv, dev)
    return "sm_%d%d" % (major, minor), cuda_api.device_name(drv, dev), _cuda_version(drv)


def _cuda_version(drv: Any) -> Version:
    """The CUDA runtime's version where cuda-python has it, else the driver's."""
    try:
        rt = cuda_api.load_runtime()
        return cuda_version_from_int(int(cuda_api.check(rt.cudaRuntimeGetVersion(), "cudaRuntimeGetVersion")))
    except (MissingExtra, cuda_api.CudaError):
        return cuda_version_from_int(int(cuda_api.check(drv.cuDriverGetVersion(), "cuDriverGetVersion", drv)))


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
