"""The CUDA driver calls the GPU path makes, behind one small interface (`DeviceLayer`).

`CudaDevice` is the real one (cuda-python driver API on the device's primary context, the one TensorRT
and the CUDA runtime use, so engine buffers and kernels share it). tests/gpu/emulated_cuda.EmulatedDevice is the
NumPy stand-in that lets tests and `scripts/gpu_check.py --cpu-dry-run` run everything else without a
GPU. Pointers and stream handles cross this interface as plain ints / opaque objects.
Python 3.8 compatible; cuda-python is imported in `open()`.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from edge_runtime.runtime.gpu import cuda_api as ca

try:
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore

KIND_DTYPES = {"ptr": np.uint64, "i32": np.int32, "i64": np.int64, "f32": np.float32}
LaunchArg = Tuple[str, str, Any]  # (parameter name, kind, value)


@dataclass(frozen=True)
class HostBuffer:
    """Page-locked host memory mapped into the device: `array` on the host, `device_ptr` for kernels."""

    array: np.ndarray
    host_ptr: int
    device_ptr: int


class DeviceLayer(Protocol):
    name: str
    arch: Tuple[int, int]

    def open(self) -> None: ...
    def activate(self) -> None: ...
    def alloc(self, nbytes: int) -> int: ...
    def free(self, ptr: int) -> None: ...
    def host_alloc_mapped(self, nbytes: int) -> HostBuffer: ...
    def host_free(self, buffer: HostBuffer) -> None: ...
    def host_register(self, address: int, nbytes: int, read_only: bool) -> int: ...
    def host_unregister(self, address: int) -> None: ...
    def htod(self, dst: int, src: np.ndarray, stream: Any) -> None: ...
    def htod_address(self, dst: int, address: int, nbytes: int, stream: Any) -> None: ...
    def dtoh(self, dst: np.ndarray, src: int, stream: Any) -> None: ...
    def memset(self, ptr: int, value: int, nbytes: int, stream: Any) -> None: ...
    def stream_create(self) -> Any: ...
    def stream_handle(self, stream: Any) -> int: ...
    def stream_sync(self, stream: Any) -> None: ...
    def stream_wait(self, stream: Any, event: Any) -> None: ...
    def event_create(self) -> Any: ...
    def event_record(self, event: Any, stream: Any) -> None: ...
    def event_sync(self, event: Any) -> None: ...
    def load_module(self, image: bytes, kind: str) -> Any: ...
    def function(self, module: Any, name: str) -> Any: ...
    def launch(
        self, function: Any, grid: Tuple[int, int], block: Tuple[int, int], args: Sequence[LaunchArg], stream: Any
    ) -> None: ...
    def synchronize(self) -> None: ...
    def close(self) -> None: ...


class CudaDevice:
    """The real driver layer on one GPU's primary context."""

    def __init__(self, ordinal: int = 0) -> None:
        self.ordinal = ordinal
        self.name = ""
        self.arch = (0, 0)
        self.integrated = False
        self._driver: Any = None
        self._device: Any = None
        self._context: Any = None

    def _call(self, result: Any, call: str) -> Any:
        return ca.check(result, call, self._driver)

    def open(self) -> None:
        d = self._driver = ca.load_driver()
        self._call(d.cuInit(0), "cuInit")
        self._device = self._call(d.cuDeviceGet(self.ordinal), "cuDeviceGet")
        self._context = self._call(d.cuDevicePrimaryCtxRetain(self._device), "cuDevicePrimaryCtxRetain")
        self.activate()
        self.arch = ca.compute_capability(d, self._device)
        raw = self._call(d.cuDeviceGetName(128, self._device), "cuDeviceGetName")
        self.name = raw.split(b"\0", 1)[0].decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        attr = d.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_INTEGRATED
        self.integrated = bool(self._call(d.cuDeviceGetAttribute(attr, self._device), "cuDeviceGetAttribute"))

    def activate(self) -> None:
        """Make the context current in the calling thread (agent worker threads call this first)."""
        self._call(self._driver.cuCtxSetCurrent(self._context), "cuCtxSetCurrent")

    def _ptr(self, value: int) -> Any:
        return self._driver.CUdeviceptr(int(value))

    def alloc(self, nbytes: int) -> int:
        return int(self._call(self._driver.cuMemAlloc(max(1, int(nbytes))), "cuMemAlloc"))

    def free(self, ptr: int) -> None:
        self._call(self._driver.cuMemFree(self._ptr(ptr)), "cuMemFree")

    def host_alloc_mapped(self, nbytes: int) -> HostBuffer:
        flags = ca.MEMHOSTALLOC_PORTABLE | ca.MEMHOSTALLOC_DEVICEMAP
        host = int(self._call(self._driver.cuMemHostAlloc(max(1, int(nbytes)), flags), "cuMemHostAlloc"))
        device = int(self._call(self._driver.cuMemHostGetDevicePointer(host, 0), "cuMemHostGetDevicePointer"))
        array = np.ctypeslib.as_array((ctypes.c_ubyte * max(1, int(nbytes))).from_address(host))
        return HostBuffer(array[: int(nbytes)], host, device)

    def host_free(self, buffer: HostBuffer) -> None:
        self._call(self._driver.cuMemFreeHost(buffer.host_ptr), "cuMemFreeHost")

    def host_register(self, address: int, nbytes: int, read_only: bool) -> int:
        flags = ca.MEMHOSTREGISTER_PORTABLE | ca.MEMHOSTREGISTER_DEVICEMAP
        if read_only:
            flags |= ca.MEMHOSTREGISTER_READ_ONLY
        self._call(self._driver.cuMemHostRegister(int(address), int(nbytes), flags), "cuMemHostRegister")
        return int(self._call(self._driver.cuMemHostGetDevicePointer(int(address), 0), "cuMemHostGetDevicePointer"))

    def host_unregister(self, address: int) -> None:
        self._call(self._driver.cuMemHostUnregister(int(address)), "cuMemHostUnregister")

    def htod(self, dst: int, src: np.ndarray, stream: Any) -> None:
        self._call(
            self._driver.cuMemcpyHtoDAsync(self._ptr(dst), src.ctypes.data, src.nbytes, stream), "cuMemcpyHtoDAsync"
        )

    def htod_address(self, dst: int, address: int, nbytes: int, stream: Any) -> None:
        """DMA from a host address (page-locked or registered memory: no staging by the driver)."""
        self._call(
            self._driver.cuMemcpyHtoDAsync(self._ptr(dst), int(address), int(nbytes), stream), "cuMemcpyHtoDAsync"
        )

    def dtoh(self, dst: np.ndarray, src: int, stream: Any) -> None:
        self._call(
            self._driver.cuMemcpyDtoHAsync(dst.ctypes.data, self._ptr(src), dst.nbytes, stream), "cuMemcpyDtoHAsync"
        )

    def memset(self, ptr: int, value: int, nbytes: int, stream: Any) -> None:
        self._call(self._driver.cuMemsetD8Async(self._ptr(ptr), int(value), int(nbytes), stream), "cuMemsetD8Async")

    def stream_create(self) -> Any:
        return self._call(self._driver.cuStreamCreate(ca.STREAM_NON_BLOCKING), "cuStreamCreate")

    def stream_handle(self, stream: Any) -> int:
        return int(stream)

    def stream_sync(self, stream: Any) -> None:
        self._call(self._driver.cuStreamSynchronize(stream), "cuStreamSynchronize")

    def stream_wait(self, stream: Any, event: Any) -> None:
        self._call(self._driver.cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent")

    def event_create(self) -> Any:
        return self._call(self._driver.cuEventCreate(ca.EVENT_DISABLE_TIMING), "cuEventCreate")

    def event_record(self, event: Any, stream: Any) -> None:
        self._call(self._driver.cuEventRecord(event, stream), "cuEventRecord")

    def event_sync(self, event: Any) -> None:
        self._call(self._driver.cuEventSynchronize(event), "cuEventSynchronize")

    def load_module(self, image: bytes, kind: str) -> Any:
        if kind == "ptx" and not image.endswith(b"\0"):
            image += b"\0"
        return self._call(self._driver.cuModuleLoadData(image), "cuModuleLoadData")

    def function(self, module: Any, name: str) -> Any:
        return self._call(self._driver.cuModuleGetFunction(module, name.encode()), "cuModuleGetFunction(%s)" % name)

    def launch(
        self, function: Any, grid: Tuple[int, int], block: Tuple[int, int], args: Sequence[LaunchArg], stream: Any
    ) -> None:
        """cuLaunchKernel with kernelParams = array of pointers to each argument's bytes."""
        holders: List[np.ndarray] = [np.array([value], dtype=KIND_DTYPES[kind]) for _, kind, value in args]
        pointers = np.array([h.ctypes.data for h in holders], dtype=np.uint64)
        self._call(
            self._driver.cuLaunchKernel(
                function, grid[0], grid[1], 1, block[0], block[1], 1, 0, stream, pointers.ctypes.data, 0
            ),
            "cuLaunchKernel",
        )

    def synchronize(self) -> None:
        self._call(self._driver.cuCtxSynchronize(), "cuCtxSynchronize")

    def close(self) -> None:
        if self._context is not None:
            self._call(self._driver.cuDevicePrimaryCtxRelease(self._device), "cuDevicePrimaryCtxRelease")
            self._context = None


def open_device(ordinal: int = 0, layer: Optional[DeviceLayer] = None) -> DeviceLayer:
    """An opened device layer: the given one (tests, dry runs) or the real GPU."""
    device = layer if layer is not None else CudaDevice(ordinal)
    device.open()
    return device
