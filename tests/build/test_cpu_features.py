"""mcpu/mattr -> features and /proc/cpuinfo parsing (the INT8 choices that follow: tests/compiler/test_quantize.py)."""

from __future__ import annotations

import pytest

from edge_runtime.errors import CompileError
from edge_runtime.runtime.build.arm_hwcaps import features_from_bits, read_hwcaps
from edge_runtime.runtime.build.cpu_features import detect_host_cpu, parse_cpuinfo, resolve_target
from edge_runtime.runtime.build.cpu_models import ARM64, MCPU_FEATURES, X86_64

ASKED_FOR = {
    X86_64: ["core-avx2", "skylake-avx512", "cascadelake", "icelake-server", "sapphirerapids",
             "znver2", "znver3", "znver4"],
    ARM64: ["cortex-a57", "cortex-a72", "cortex-a78", "carmel", "neoverse-n1", "neoverse-v1"],
}
XAVIER_CPUINFO = """processor\t: 0
model name\t: ARMv8 Processor rev 0 (v8l)
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm dcpop
CPU implementer\t: 0x4e

processor\t: 1
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm dcpop
"""


@pytest.mark.parametrize("arch", [X86_64, ARM64])
def test_the_names_users_pass_are_in_the_table(arch):
    for name in ASKED_FOR[arch]:
        assert name in MCPU_FEATURES[arch], name


@pytest.mark.parametrize("mcpu,has,lacks", [
    ("core-avx2", {"avx2", "fma"}, {"avx512f", "avx512_vnni"}),
    ("skylake-avx512", {"avx512f", "avx512bw"}, {"avx512_vnni"}),
    ("cascadelake", {"avx512_vnni"}, {"avx512_bf16", "amx_int8"}),
    ("icelake-server", {"avx512_vnni", "avx512vbmi"}, {"amx_tile"}),
    ("sapphirerapids", {"amx_tile", "amx_int8", "amx_bf16", "avx512_bf16", "avx512_fp16"}, set()),
    ("znver3", {"avx2", "sse4a"}, {"avx512f"}),
    ("znver4", {"avx512f", "avx512_vnni", "avx512_bf16"}, {"amx_tile"}),
])
def test_x86_cpus_imply_their_features(mcpu, has, lacks):
    features = resolve_target(X86_64, mcpu).features
    assert has <= features and not (lacks & features)


@pytest.mark.parametrize("mcpu,dotprod", [("cortex-a57", False), ("cortex-a72", False), ("carmel", False),
                                          ("cortex-a78", True), ("neoverse-n1", True), ("neoverse-v1", True)])
def test_arm_cpus_and_dot_product(mcpu, dotprod):
    features = resolve_target(ARM64, mcpu).features
    assert {"fp", "asimd"} <= features
    assert ("asimddp" in features) == dotprod
    assert ("sve" in features) == (mcpu == "neoverse-v1")


def test_mattr_adds_with_prerequisites_and_removes_with_dependents():
    added = resolve_target(X86_64, "core-avx2", ["+avx512vnni"])
    assert {"avx512_vnni", "avx512f"} <= added.features
    removed = resolve_target(X86_64, "cascadelake", ["-avx512f"])
    assert not {"avx512f", "avx512_vnni", "avx512bw"} & removed.features and "avx2" in removed.features
    amx = resolve_target(X86_64, "icelake-server", ["+amx"])
    assert {"amx_tile", "amx_int8", "amx_bf16"} <= amx.required
    arm = resolve_target(ARM64, "carmel", ["+dotprod", "-crypto"])
    assert "asimddp" in arm.features and "aes" not in arm.features


def test_required_features_are_the_ones_onnxruntime_dispatches_on():
    target = resolve_target(X86_64, "znver3")
    assert "sse4a" in target.features and "sse4a" not in target.required
    assert {"avx2", "fma"} <= target.required


def test_aliases_and_unknown_names():
    assert resolve_target(X86_64, "SPR").mcpu == "sapphirerapids"
    assert resolve_target(ARM64, "graviton2").mcpu == "neoverse-n1"
    with pytest.raises(CompileError, match="not a known ARM64 CPU"):
        resolve_target(ARM64, "m1-max")


def test_parse_cpuinfo_arm_and_x86():
    features = parse_cpuinfo(XAVIER_CPUINFO)
    assert "asimd" in features and "asimddp" not in features
    assert resolve_target(ARM64, "carmel").required <= features
    assert parse_cpuinfo("processor : 0\nflags : fpu sse2 avx2\n\nprocessor : 1\nflags : fpu sse2\n") == \
        frozenset({"fpu", "sse2"})


def test_detects_this_machine(tmp_path):
    host = detect_host_cpu()
    assert host.arch in (X86_64, ARM64)
    assert ("sse2" in host.features) if host.arch == X86_64 else ("asimd" in host.features)
    nothing = detect_host_cpu(str(tmp_path / "missing"))
    assert nothing.features == frozenset()


def test_arm_hardware_capability_bits_are_what_cpuinfo_prints():
    # Xavier's AT_HWCAP: bits 0-12 (fp .. asimdrdm) and 16 (dcpop); its cpuinfo prints the same names.
    assert features_from_bits(0x11FFF, 0) == parse_cpuinfo(XAVIER_CPUINFO)
    v1 = features_from_bits(0b11 | 1 << 20 | 1 << 22, 1 << 12 | 1 << 13 | 1 << 14 | 1 << 40)
    assert v1 == {"fp", "asimd", "asimddp", "sve", "svebf16", "i8mm", "bf16"}  # HWCAP2 bit 40: unknown, left out
    hwcaps = read_hwcaps()  # this process's bits (on x86-64 they exist too, with other meanings)
    assert hwcaps is not None and all(isinstance(bits, int) for bits in hwcaps)
