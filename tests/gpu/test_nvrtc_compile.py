"""The kernel sources compile with the real NVRTC (no GPU or driver needed) for Xavier and Hopper."""

from __future__ import annotations

import os

import pytest

from edge_runtime.errors import CompileError, InvalidArgument
from edge_runtime.runtime.gpu.kernels import KERNEL_NAMES, KERNEL_SOURCE, signatures


def _nvrtc_missing() -> str:
    try:
        from edge_runtime.runtime.gpu.cuda_api import load_nvrtc

        nvrtc = load_nvrtc()
        nvrtc.nvrtcVersion()
    except Exception as exc:  # no cuda-python, or no libnvrtc from nvidia-cuda-nvrtc-cu12
        return "NVRTC unavailable (pip install cuda-python nvidia-cuda-nvrtc-cu12): %s" % exc
    return ""


pytestmark = pytest.mark.skipif(bool(_nvrtc_missing()), reason=_nvrtc_missing() or "n/a")


@pytest.mark.parametrize("target", ["sm_72", "sm_90"])
def test_kernels_compile_to_cubin(target):
    from edge_runtime.runtime.gpu.nvrtc_compile import compile_source

    compiled = compile_source(target)
    assert compiled.kind == "cubin" and compiled.target == target
    assert compiled.image[:4] == b"\x7fELF"  # a cubin is an ELF image
    for name in KERNEL_NAMES:  # every kernel is exported under its C name
        assert name.encode() in compiled.image


def test_ptx_for_a_virtual_architecture():
    from edge_runtime.runtime.gpu.nvrtc_compile import compile_source

    compiled = compile_source("compute_72")
    assert compiled.kind == "ptx"
    assert b".target sm_72" in compiled.image and b".entry resize_area_f32" in compiled.image


def test_disk_cache_per_architecture(tmp_path):
    from edge_runtime.runtime.gpu.nvrtc_compile import load_or_compile

    first = load_or_compile(7, 2, str(tmp_path))
    again = load_or_compile(7, 2, str(tmp_path))
    other = load_or_compile(9, 0, str(tmp_path))
    assert not first.from_cache and again.from_cache and not other.from_cache
    assert again.image == first.image and other.image != first.image
    names = sorted(os.listdir(str(tmp_path)))
    assert len(names) == 2 and names[0].startswith("edge-kernels-sm_72-") and names[1].startswith("edge-kernels-sm_90-")
    changed = load_or_compile(7, 2, str(tmp_path), source=KERNEL_SOURCE + "\n// changed\n")
    assert not changed.from_cache  # a changed source never loads a stale binary


def test_unknown_future_arch_falls_back_to_ptx():
    from edge_runtime.runtime.gpu.nvrtc_compile import choose_target, supported_architectures

    newest = max(supported_architectures())
    assert choose_target(7, 2) == "sm_72"
    assert choose_target(99, 9) == "compute_%d" % newest


def test_compile_errors_carry_the_nvrtc_log():
    from edge_runtime.runtime.gpu.nvrtc_compile import compile_source

    with pytest.raises(CompileError, match="undefined_thing"):
        compile_source("sm_72", source='extern "C" __global__ void k() { undefined_thing(); }')
    with pytest.raises(InvalidArgument, match="sm_72 or compute_90"):
        compile_source("gfx90a")


def test_signatures_are_parsed_from_the_source():
    sig = signatures()
    assert sorted(sig) == sorted(KERNEL_NAMES)
    assert sig["resize_linear_f16"][:3] == [("src", "ptr"), ("pitch", "i64"), ("out", "ptr")]
    assert sig["resize_area_int_f32"][8] == ("inv_area", "f32")
