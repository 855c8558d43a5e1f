"""cuda-python, imported lazily, across its releases; one error check for every driver and NVRTC call.

Module layout differs by release: cuda-python >= 12.6 has `cuda.bindings.driver` / `cuda.bindings.nvrtc`;
11.x and early 12.x (what a JetPack 5 device with Python 3.8 gets) have `cuda.cuda` / `cuda.nvrtc`, which
12.x still ships as deprecated aliases and 13.x removes. The runtime API (`cuda.bindings.runtime` /
`cuda.cudart`) serves the engine build's calibration buffers and version probe. Every call returns a tuple
`(status, *values)`;
`check` turns a bad status into CudaError naming the call, and returns the values.
Python 3.8 compatible; nothing is imported until a function here is called.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Optional, Sequence, Tuple

from edge_runtime.errors import CudaError, MissingExtra

# Flag values from cuda.h; stable across CUDA 11-13, kept numeric so no enum differences matter.
MEMHOSTALLOC_PORTABLE = 0x01
MEMHOSTALLOC_DEVICEMAP = 0x02
MEMHOSTREGISTER_PORTABLE = 0x01
MEMHOSTREGISTER_DEVICEMAP = 0x02
MEMHOSTREGISTER_READ_ONLY = 0x08
STREAM_NON_BLOCKING = 0x01
EVENT_DISABLE_TIMING = 0x02
ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712
ERROR_NOT_READY = 600


def _import_modules(names: Sequence[Tuple[str, str]]) -> Tuple[Tuple[Any, ...], bool]:
    """Each (current, legacy) module: `cuda.bindings.<current>` (cuda-python >= 12.6), else `cuda.<legacy>`
    (11.x and 12.0-12.5). Returns (modules, whether the legacy layout served); MissingExtra('gpu') if none."""
    try:
        importlib.import_module("cuda.bindings")  # as `from cuda.bindings import ...` would, first
        return tuple(importlib.import_module("cuda.bindings." + new) for new, _ in names), False
    except ImportError:
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            importlib.import_module("cuda")
            return tuple(importlib.import_module("cuda." + old) for _, old in names), True
    except ImportError as exc:
        raise MissingExtra("cuda-python", "gpu") from exc


def load_bindings() -> Tuple[Any, Any]:
    """(driver, nvrtc) modules of whichever cuda-python is installed; MissingExtra('gpu') if none."""
    (driver, nvrtc), legacy = _import_modules((("driver", "cuda"), ("nvrtc", "nvrtc")))
    if legacy:
        _preload_wheel_nvrtc()
    return driver, nvrtc


def _preload_wheel_nvrtc() -> None:
    """Old cuda-python finds libnvrtc only on the loader path; load a pip `nvidia-cuda-nvrtc` copy first.

    Once a library with that soname is loaded, the bindings' own dlopen("libnvrtc.so.N") finds it.
    Nothing happens where no such wheel is installed (JetPack's CUDA is on the loader path anyway).
    """
    import ctypes
    import glob
    import importlib.util
    import os

    try:
        spec = importlib.util.find_spec("nvidia.cuda_nvrtc")
    except (ImportError, ValueError):
        return
    for folder in list(getattr(spec, "submodule_search_locations", None) or []):
        for path in sorted(glob.glob(os.path.join(folder, "lib", "libnvrtc.so.*"))):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                return
            except OSError:
                continue


def load_runtime() -> Any:
    """The CUDA runtime API module (cudaMalloc, cudaMemcpy, cudaRuntimeGetVersion); MissingExtra('gpu') if none."""
    return _import_modules((("runtime", "cudart"),))[0][0]


def load_nvrtc() -> Any:
    return load_bindings()[1]


def load_driver() -> Any:
    return load_bindings()[0]


def _status_name(status: Any) -> str:
    return getattr(status, "name", None) or str(status)


def check(result: Any, call: str, module: Optional[Any] = None) -> Any:
    """Unpack `(status, *values)`; raise CudaError unless status is success. Returns None, a value or a tuple."""
    if not isinstance(result, tuple):
        result = (result,)
    status, values = result[0], result[1:]
    if int(status) != 0:
        detail = ""
        if module is not None and hasattr(module, "cuGetErrorString"):
            try:
                text = module.cuGetErrorString(status)[1]
                detail = text.decode() if isinstance(text, bytes) else str(text)
            except Exception:  # the message is a nicety; the status name is already in hand
                detail = ""
        raise CudaError(call, _status_name(status), detail)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def probe_device(ordinal: int = 0) -> Tuple[bool, str]:
    """(True, "NAME sm_XY") when a CUDA device answers, else (False, why): for the CPU fallback note."""
    try:
        driver = load_driver()
    except MissingExtra as exc:
        return False, str(exc)
    try:
        check(driver.cuInit(0), "cuInit", driver)
        count = check(driver.cuDeviceGetCount(), "cuDeviceGetCount", driver)
        if count <= ordinal:
            return False, "no CUDA device %d (the driver sees %d)" % (ordinal, count)
        device = check(driver.cuDeviceGet(ordinal), "cuDeviceGet", driver)
        name = device_name(driver, device)
        major, minor = compute_capability(driver, device)
    except Exception as exc:  # no driver library, no device, driver too old: all mean "no GPU here"
        return False, "no usable CUDA driver or device (%s)" % (str(exc).splitlines()[0] or type(exc).__name__)
    return True, "%s sm_%d%d" % (name, major, minor)


def device_name(driver: Any, device: Any) -> str:
    name = check(driver.cuDeviceGetName(128, device), "cuDeviceGetName", driver)
    return name.split(b"\0", 1)[0].decode(errors="replace") if isinstance(name, bytes) else str(name)


def compute_capability(driver: Any, device: Any) -> Tuple[int, int]:
    attr = driver.CUdevice_attribute
    major = check(
        driver.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
        "cuDeviceGetAttribute",
        driver,
    )
    minor = check(
        driver.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
        "cuDeviceGetAttribute",
        driver,
    )
    return int(major), int(minor)
