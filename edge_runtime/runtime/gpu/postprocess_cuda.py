"""Segmentation postprocessing on the GPU: only the uint8 class map and C pixel counts come back.

The network's `seg` output ([N, C, h, w] float) stays on the device. Per frame: argmax over classes at
the low resolution (first maximum, as np.argmax), nearest-neighbour expansion to the frame's size with
cv2 INTER_NEAREST's indices, and per-class pixel counts with block-level atomicAdd. That is what the CPU
path computes (runtime/postprocess.py) without moving C float planes across the bus.
Python 3.8 compatible.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Dict, Tuple

import numpy as np

from edge_runtime.errors import InvalidArgument
from edge_runtime.runtime.gpu.cuda_device import DeviceLayer, HostBuffer
from edge_runtime.runtime.gpu.preprocess_cuda import KernelSet, grid_for
from edge_runtime.runtime.gpu.resize_tables import nearest_axis

ARGMAX_BLOCK = (256, 1)


class _Scratch:
    """One (slot, batch index)'s buffers, grown on demand; the slot is idle whenever they are resized."""

    def __init__(self, device: DeviceLayer, classes: int, plane: int) -> None:
        self.device = device
        self.labels = device.alloc(plane)
        self.counts = device.alloc(4 * classes)
        self.host_counts = device.host_alloc_mapped(4 * classes)
        self.capacity = 0
        self.class_map = 0
        self.host_map: HostBuffer = device.host_alloc_mapped(1)

    def ensure(self, pixels: int) -> None:
        if pixels <= self.capacity:
            return
        if self.class_map:
            self.device.free(self.class_map)
        self.device.host_free(self.host_map)
        self.capacity = ((pixels + (1 << 20) - 1) >> 20) << 20
        self.class_map = self.device.alloc(self.capacity)
        self.host_map = self.device.host_alloc_mapped(self.capacity)

    def free(self) -> None:
        for ptr in (self.labels, self.counts, self.class_map):
            if ptr:
                self.device.free(ptr)
        self.device.host_free(self.host_counts)
        self.device.host_free(self.host_map)


class CudaSegPostprocessor:
    """Enqueue argmax + expand + counts for one frame; read the results after the stream synchronises."""

    def __init__(
        self, kernels: KernelSet, classes: int, low_res: Tuple[int, int], score_dtype: str, max_sizes: int = 16
    ) -> None:
        if not 2 <= classes <= 255:
            raise InvalidArgument("segmentation needs 2..255 classes, got %d" % classes)
        if score_dtype not in ("float32", "float16"):
            raise InvalidArgument("seg output dtype must be float32 or float16, got %r" % (score_dtype,))
        self.kernels = kernels
        self.device = kernels.device
        self.classes = classes
        self.low_h, self.low_w = low_res
        self.score_dtype = score_dtype
        self.max_sizes = max_sizes
        self._scratch: Dict[Tuple[int, int], _Scratch] = {}
        self._tables: "OrderedDict[Tuple[int, int], Tuple[int, int, np.ndarray, np.ndarray]]" = OrderedDict()
        self._lock = threading.Lock()

    @property
    def item_bytes(self) -> int:
        return self.classes * self.low_h * self.low_w * (2 if self.score_dtype == "float16" else 4)

    def _nearest(self, width: int, height: int, stream: Any) -> Tuple[int, int]:
        with self._lock:
            cached = self._tables.get((width, height))
            if cached is None:
                rows, cols = nearest_axis(self.low_h, height), nearest_axis(self.low_w, width)
                cached = (self.device.alloc(rows.nbytes), self.device.alloc(cols.nbytes), rows, cols)
                self.device.htod(cached[0], rows, stream)
                self.device.htod(cached[1], cols, stream)
                self.device.stream_sync(stream)
                self._tables[(width, height)] = cached
                while len(self._tables) > self.max_sizes:
                    self.device.synchronize()
                    old = self._tables.popitem(last=False)[1]
                    self.device.free(old[0])
                    self.device.free(old[1])
            self._tables.move_to_end((width, height))
            return cached[0], cached[1]

    def enqueue(self, slot: int, index: int, scores_ptr: int, width: int, height: int, stream: Any) -> None:
        """Frame `index` of the batch in `slot`: its scores start at `scores_ptr` (C x h x w)."""
        rows, cols = self._nearest(width, height, stream)
        scratch = self._scratch.get((slot, index))
        if scratch is None:
            scratch = self._scratch[(slot, index)] = _Scratch(self.device, self.classes, self.low_h * self.low_w)
        scratch.ensure(width * height)
        plane = self.low_h * self.low_w
        suffix = "f16" if self.score_dtype == "float16" else "f32"
        self.kernels.launch(
            "seg_argmax_" + suffix,
            ((plane + 255) // 256, 1),
            stream,
            block=ARGMAX_BLOCK,
            scores=scores_ptr,
            classes=self.classes,
            plane=plane,
            labels=scratch.labels,
        )
        self.device.memset(scratch.counts, 0, 4 * self.classes, stream)
        self.kernels.launch(
            "seg_expand",
            grid_for(width, height),
            stream,
            labels=scratch.labels,
            lw=self.low_w,
            rows=rows,
            cols=cols,
            width=width,
            height=height,
            class_map=scratch.class_map,
            counts=scratch.counts,
            classes=self.classes,
        )
        self.device.dtoh(scratch.host_map.array[: width * height], scratch.class_map, stream)
        self.device.dtoh(scratch.host_counts.array, scratch.counts, stream)

    def result(self, slot: int, index: int, width: int, height: int) -> Tuple[np.ndarray, np.ndarray]:
        """(class map (height, width) uint8, counts int64) once the slot's stream has completed."""
        scratch = self._scratch[(slot, index)]
        class_map = scratch.host_map.array[: width * height].reshape(height, width).copy()
        counts = scratch.host_counts.array.view(np.uint32).astype(np.int64)
        return class_map, counts

    def close(self) -> None:
        for scratch in self._scratch.values():
            scratch.free()
        self._scratch.clear()
        for rows, cols, _, _ in self._tables.values():
            self.device.free(rows)
            self.device.free(cols)
        self._tables.clear()
