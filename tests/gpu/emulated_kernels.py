"""The kernels of kernels.py executed in NumPy on EmulatedDevice memory, from their real arguments.

Each function reads exactly what the CUDA kernel would read (tables and frames at the passed device
addresses, with the passed pitch), applies kernel_reference.py, and writes where the kernel would write.
It also checks the launch grid covers every output pixel, a mistake a GPU would make silently.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from edge_runtime.runtime.gpu.cuda_api import CudaError
from edge_runtime.runtime.gpu.resize_tables import (
    MODE_AREA,
    MODE_AREA_2X2,
    MODE_AREA_INT,
    MODE_LINEAR,
    AreaAxis,
    LinearAxis,
    ResizePlan,
)
from tests.gpu.kernel_reference import normalise_reference, resize_reference

Values = Dict[str, Any]


def _ints(device: Any, ptr: int, count: int) -> np.ndarray:
    return device.view(ptr, 4 * count).view(np.int32)


def _floats(device: Any, ptr: int, count: int) -> np.ndarray:
    return device.view(ptr, 4 * count).view(np.float32)


def _frame(device: Any, ptr: int, pitch: int, rows: int, cols: int) -> np.ndarray:
    """The source frame as the kernel sees it: `rows` rows of `cols` RGB pixels, `pitch` bytes apart."""
    raw = device.view(ptr, (rows - 1) * pitch + cols * 3)
    return np.lib.stride_tricks.as_strided(raw, shape=(rows, cols, 3), strides=(pitch, 3, 1))


def _check_grid(name: str, grid: Tuple[int, int], block: Tuple[int, int], width: int, height: int) -> None:
    if grid[0] * block[0] < width or grid[1] * block[1] < height:
        raise CudaError(
            "cuLaunchKernel(%s)" % name, "grid too small", "%s x %s for %dx%d" % (grid, block, width, height)
        )


def _write_normalised(device: Any, name: str, v: Values, resized: np.ndarray) -> None:
    dtype = "float16" if name.endswith("f16") else "float32"
    a = np.array([v["a0"], v["a1"], v["a2"]], dtype=np.float32)
    b = np.array([v["b0"], v["b1"], v["b2"]], dtype=np.float32)
    values = normalise_reference(resized, a, b, bool(v["bgr"]), dtype)
    offset = v["batch"] * values.nbytes
    device.view(v["out"] + offset, values.nbytes)[:] = values.reshape(-1).view(np.uint8)


def _linear(device: Any, name: str, v: Values) -> np.ndarray:
    xt = _ints(device, v["xtab"], 4 * v["dw"]).reshape(-1, 4)
    yt = _ints(device, v["ytab"], 4 * v["dh"]).reshape(-1, 4)
    rows, cols = int(yt[:, :2].max()) + 1, int(xt[:, :2].max()) + 1
    x = LinearAxis(xt[:, 0], xt[:, 1], xt[:, 2], xt[:, 3])
    y = LinearAxis(yt[:, 0], yt[:, 1], yt[:, 2], yt[:, 3])
    plan = ResizePlan(MODE_LINEAR, cols, rows, v["dw"], v["dh"], x=x, y=y)
    return resize_reference(_frame(device, v["src"], v["pitch"], rows, cols), plan)


def _area_axis(device: Any, start: int, index: int, weight: int, count: int) -> AreaAxis:
    starts = _ints(device, start, count + 1)
    taps = int(starts[-1])
    return AreaAxis(starts, _ints(device, index, taps), _floats(device, weight, taps))


def _area(device: Any, name: str, v: Values) -> np.ndarray:
    x = _area_axis(device, v["xstart"], v["xindex"], v["xweight"], v["dw"])
    y = _area_axis(device, v["ystart"], v["yindex"], v["yweight"], v["dh"])
    rows, cols = int(y.index.max()) + 1, int(x.index.max()) + 1
    plan = ResizePlan(MODE_AREA, cols, rows, v["dw"], v["dh"], x=x, y=y)
    return resize_reference(_frame(device, v["src"], v["pitch"], rows, cols), plan)


def _area_int(device: Any, name: str, v: Values) -> np.ndarray:
    sx, sy = v["sx"], v["sy"]
    expected = np.float32(1.0) / np.float32(sx * sy)
    if np.float32(v["inv_area"]) != expected:
        raise CudaError("cuLaunchKernel(%s)" % name, "bad inv_area", "%r != %r" % (v["inv_area"], expected))
    mode = MODE_AREA_2X2 if v["two_by_two"] else MODE_AREA_INT
    rows, cols = v["dh"] * sy, v["dw"] * sx
    plan = ResizePlan(mode, cols, rows, v["dw"], v["dh"], sx, sy)
    return resize_reference(_frame(device, v["src"], v["pitch"], rows, cols), plan)


def _seg_argmax(device: Any, name: str, v: Values) -> None:
    dtype = np.float16 if name.endswith("f16") else np.float32
    count = v["classes"] * v["plane"]
    scores = device.view(v["scores"], count * np.dtype(dtype).itemsize).view(dtype).reshape(v["classes"], -1)
    device.view(v["labels"], v["plane"])[:] = np.argmax(scores, axis=0).astype(np.uint8)


def _seg_expand(device: Any, v: Values) -> None:
    rows = _ints(device, v["rows"], v["height"])
    cols = _ints(device, v["cols"], v["width"])
    lh = int(rows.max()) + 1
    labels = device.view(v["labels"], lh * v["lw"]).reshape(lh, v["lw"])
    class_map = labels[rows][:, cols]
    device.view(v["class_map"], class_map.size)[:] = class_map.reshape(-1)
    counts = device.view(v["counts"], 4 * v["classes"]).view(np.uint32)
    counts += np.bincount(class_map.reshape(-1), minlength=v["classes"])[: v["classes"]].astype(np.uint32)


_RESIZE = {"resize_linear": _linear, "resize_area": _area, "resize_area_int": _area_int}


def run_kernel(device: Any, name: str, v: Values, grid: Tuple[int, int], block: Tuple[int, int]) -> None:
    """Execute kernel `name` with argument values `v` on the emulated device."""
    if name.startswith("resize_"):
        _check_grid(name, grid, block, v["dw"], v["dh"])
        resized = _RESIZE[name.rsplit("_", 1)[0]](device, name, v)
        _write_normalised(device, name, v, resized)
    elif name.startswith("seg_argmax"):
        _check_grid(name, grid, block, v["plane"], 1)
        _seg_argmax(device, name, v)
    elif name == "seg_expand":
        _check_grid(name, grid, block, v["width"], v["height"])
        _seg_expand(device, v)
    else:
        raise CudaError("cuLaunchKernel(%s)" % name, "CUDA_ERROR_NOT_FOUND")
