"""Enqueue the fused resize + normalise kernel for one frame into one batch slot of the engine input.

The frame is read where it lies (a device address of registered shared memory, or of a pinned staging
buffer); the result lands as float32/float16 NCHW at index i of the engine's input buffer. Resize tables
(resize_tables.py) are computed and uploaded once per source frame size and kept for the next frames of
that size (cameras rarely change size); the cache is bounded.
Python 3.8 compatible.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from edge_runtime.errors import InvalidArgument
from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.gpu.cuda_device import DeviceLayer, LaunchArg
from edge_runtime.runtime.gpu.kernels import KERNEL_NAMES, signatures
from edge_runtime.runtime.gpu.resize_tables import (
    MODE_AREA,
    MODE_AREA_2X2,
    MODE_LINEAR,
    AreaAxis,
    LinearAxis,
    ResizePlan,
    plan_resize,
)

BLOCK = (32, 8)


def grid_for(width: int, height: int, block: Tuple[int, int] = BLOCK) -> Tuple[int, int]:
    return ((width + block[0] - 1) // block[0], (height + block[1] - 1) // block[1])


class KernelSet:
    """The loaded module; launches kernels by parameter name, checked against the CUDA signatures."""

    def __init__(self, device: DeviceLayer, image: bytes, kind: str) -> None:
        self.device = device
        module = device.load_module(image, kind)
        self._functions = {name: device.function(module, name) for name in KERNEL_NAMES}

    def launch(
        self, name: str, grid: Tuple[int, int], stream: Any, block: Tuple[int, int] = BLOCK, **values: Any
    ) -> None:
        expected = signatures()[name]
        missing = [n for n, _ in expected if n not in values]
        extra = sorted(set(values) - {n for n, _ in expected})
        if missing or extra:
            raise InvalidArgument("kernel %s: missing arguments %s, unexpected %s" % (name, missing, extra))
        args: List[LaunchArg] = [(n, kind, values[n]) for n, kind in expected]
        self.device.launch(self._functions[name], grid, block, args, stream)


class _DeviceTables:
    """One plan's tables in device memory; the host arrays stay referenced until freed."""

    def __init__(self, device: DeviceLayer, plan: ResizePlan, stream: Any) -> None:
        self.plan = plan
        self.device = device
        self.pointers: Dict[str, int] = {}
        for key, array in _table_arrays(plan).items():
            self.pointers[key] = device.alloc(array.nbytes)
            device.htod(self.pointers[key], array, stream)
        device.stream_sync(stream)  # tables are pageable host arrays: uploaded before first use

    def free(self) -> None:
        for ptr in self.pointers.values():
            self.device.free(ptr)
        self.pointers = {}


def _table_arrays(plan: ResizePlan) -> Dict[str, np.ndarray]:
    if plan.mode == MODE_LINEAR:
        assert isinstance(plan.x, LinearAxis) and isinstance(plan.y, LinearAxis)
        return {
            "xtab": np.ascontiguousarray(np.stack([plan.x.i0, plan.x.i1, plan.x.w0, plan.x.w1], axis=1), np.int32),
            "ytab": np.ascontiguousarray(np.stack([plan.y.i0, plan.y.i1, plan.y.w0, plan.y.w1], axis=1), np.int32),
        }
    if plan.mode == MODE_AREA:
        assert isinstance(plan.x, AreaAxis) and isinstance(plan.y, AreaAxis)
        tables = {}
        for axis, table in (("x", plan.x), ("y", plan.y)):
            tables[axis + "start"] = np.ascontiguousarray(table.start, np.int32)
            tables[axis + "index"] = np.ascontiguousarray(table.index, np.int32)
            tables[axis + "weight"] = np.ascontiguousarray(table.weight, np.float32)
        return tables
    return {}


def check_frame(frame: np.ndarray) -> None:
    """Frames are HxWx3 uint8; anything else is refused with what arrived."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        got = "%s %s" % (getattr(frame, "dtype", type(frame).__name__), getattr(frame, "shape", ""))
        raise InvalidArgument("expected an RGB888 frame (uint8, HxWx3), got %s" % got)


def affine_coefficients(spec: InputSpec) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel a, b with normalised = pixel * a + b, as runtime/preprocess.py (kept cv2-free here)."""
    std = np.asarray(spec.std, dtype=np.float32)
    a = (np.float32(spec.scale) / std).astype(np.float32)
    b = (-np.asarray(spec.mean, dtype=np.float32) / std).astype(np.float32)
    return a, b



class CudaPreprocessor:
    """Resize + normalise frames of any size into the engine's input buffer (float32 or float16 NCHW)."""

    def __init__(self, kernels: KernelSet, spec: InputSpec, out_dtype: str = "float32", max_sizes: int = 16) -> None:
        if out_dtype not in ("float32", "float16"):
            raise InvalidArgument("engine input dtype must be float32 or float16, got %r" % (out_dtype,))
        self.kernels = kernels
        self.spec = spec
        self.out_dtype = out_dtype
        self.max_sizes = max_sizes
        a, b = affine_coefficients(spec)
        self._coefficients = {"a%d" % c: float(a[c]) for c in range(3)}
        self._coefficients.update({"b%d" % c: float(b[c]) for c in range(3)})
        self._coefficients["bgr"] = 1 if spec.color_order == "BGR" else 0
        self._tables: "OrderedDict[Tuple[int, int], _DeviceTables]" = OrderedDict()
        self._lock = threading.Lock()

    @property
    def item_bytes(self) -> int:
        return 3 * self.spec.width * self.spec.height * (2 if self.out_dtype == "float16" else 4)

    def tables(self, src_w: int, src_h: int, stream: Any) -> _DeviceTables:
        with self._lock:
            cached = self._tables.get((src_w, src_h))
            if cached is not None:
                self._tables.move_to_end((src_w, src_h))
                return cached
            plan = plan_resize(src_w, src_h, self.spec.width, self.spec.height, self.spec.interpolation)
            tables = self._tables[(src_w, src_h)] = _DeviceTables(self.kernels.device, plan, stream)
            while len(self._tables) > self.max_sizes:
                self.kernels.device.synchronize()  # another stream may still read the oldest tables
                self._tables.popitem(last=False)[1].free()
            return tables

    def enqueue(
        self, src_ptr: int, pitch: int, src_w: int, src_h: int, out_ptr: int, batch_index: int, stream: Any
    ) -> ResizePlan:
        """Launch the kernel for one frame; returns the plan used (mode, tables) for diagnostics."""
        if pitch < 3 * src_w:
            raise InvalidArgument("frame row pitch %d is shorter than 3 x width %d" % (pitch, src_w))
        tables = self.tables(src_w, src_h, stream)
        plan, suffix = tables.plan, "f16" if self.out_dtype == "float16" else "f32"
        common: Dict[str, Any] = dict(
            src=src_ptr, pitch=pitch, out=out_ptr, batch=batch_index, dw=plan.dst_w, dh=plan.dst_h
        )
        common.update(self._coefficients)
        common.update(tables.pointers)
        grid = grid_for(plan.dst_w, plan.dst_h)
        if plan.mode == MODE_LINEAR:
            self.kernels.launch("resize_linear_" + suffix, grid, stream, **common)
        elif plan.mode == MODE_AREA:
            self.kernels.launch("resize_area_" + suffix, grid, stream, **common)
        else:
            common.update(sx=plan.scale_x, sy=plan.scale_y, two_by_two=1 if plan.mode == MODE_AREA_2X2 else 0)
            common["inv_area"] = float(np.float32(1.0) / np.float32(plan.scale_x * plan.scale_y))
            self.kernels.launch("resize_area_int_" + suffix, grid, stream, **common)
        return plan

    def close(self) -> None:
        with self._lock:
            for tables in self._tables.values():
                tables.free()
            self._tables.clear()


def frame_pitch(frame: np.ndarray) -> Optional[int]:
    """Row pitch in bytes when the frame's pixels are packed RGB rows (the kernels' layout), else None."""
    if frame.strides[1:] == (3, 1) and frame.strides[0] >= 3 * frame.shape[1]:
        return int(frame.strides[0])
    return None
