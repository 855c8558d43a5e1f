"""The CPU names users pass as `mcpu`, and the instruction-set features each one implies.

Feature names are the ones Linux prints in /proc/cpuinfo (`flags` on x86, `Features` on ARM64), so
a build's requirements compare directly with what the loader detects on a device. `mattr` entries may
use LLVM spellings (`+neon`, `+dotprod`, `+avx512vnni`, ...); FEATURE_ALIASES maps them. The tables
follow LLVM's processor definitions (X86.td, AArch64Processors.td) restricted to user-visible ISA
extensions. Pure data, Python 3.8 compatible: the agent reads it on the device.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, Tuple

X86_64 = "X86_64"
ARM64 = "ARM64"


def _set(*groups: Iterable[str]) -> FrozenSet[str]:
    out = set()  # type: set
    for group in groups:
        out.update(group.split() if isinstance(group, str) else group)
    return frozenset(out)


# x86-64 micro-architecture levels (psABI), the base of every x86 entry.
_V1 = _set("fpu cx8 cmov mmx fxsr sse sse2")
_V2 = _set(_V1, "cx16 lahf_lm popcnt pni ssse3 sse4_1 sse4_2")
_V3 = _set(_V2, "avx avx2 bmi1 bmi2 f16c fma abm movbe xsave")
_V4 = _set(_V3, "avx512f avx512bw avx512cd avx512dq avx512vl")
_HASWELL = _set(_V3, "aes pclmulqdq rdrand fsgsbase")
_SKYLAKE = _set(_HASWELL, "adx rdseed clflushopt xsavec xsaves")
_SKX = _set(_SKYLAKE, _V4, "clwb")
_ICX = _set(_SKX, "avx512_vnni avx512ifma avx512vbmi avx512_vbmi2 avx512_bitalg avx512_vpopcntdq",
            "gfni vaes vpclmulqdq sha_ni")
_SPR = _set(_ICX, "avx512_bf16 avx512_fp16 amx_tile amx_int8 amx_bf16 avx_vnni serialize movdiri movdir64b")
_ZEN = _set(_V3, "aes pclmulqdq rdrand fsgsbase adx rdseed clflushopt xsavec xsaves sha_ni sse4a clzero")
_ZEN2 = _set(_ZEN, "clwb rdpid wbnoinvd")
_ZEN3 = _set(_ZEN2, "vaes vpclmulqdq invpcid pku")
_ZEN4 = _set(_ZEN3, _V4, "avx512_vnni avx512_bf16 avx512ifma avx512vbmi avx512_vbmi2 avx512_bitalg",
             "avx512_vpopcntdq gfni")

# ARM64: architecture levels, then cores (crypto and CRC as shipped in the SoCs people deploy on).
_A80 = _set("fp asimd")
_A80_CRYPTO = _set(_A80, "aes pmull sha1 sha2 crc32")
_A82 = _set(_A80_CRYPTO, "atomics asimdrdm fphp asimdhp dcpop")
_A82_DOT = _set(_A82, "lrcpc asimddp")
_A84 = _set(_A82_DOT, "asimdfhm dit uscat ilrcpc flagm jscvt fcma sha3 sha512")
_NV1 = _set(_A84, "sve svei8mm svebf16 i8mm bf16 paca pacg rng ssbs")
_A90 = _set(_NV1, "sve2 svebitperm flagm2 frint dcpodp sb bti")

MCPU_FEATURES: Dict[str, Dict[str, FrozenSet[str]]] = {
    X86_64: {
        "x86-64": _V1,
        "x86-64-v2": _V2,
        "x86-64-v3": _V3,
        "x86-64-v4": _V4,
        "nehalem": _V2,
        "sandybridge": _set(_V2, "avx aes pclmulqdq xsave"),
        "ivybridge": _set(_V2, "avx aes pclmulqdq xsave f16c rdrand fsgsbase"),
        "haswell": _HASWELL,
        "core-avx2": _HASWELL,
        "broadwell": _set(_HASWELL, "adx rdseed"),
        "skylake": _SKYLAKE,
        "skylake-avx512": _SKX,
        "cascadelake": _set(_SKX, "avx512_vnni"),
        "cooperlake": _set(_SKX, "avx512_vnni avx512_bf16"),
        "icelake-client": _ICX,
        "icelake-server": _set(_ICX, "wbnoinvd"),
        "tigerlake": _set(_ICX, "avx512_vp2intersect movdiri movdir64b"),
        "alderlake": _set(_SKYLAKE, "avx_vnni gfni vaes vpclmulqdq sha_ni serialize movdiri movdir64b"),
        "sapphirerapids": _SPR,
        "emeraldrapids": _SPR,
        "graniterapids": _set(_SPR, "amx_fp16"),
        "znver1": _ZEN,
        "znver2": _ZEN2,
        "znver3": _ZEN3,
        "znver4": _ZEN4,
        "znver5": _set(_ZEN4, "avx_vnni avx512_vp2intersect movdiri movdir64b"),
    },
    ARM64: {
        "generic": _A80,
        "armv8-a": _A80,
        "armv8.2-a": _A82,
        "cortex-a53": _A80_CRYPTO,
        "cortex-a57": _A80_CRYPTO,
        "cortex-a72": _A80_CRYPTO,
        "cortex-a73": _A80_CRYPTO,
        "carmel": _A82,  # NVIDIA Carmel (Jetson Xavier): ARMv8.2 without the dot product extension
        "cortex-a55": _A82_DOT,
        "cortex-a75": _A82_DOT,
        "cortex-a76": _set(_A82_DOT, "ssbs"),
        "cortex-a77": _set(_A82_DOT, "ssbs"),
        "cortex-a78": _set(_A82_DOT, "ssbs"),
        "cortex-a78ae": _set(_A82_DOT, "ssbs"),  # Jetson Orin
        "neoverse-n1": _set(_A82_DOT, "ssbs"),  # AWS Graviton2
        "neoverse-v1": _NV1,  # AWS Graviton3
        "neoverse-n2": _A90,
        "neoverse-v2": _A90,  # NVIDIA Grace, AWS Graviton4
    },
}

# Names people use for the same cores.
MCPU_ALIASES = {
    "graviton2": "neoverse-n1",
    "graviton3": "neoverse-v1",
    "graviton4": "neoverse-v2",
    "xavier": "carmel",
    "orin": "cortex-a78ae",
    "skx": "skylake-avx512",
    "clx": "cascadelake",
    "icx": "icelake-server",
    "spr": "sapphirerapids",
}

DEFAULT_MCPU = {X86_64: "core-avx2", ARM64: "generic"}

# LLVM / GCC spellings in `mattr` -> /proc/cpuinfo names (a tuple when one name means several).
FEATURE_ALIASES: Dict[str, Dict[str, Tuple[str, ...]]] = {
    X86_64: {
        "sse3": ("pni",), "sse4.1": ("sse4_1",), "sse4.2": ("sse4_2",), "lzcnt": ("abm",), "bmi": ("bmi1",),
        "sha": ("sha_ni",), "sahf": ("lahf_lm",), "pclmul": ("pclmulqdq",), "rdrnd": ("rdrand",),
        "avx512vnni": ("avx512_vnni",), "avxvnni": ("avx_vnni",), "avx512bf16": ("avx512_bf16",),
        "avx512fp16": ("avx512_fp16",), "avx512vbmi2": ("avx512_vbmi2",), "avx512bitalg": ("avx512_bitalg",),
        "avx512vpopcntdq": ("avx512_vpopcntdq",), "avx512vp2intersect": ("avx512_vp2intersect",),
        "avxvnniint8": ("avx_vnni_int8",), "amx-tile": ("amx_tile",), "amx-int8": ("amx_int8",),
        "amx-bf16": ("amx_bf16",), "amx-fp16": ("amx_fp16",), "amx": ("amx_tile", "amx_int8", "amx_bf16"),
        "vnni": ("avx512_vnni",),
    },
    ARM64: {
        "neon": ("asimd",), "simd": ("asimd",), "fp-armv8": ("fp",), "vfpv3": ("fp",), "vfpv4": ("fp",),
        "crypto": ("aes", "pmull", "sha1", "sha2"), "sha2": ("sha1", "sha2"), "crc": ("crc32",),
        "lse": ("atomics",), "rdm": ("asimdrdm",), "fullfp16": ("fphp", "asimdhp"), "fp16": ("fphp", "asimdhp"),
        "dotprod": ("asimddp",), "fp16fml": ("asimdfhm",), "rcpc": ("lrcpc",), "sve-i8mm": ("svei8mm",),
    },
}

# A feature needs these (so `+avx512_vnni` brings avx512f, and `-avx512f` drops avx512_vnni).
FEATURE_REQUIRES: Dict[str, Dict[str, Tuple[str, ...]]] = {
    X86_64: {
        "ssse3": ("pni",), "sse4_1": ("ssse3",), "sse4_2": ("sse4_1",), "avx": ("sse4_2",), "avx2": ("avx",),
        "fma": ("avx",), "f16c": ("avx",), "avx_vnni": ("avx2",), "avx_vnni_int8": ("avx2",),
        "avx512f": ("avx2", "fma", "f16c"), "avx512bw": ("avx512f",), "avx512cd": ("avx512f",),
        "avx512dq": ("avx512f",), "avx512vl": ("avx512f",), "avx512_vnni": ("avx512f",),
        "avx512_bf16": ("avx512bw",), "avx512_fp16": ("avx512bw", "avx512vl", "avx512dq"),
        "avx512ifma": ("avx512f",), "avx512vbmi": ("avx512bw",), "avx512_vbmi2": ("avx512bw",),
        "avx512_bitalg": ("avx512bw",), "avx512_vpopcntdq": ("avx512f",), "avx512_vp2intersect": ("avx512f",),
        "amx_int8": ("amx_tile",), "amx_bf16": ("amx_tile",), "amx_fp16": ("amx_tile",),
    },
    ARM64: {
        "asimd": ("fp",), "fphp": ("fp",), "asimdhp": ("asimd", "fphp"), "asimddp": ("asimd",),
        "asimdrdm": ("asimd",), "asimdfhm": ("asimdhp",), "i8mm": ("asimd",), "bf16": ("asimd",),
        "sve": ("asimd", "fphp"), "sve2": ("sve",), "svei8mm": ("sve", "i8mm"), "svebf16": ("sve", "bf16"),
        "pmull": ("aes",),
    },
}

# The features ONNX Runtime's CPU kernels (MLAS) dispatch on. A build needs the ones its target has:
# on a CPU without them ONNX Runtime would silently run other kernels than the ones the build was
# made and measured for (for INT8 without VNNI: saturating u8s8 arithmetic), so the loader refuses.
KERNEL_FEATURES = {
    X86_64: _set("sse4_1 avx avx2 fma f16c avx512f avx512bw avx512dq avx512vl avx512_vnni avx_vnni avx_vnni_int8",
                 "avx512_bf16 avx512_fp16 amx_tile amx_int8 amx_bf16 amx_fp16"),
    ARM64: _set("fp asimd fphp asimdhp asimddp i8mm bf16 sve sve2 svei8mm svebf16"),
}


def known_features(arch: str) -> FrozenSet[str]:
    """Every canonical feature name the tables know for an architecture (what `mattr` may name)."""
    names = set(KERNEL_FEATURES[arch])
    for features in MCPU_FEATURES[arch].values():
        names.update(features)
    for targets in FEATURE_ALIASES[arch].values():
        names.update(targets)
    for feature, needs in FEATURE_REQUIRES[arch].items():
        names.add(feature)
        names.update(needs)
    return frozenset(names)
