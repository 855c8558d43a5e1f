"""Where the TensorRT engine comes from, and whether this machine can run the GPU path at all.

A compiled package (runtime/loader.resolve_build) with backend "tensorrt" either carries a built
engine plan (`LoadedPackage.model_path`) or defers the build to the device, where
`edge_runtime.runtime.build.trt_build.build_engine(onnx_path, settings, cache_dir)` builds (or finds in its
cache) the plan for this GPU and TensorRT. The deferred build runs in the predictor's `load()`, never at
construction. Python 3.8 compatible; tensorrt and cuda-python are imported inside functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Tuple

ENGINE_CACHE_ENV = "EDGE_RUNTIME_ENGINE_CACHE"


def default_engine_cache() -> str:
    return os.environ.get(ENGINE_CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "edge-runtime", "engines"
    )


@dataclass(frozen=True)
class EngineSource:
    """A built plan (`engine_path`) or what a deferred build needs (`onnx_path`, `settings`, `cache_dir`)."""

    engine_path: str = ""
    onnx_path: str = ""
    settings: Any = None
    cache_dir: str = ""

    def __post_init__(self) -> None:
        if bool(self.engine_path) == bool(self.onnx_path):
            raise ValueError(
                "an engine source needs exactly one of a built engine or an ONNX file for a deferred build"
            )

    @classmethod
    def from_package(cls, package: Any) -> "EngineSource":
        """Read a LoadedPackage with backend "tensorrt"; ValueError names what is missing."""
        trt = package.tensorrt
        if trt is None:
            raise ValueError("package %s has no TensorRT build" % package.root)
        if trt.engine_path:
            if not os.path.isfile(trt.engine_path):
                raise ValueError("TensorRT engine %s is missing" % trt.engine_path)
            return cls(engine_path=trt.engine_path)
        if not trt.onnx_path or not os.path.isfile(trt.onnx_path):
            raise ValueError("deferred TensorRT build needs the ONNX file, %r is missing" % (trt.onnx_path,))
        return cls(onnx_path=trt.onnx_path, settings=trt.settings, cache_dir=default_engine_cache())

    def describe(self) -> str:
        if self.engine_path:
            return "engine %s" % os.path.basename(self.engine_path)
        return "engine built on this device from %s" % os.path.basename(self.onnx_path)

    def resolve(self) -> str:
        """The plan path, building it on this device first when the package deferred the build."""
        if self.engine_path:
            return self.engine_path
        from edge_runtime.runtime.build.trt_build import build_engine

        return str(build_engine(self.onnx_path, self.settings, self.cache_dir))


def gpu_status() -> Tuple[bool, str]:
    """(True, "TensorRT X.Y, DEVICE sm_XY") or (False, why not): TensorRT, cuda-python and a GPU."""
    try:
        import tensorrt
    except ImportError:
        return False, "the tensorrt Python module is not installed"
    from edge_runtime.runtime.gpu.cuda_api import probe_device

    ok, device = probe_device()
    if not ok:
        return False, device
    try:
        from edge_runtime.runtime.gpu.nvrtc_compile import nvrtc_version

        nvrtc_version()
    except Exception as exc:  # the kernels are compiled at run time: no NVRTC, no CUDA preprocessing
        return False, "NVRTC (the CUDA runtime compiler) is unavailable: %s" % (
            str(exc).splitlines() or [type(exc).__name__]
        )[0]
    return True, "TensorRT %s, %s" % (getattr(tensorrt, "__version__", "?"), device)
