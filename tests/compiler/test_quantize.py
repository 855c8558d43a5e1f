"""The INT8 quantisation choices follow the target's CPU features (VNNI or not)."""

from __future__ import annotations

import pytest

from edge_runtime.compiler.quantize import int8_choices
from edge_runtime.runtime.build.cpu_features import resolve_target
from edge_runtime.runtime.build.cpu_models import ARM64, X86_64


@pytest.mark.parametrize("arch,mcpu,reduce_range", [
    (X86_64, "core-avx2", True), (X86_64, "skylake-avx512", True), (X86_64, "cascadelake", False),
    (X86_64, "alderlake", False), (X86_64, "sapphirerapids", False), (ARM64, "carmel", False),
    (ARM64, "cortex-a78", False),
])
def test_int8_choices_follow_vnni(arch, mcpu, reduce_range):
    choices = int8_choices(resolve_target(arch, mcpu))
    assert choices.reduce_range is reduce_range
    assert choices.per_channel and choices.quant_format == "QDQ" and choices.weight_type == "QInt8"
    assert ("VNNI" in choices.reason or "vnni" in choices.reason or arch == ARM64)
