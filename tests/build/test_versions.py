"""Version parsing is numeric, and the TensorRT API gates pick the right call per version."""

from __future__ import annotations

import pytest

from edge_runtime.errors import CompileError
from edge_runtime.runtime.build import versions
from tests.fakes import tensorrt as fake_tensorrt


def test_versions_compare_as_numbers_not_text():
    assert versions.parse_version("10.0.1") > versions.parse_version("8.5.2.2")
    assert "10.0.1" < "8.5.2.2"  # what a string compare would have concluded
    assert versions.parse_version("10.3.0.post1") == (10, 3, 0)
    assert versions.parse_version("v8.6") == (8, 6)
    with pytest.raises(CompileError, match="must look like 8.5.2"):
        versions.parse_version("latest")


def test_matching_rules():
    assert versions.version_matches((8, 5), (8, 5, 2, 2))
    assert versions.version_matches((8, 5, 2), (8, 5, 2, 2))
    assert not versions.version_matches((8, 5, 3), (8, 5, 2, 2))
    assert not versions.version_matches((8, 5), (8, 6, 1))
    assert versions.cuda_compatible((11, 4), (11, 8))
    assert not versions.cuda_compatible((11, 8), (11, 4))
    assert not versions.cuda_compatible((11, 4), (12, 2))
    assert versions.cuda_version_from_int(11040) == (11, 4)
    assert versions.cuda_version_from_int(12020) == (12, 2)


def test_supported_range():
    assert versions.tensorrt_supported((8, 5, 2, 2)) and versions.tensorrt_supported((10, 3, 0))
    assert not versions.tensorrt_supported((8, 2, 1)) and not versions.tensorrt_supported((11, 0))
    with pytest.raises(CompileError, match="TensorRT 7.1.3 is not supported"):
        versions.tensorrt_version(fake_tensorrt.make_module("7.1.3"))


@pytest.mark.parametrize("version,flags", [("8.5.2.2", 1), ("10.3.0", 0)])
def test_network_flags(version, flags):
    trt = fake_tensorrt.make_module(version)
    assert versions.network_flags(trt, versions.parse_version(version)) == flags


@pytest.mark.parametrize("version", ["8.5.2.2", "10.3.0"])
def test_workspace_uses_memory_pool_limit(version):
    trt = fake_tensorrt.make_module(version)
    config = trt.Builder(trt.ILogger()).create_builder_config()
    versions.set_workspace(trt, config, versions.parse_version(version), 256 << 20)
    assert config.pools == {"MemoryPoolType.WORKSPACE": 256 << 20}
    assert ("deprecated", "max_workspace_size") not in trt.calls


def test_fast_fp16_query_is_optional():
    old = fake_tensorrt.make_module("8.5.2.2")
    new = fake_tensorrt.make_module("10.3.0")
    assert versions.platform_has_fast(old.Builder(old.ILogger()), "fp16") is True
    assert not hasattr(new.Builder(new.ILogger()), "platform_has_fast_fp16")
    assert versions.platform_has_fast(new.Builder(new.ILogger()), "fp16") is True
    assert versions.int8_calibration_deprecated((10, 3)) and not versions.int8_calibration_deprecated((8, 5))
