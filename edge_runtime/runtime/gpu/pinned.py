"""Where a frame's bytes are when the kernel reads them: registered shared memory, or pinned staging.

Shared memory: a frame that is a NumPy view on an mmap'd POSIX segment (edge_runtime.shm: embedders
and the bench pass such views; the agent copies a caller's frame out with preadv instead, so that a
client shrinking its segment cannot SIGBUS it, and its frames take the staged path below).
`SharedMemoryRegistry` registers the whole mapping once with cuMemHostRegister(DEVICEMAP) and hands
the kernel the device address of the frame inside it: no host copy (on Jetson the GPU reads the same
DRAM; on a discrete GPU it is one DMA read by the kernel). The registry keeps a buffer export of each
registered mapping, so the mapping cannot be unmapped under the GPU (shm.close() then defers the
unmap, as it documents) until the registration is released.

Inline frames (bytes in the gRPC request) are copied once into a pinned, device-mapped staging buffer
(`PinnedStagingRing`, one buffer per pipeline slot and batch index, grown on demand) and read there.
Python 3.8 compatible.
"""

from __future__ import annotations

import logging
import mmap
import threading
import weakref
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

import numpy as np

from edge_runtime.runtime.gpu.copy_counter import BatchCopies
from edge_runtime.runtime.gpu.cuda_api import CudaError
from edge_runtime.runtime.gpu.cuda_device import DeviceLayer, HostBuffer
from edge_runtime.runtime.gpu.preprocess_cuda import frame_pitch

log = logging.getLogger(__name__)


def find_mapping(frame: np.ndarray) -> Optional[mmap.mmap]:
    """The mmap a frame view lives in (following .base / memoryview.obj), or None."""
    owner: Any = frame
    for _ in range(32):
        if isinstance(owner, mmap.mmap):
            return owner
        owner = owner.obj if isinstance(owner, memoryview) else getattr(owner, "base", None)
        if owner is None:
            return None
    return None


class _Registration:
    def __init__(self, owner: mmap.mmap, holder: np.ndarray, device_base: int) -> None:
        self.owner = owner
        self.holder = holder  # buffer export: keeps the mapping alive while the GPU may read it
        self.host_base = int(holder.ctypes.data)
        self.size = int(holder.nbytes)
        self.device_base = device_base


class SharedMemoryRegistry:
    """Page-locked, device-mapped registrations of shared-memory mappings, cached per mapping (LRU)."""

    def __init__(self, device: DeviceLayer, max_segments: int = 8) -> None:
        self.device = device
        self.max_segments = max_segments
        self._entries: "OrderedDict[int, _Registration]" = OrderedDict()
        self._refused: "weakref.WeakSet[mmap.mmap]" = weakref.WeakSet()
        self._lock = threading.Lock()
        self._warned = False

    def locate(self, frame: np.ndarray) -> Optional[Tuple[int, int]]:
        """(device address, row pitch) of a frame inside registered shared memory, or None."""
        pitch = frame_pitch(frame)
        owner = find_mapping(frame)
        if pitch is None or owner is None:
            return None
        with self._lock:
            entry = self._entries.get(id(owner))
            if entry is None or entry.owner is not owner:
                entry = self._register(owner)
                if entry is None:
                    return None
            self._entries.move_to_end(id(owner))
        offset = int(frame.ctypes.data) - entry.host_base
        if offset < 0 or offset + (frame.shape[0] - 1) * pitch + 3 * frame.shape[1] > entry.size:
            return None
        return entry.device_base + offset, pitch

    def _register(self, owner: mmap.mmap) -> Optional[_Registration]:
        if owner in self._refused:
            return None
        holder = np.frombuffer(owner, dtype=np.uint8)
        try:
            device_base = self.device.host_register(int(holder.ctypes.data), holder.nbytes, not holder.flags.writeable)
        except CudaError as exc:
            self._refused.add(owner)
            if not self._warned:
                log.warning("shared memory cannot be registered with CUDA (%s); frames are staged instead", exc.status)
                self._warned = True
            return None
        entry = _Registration(owner, holder, device_base)
        self._entries[id(owner)] = entry
        while len(self._entries) > self.max_segments:
            self._release(self._entries.popitem(last=False)[1])
        return entry

    def _release(self, entry: _Registration) -> None:
        self.device.synchronize()  # in-flight kernels may still read it
        self.device.host_unregister(entry.host_base)
        entry.holder = np.empty(0, dtype=np.uint8)  # drop the export: the mapping may now unmap

    def registered(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            self._release(entry)


_SHARED: Dict[Any, Tuple[SharedMemoryRegistry, int]] = {}
_SHARED_LOCK = threading.Lock()


def acquire_registry(device: DeviceLayer) -> SharedMemoryRegistry:
    """The process-wide registry of one GPU, shared by every predictor on it.

    CUDA refuses to register a host range twice, and two models may well read the same client
    segment, so registrations are per GPU, not per predictor (reference counted).
    """
    key = ("cuda", device.ordinal) if hasattr(device, "ordinal") else ("layer", id(device))
    with _SHARED_LOCK:
        registry, users = _SHARED.get(key, (None, 0))
        if registry is None:
            registry = SharedMemoryRegistry(device)
        _SHARED[key] = (registry, users + 1)
        return registry


def release_registry(registry: SharedMemoryRegistry) -> None:
    """Drop one user; the last one unregisters everything."""
    with _SHARED_LOCK:
        for key, (shared, users) in list(_SHARED.items()):
            if shared is registry:
                if users > 1:
                    _SHARED[key] = (shared, users - 1)
                    return
                del _SHARED[key]
    registry.close()


class PinnedStagingRing:
    """Pinned, device-mapped buffers for frames that do not arrive by shared memory."""

    def __init__(self, device: DeviceLayer) -> None:
        self.device = device
        self._buffers: Dict[Tuple[int, int], HostBuffer] = {}

    def stage(self, slot: int, index: int, frame: np.ndarray, copies: BatchCopies) -> Tuple[int, int, int]:
        """Copy the frame into slot/index's buffer (one host copy, recorded); (host, device address, pitch)."""
        nbytes = frame.shape[0] * frame.shape[1] * 3
        buffer = self._buffers.get((slot, index))
        if buffer is None or buffer.array.nbytes < nbytes:
            if buffer is not None:
                self.device.host_free(buffer)
            # The slot is idle while it is being filled (its previous batch was collected): safe to replace.
            buffer = self._buffers[(slot, index)] = self.device.host_alloc_mapped(_round_up(nbytes))
        np.copyto(buffer.array[:nbytes].reshape(frame.shape), frame)
        copies.add(index, nbytes)
        return buffer.host_ptr, buffer.device_ptr, 3 * frame.shape[1]

    def close(self) -> None:
        for buffer in self._buffers.values():
            self.device.host_free(buffer)
        self._buffers.clear()


def _round_up(nbytes: int, step: int = 1 << 20) -> int:
    return ((nbytes + step - 1) // step) * step
