"""A NumPy stand-in for the CUDA driver layer: the GPU path without a GPU.

A test double, so it lives under tests/; `scripts/gpu_check.py --cpu-dry-run` imports it from the
checkout to run the whole device script on a machine without CUDA, exercising every host-side step (table upload,
argument packing checked against the kernel signatures, batch offsets, pinned staging, shared-memory
registration, double-buffer ordering) except the driver calls themselves. Kernels are executed by
emulated_kernels.py, which applies kernel_reference.py to the bytes the real kernels would read.

Device memory is fake addresses backed by NumPy arrays; "registered" host memory is the real host
memory, viewed in place through its address (so a zero-copy claim is checked, not assumed). Work runs
at once, in call order; `ops` records what was enqueued on which stream, for ordering tests.
Python 3.8 compatible.
"""

from __future__ import annotations

import bisect
import ctypes
import itertools
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edge_runtime.runtime.gpu.cuda_api import CudaError
from edge_runtime.runtime.gpu.cuda_device import HostBuffer, LaunchArg
from edge_runtime.runtime.gpu.kernels import KERNEL_NAMES, signatures

FAKE_BASE = 0x7E00_0000_0000
ALIGN = 256


@dataclass
class EmulatedStream:
    id: int


@dataclass
class EmulatedEvent:
    id: int
    recorded_on: Optional[int] = None
    recorded_at: int = -1  # index in ops


@dataclass
class _Region:
    base: int
    array: np.ndarray  # uint8, the bytes behind [base, base + size)
    kind: str  # "device", "mapped" or "registered"
    host_address: int = 0


@dataclass
class EmulatedDevice:
    """Implements cuda_device.DeviceLayer on NumPy."""

    name: str = "emulated (NumPy, no GPU)"
    arch: Tuple[int, int] = (7, 2)
    integrated: bool = False
    ops: List[Tuple[Any, ...]] = field(default_factory=list)
    fail_register: bool = False  # tests: a driver that refuses cuMemHostRegister
    _regions: Dict[int, _Region] = field(default_factory=dict)
    _bases: List[int] = field(default_factory=list)
    _registered: Dict[int, int] = field(default_factory=dict)  # host address -> fake device base
    _next: int = FAKE_BASE
    _ids: Any = field(default_factory=itertools.count)
    opened: bool = False

    def open(self) -> None:
        self.opened = True

    def activate(self) -> None:
        pass

    def _add(self, array: np.ndarray, kind: str, host_address: int = 0) -> int:
        base = self._next
        self._next += (array.nbytes // ALIGN + 2) * ALIGN
        self._regions[base] = _Region(base, array, kind, host_address)
        bisect.insort(self._bases, base)
        return base

    def _drop(self, base: int) -> _Region:
        region = self._regions.pop(base, None)
        if region is None:
            raise CudaError("cuMemFree", "CUDA_ERROR_INVALID_VALUE", "0x%x is not an allocation" % base)
        self._bases.remove(base)
        return region

    def view(self, ptr: int, nbytes: int) -> np.ndarray:
        """The bytes at a fake device address; CudaError when out of any allocation (a kernel fault)."""
        i = bisect.bisect_right(self._bases, int(ptr)) - 1
        if i >= 0:
            region = self._regions[self._bases[i]]
            offset = int(ptr) - region.base
            if offset + int(nbytes) <= region.array.nbytes:
                return region.array[offset : offset + int(nbytes)]
        raise CudaError("emulated access", "CUDA_ERROR_ILLEGAL_ADDRESS", "%d bytes at 0x%x" % (nbytes, ptr))

    def region_kind(self, ptr: int) -> str:
        i = bisect.bisect_right(self._bases, int(ptr)) - 1
        return self._regions[self._bases[i]].kind if i >= 0 else "none"

    def alloc(self, nbytes: int) -> int:
        ptr = self._add(np.zeros(max(1, int(nbytes)), dtype=np.uint8), "device")
        self.ops.append(("alloc", ptr, int(nbytes)))
        return ptr

    def free(self, ptr: int) -> None:
        self._drop(int(ptr))
        self.ops.append(("free", int(ptr)))

    def host_alloc_mapped(self, nbytes: int) -> HostBuffer:
        array = np.zeros(max(1, int(nbytes)), dtype=np.uint8)
        ptr = self._add(array, "mapped", array.ctypes.data)
        return HostBuffer(array[: int(nbytes)], array.ctypes.data, ptr)

    def host_free(self, buffer: HostBuffer) -> None:
        self._drop(buffer.device_ptr)

    def host_register(self, address: int, nbytes: int, read_only: bool) -> int:
        if self.fail_register:
            raise CudaError("cuMemHostRegister", "CUDA_ERROR_NOT_SUPPORTED")
        if address in self._registered:
            raise CudaError("cuMemHostRegister", "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED")
        array = np.ctypeslib.as_array((ctypes.c_ubyte * int(nbytes)).from_address(int(address)))
        ptr = self._add(array, "registered", int(address))
        self._registered[int(address)] = ptr
        self.ops.append(("register", int(address), int(nbytes), bool(read_only)))
        return ptr

    def host_unregister(self, address: int) -> None:
        ptr = self._registered.pop(int(address), None)
        if ptr is None:
            raise CudaError("cuMemHostUnregister", "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED")
        self._drop(ptr)
        self.ops.append(("unregister", int(address)))

    def registered_addresses(self) -> List[int]:
        return sorted(self._registered)

    def htod(self, dst: int, src: np.ndarray, stream: Any) -> None:
        self.view(dst, src.nbytes)[:] = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
        self.ops.append(("htod", stream.id, int(dst), src.nbytes))

    def htod_address(self, dst: int, address: int, nbytes: int, stream: Any) -> None:
        if not any(
            r.kind != "device" and r.host_address <= address and address + nbytes <= r.host_address + r.array.nbytes
            for r in self._regions.values()
        ):
            raise CudaError(
                "cuMemcpyHtoDAsync", "emulated: not page-locked", "0x%x is not pinned or registered" % address
            )
        source = np.ctypeslib.as_array((ctypes.c_ubyte * int(nbytes)).from_address(int(address)))
        self.view(dst, nbytes)[:] = source
        self.ops.append(("htod_dma", stream.id, int(dst), int(nbytes)))

    def dtoh(self, dst: np.ndarray, src: int, stream: Any) -> None:
        dst.reshape(-1).view(np.uint8)[:] = self.view(src, dst.nbytes)
        self.ops.append(("dtoh", stream.id, int(src), dst.nbytes))

    def memset(self, ptr: int, value: int, nbytes: int, stream: Any) -> None:
        self.view(ptr, nbytes)[:] = value
        self.ops.append(("memset", stream.id, int(ptr), int(nbytes)))

    def stream_create(self) -> EmulatedStream:
        return EmulatedStream(next(self._ids))

    def stream_handle(self, stream: Any) -> int:
        return 0x5000 + stream.id

    def stream_sync(self, stream: Any) -> None:
        self.ops.append(("stream_sync", stream.id))

    def stream_wait(self, stream: Any, event: Any) -> None:
        self.ops.append(("stream_wait", stream.id, event.id))

    def event_create(self) -> EmulatedEvent:
        return EmulatedEvent(next(self._ids))

    def event_record(self, event: Any, stream: Any) -> None:
        event.recorded_on, event.recorded_at = stream.id, len(self.ops)
        self.ops.append(("event_record", stream.id, event.id))

    def event_sync(self, event: Any) -> None:
        self.ops.append(("event_sync", event.id))

    def load_module(self, image: bytes, kind: str) -> Any:
        if not image:
            raise CudaError("cuModuleLoadData", "CUDA_ERROR_INVALID_IMAGE")
        return ("module", kind)

    def function(self, module: Any, name: str) -> Any:
        if name not in KERNEL_NAMES:
            raise CudaError("cuModuleGetFunction(%s)" % name, "CUDA_ERROR_NOT_FOUND")
        return name

    def launch(
        self, function: Any, grid: Tuple[int, int], block: Tuple[int, int], args: Sequence[LaunchArg], stream: Any
    ) -> None:
        from tests.gpu.emulated_kernels import run_kernel

        expected = signatures()[function]
        if [(n, k) for n, k, _ in args] != expected:
            raise CudaError("cuLaunchKernel(%s)" % function, "CUDA_ERROR_INVALID_VALUE", "arguments do not match")
        values = {n: v for n, _, v in args}
        self.ops.append(("launch", stream.id, function, dict(values)))
        run_kernel(self, function, values, grid, block)

    def synchronize(self) -> None:
        self.ops.append(("synchronize",))

    def close(self) -> None:
        self.opened = False

    def live_allocations(self) -> int:
        return sum(1 for r in self._regions.values() if r.kind != "registered")
