"""The host side of the CUDA layer: bindings import across cuda-python releases, error checks, kernel
argument packing, and the preprocessor's table cache. No GPU here: the driver is a recording stand-in
(argument bytes are read back from the real kernelParams array) or the NumPy emulation.
"""

from __future__ import annotations

import ctypes
import sys
import warnings

import numpy as np
import pytest

from edge_runtime.errors import InvalidArgument, MissingExtra
from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.gpu import cuda_api
from edge_runtime.runtime.gpu.cuda_api import CudaError, check
from edge_runtime.runtime.gpu.cuda_device import CudaDevice
from edge_runtime.runtime.gpu.engine_source import EngineSource
from edge_runtime.runtime.gpu.preprocess_cuda import CudaPreprocessor, KernelSet, frame_pitch
from tests.gpu.emulated_cuda import EmulatedDevice


def test_old_module_layout_is_used_when_cuda_bindings_is_absent(monkeypatch):
    pytest.importorskip("cuda.bindings", reason="cuda-python >= 12.6 not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cuda import cuda as old_driver
        from cuda import nvrtc as old_nvrtc
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)  # as on cuda-python 11.x / 12.0-12.5
    driver, nvrtc = cuda_api.load_bindings()
    assert driver is old_driver and nvrtc is old_nvrtc


def test_no_cuda_python_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    with pytest.raises(MissingExtra, match=r"edge-runtime\[gpu\]"):
        cuda_api.load_bindings()
    assert cuda_api.probe_device()[0] is False


def test_check_unpacks_and_names_failures():
    assert check((0,), "cuInit") is None
    assert check((0, 7), "cuDeviceGetCount") == 7
    assert check((0, 1, 2), "nvrtcVersion") == (1, 2)
    with pytest.raises(CudaError, match="cuMemAlloc failed: 2"):
        check((2, None), "cuMemAlloc")


class _RecordingDriver:
    """Stands in for cuda.bindings.driver: keeps what cuLaunchKernel received."""

    def __init__(self) -> None:
        self.launches = []

    def cuLaunchKernel(self, f, gx, gy, gz, bx, by, bz, shared, stream, params, extra):  # noqa: N802
        pointers = (ctypes.c_void_p * 4).from_address(params)
        values = (
            ctypes.c_uint64.from_address(pointers[0]).value,
            ctypes.c_int64.from_address(pointers[1]).value,
            ctypes.c_int32.from_address(pointers[2]).value,
            ctypes.c_float.from_address(pointers[3]).value,
        )
        self.launches.append(((gx, gy, gz, bx, by, bz, shared, stream, extra), values))
        return (0,)


def test_launch_packs_each_argument_with_its_c_type():
    device = CudaDevice()
    device._driver = _RecordingDriver()
    args = [
        ("src", "ptr", 0x7F00_1234_5678),
        ("pitch", "i64", 3 * 2592 + 64),
        ("batch", "i32", -3),
        ("a0", "f32", 0.25),
    ]
    device.launch("fn", (81, 28), (32, 8), args, "stream")
    ((dims, values),) = device._driver.launches
    assert dims == (81, 28, 1, 32, 8, 1, 0, "stream", 0)
    assert values == (0x7F00_1234_5678, 3 * 2592 + 64, -3, 0.25)


def test_kernel_arguments_are_checked_by_name():
    kernels = KernelSet(EmulatedDevice(), b"image", "cubin")
    with pytest.raises(InvalidArgument, match=r"missing arguments \['ytab'"):
        kernels.launch("resize_linear_f32", (1, 1), None, src=0, pitch=0, out=0, batch=0, dw=1, dh=1, xtab=0)


def test_emulation_faults_on_out_of_bounds_reads():
    device = EmulatedDevice()
    pre = CudaPreprocessor(KernelSet(device, b"image", "cubin"), InputSpec(16, 16))
    stream = device.stream_create()
    src, out = device.alloc(32 * 32 * 3), device.alloc(pre.item_bytes)
    pre.enqueue(src, 96, 32, 32, out, 0, stream)
    with pytest.raises(CudaError, match="ILLEGAL_ADDRESS"):
        pre.enqueue(src, 200, 32, 32, out, 0, stream)  # a pitch that walks past the frame's allocation
    with pytest.raises(InvalidArgument, match="pitch 50 is shorter"):
        pre.enqueue(src, 50, 32, 32, out, 0, stream)


def test_table_cache_is_bounded_and_freed():
    device = EmulatedDevice()
    pre = CudaPreprocessor(KernelSet(device, b"image", "cubin"), InputSpec(16, 16), max_sizes=2)
    stream = device.stream_create()
    for size in (40, 50, 60):
        pre.tables(size, size, stream)
    assert [key for key in pre._tables] == [(50, 50), (60, 60)]
    assert ("synchronize",) in device.ops  # waited before freeing tables other streams may read
    pre.close()
    assert device.live_allocations() == 0


def test_frame_pitch_accepts_packed_rows_only():
    frame = np.zeros((10, 20, 3), np.uint8)
    assert frame_pitch(frame) == 60
    assert frame_pitch(np.zeros((10, 30, 3), np.uint8)[:, :20]) == 90
    assert frame_pitch(frame[:, ::2]) is None and frame_pitch(frame[..., ::-1]) is None


def test_deferred_engine_is_built_by_the_compiler_helper(monkeypatch, tmp_path):
    from edge_runtime.runtime.build import trt_build

    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"onnx")
    calls = []
    monkeypatch.setattr(trt_build, "build_engine", lambda *a: calls.append(a) or str(tmp_path / "built.engine"))
    source = EngineSource(onnx_path=str(onnx), settings={"precision": "fp16"}, cache_dir=str(tmp_path / "cache"))
    assert source.resolve() == str(tmp_path / "built.engine")
    assert calls == [(str(onnx), {"precision": "fp16"}, str(tmp_path / "cache"))]
