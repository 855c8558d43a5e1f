"""CPU features: what a build targets (`mcpu` + `mattr`) and what this machine has (/proc/cpuinfo).

The compiler resolves the target's features when it builds; the loader detects the device's features
when it loads and refuses a build whose required features are missing, naming them, instead of letting
the process die on an illegal instruction or silently run kernels the build was not measured with.
Python 3.8 compatible: the agent runs this on the device.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import FrozenSet, Iterable, List, Optional, Sequence, Tuple

from edge_runtime.errors import CompileError
from edge_runtime.runtime.build.arm_hwcaps import features_from_bits, read_hwcaps
from edge_runtime.runtime.build.cpu_models import (
    ARM64,
    DEFAULT_MCPU,
    FEATURE_ALIASES,
    FEATURE_REQUIRES,
    KERNEL_FEATURES,
    MCPU_ALIASES,
    MCPU_FEATURES,
    X86_64,
    known_features,
)

CPUINFO = "/proc/cpuinfo"
_MACHINE_ARCH = {"x86_64": X86_64, "amd64": X86_64, "aarch64": ARM64, "arm64": ARM64}


@dataclass(frozen=True)
class CpuTarget:
    """A CPU build target: the architecture, the named CPU, the `mattr` edits and the result."""

    arch: str
    mcpu: str
    mattr: Tuple[str, ...]
    features: FrozenSet[str]

    @property
    def required(self) -> FrozenSet[str]:
        """The target's features that ONNX Runtime's kernels dispatch on: what a device must have."""
        return self.features & KERNEL_FEATURES[self.arch]


@dataclass(frozen=True)
class HostCpu:
    """This machine's architecture and CPU features as the kernel reports them."""

    arch: str  # X86_64, ARM64, or the raw machine name when neither
    features: FrozenSet[str]


def canonical_mcpu(arch: str, name: Optional[str]) -> str:
    """The table name for `mcpu` (default per architecture); unknown or wrong-architecture names fail."""
    if name is None:
        return DEFAULT_MCPU[arch]
    key = str(name).strip().lower()
    key = MCPU_ALIASES.get(key, key)
    if key in MCPU_FEATURES[arch]:
        return key
    other = ARM64 if arch == X86_64 else X86_64
    if key in MCPU_FEATURES[other]:
        raise CompileError("mcpu %r is an %s CPU, but the target architecture is %s" % (name, other, arch))
    raise CompileError(
        "mcpu %r is not a known %s CPU; known: %s" % (name, arch, ", ".join(sorted(MCPU_FEATURES[arch])))
    )


def parse_mattr_entry(arch: str, entry: str) -> Tuple[str, Tuple[str, ...]]:
    """`+avx512vnni` -> ("+", ("avx512_vnni",)); the sign is required, the name must be known."""
    text = str(entry).strip()
    if len(text) < 2 or text[0] not in "+-":
        raise CompileError("mattr entries look like '+feature' or '-feature', got %r" % (entry,))
    sign, name = text[0], text[1:].strip().lower()
    names = FEATURE_ALIASES[arch].get(name)
    if names is None:
        underscored = name.replace("-", "_")
        names = (underscored,) if underscored in known_features(arch) else None
    other = ARM64 if arch == X86_64 else X86_64
    if names is None and (name in FEATURE_ALIASES[other] or name.replace("-", "_") in known_features(other)):
        raise CompileError("mattr %r is an %s feature, but the target architecture is %s" % (entry, other, arch))
    if names is None:
        raise CompileError(
            "mattr %r names no %s feature this compiler knows; known: %s"
            % (entry, arch, ", ".join(sorted(known_features(arch))))
        )
    return sign, names


def _with_prerequisites(arch: str, names: Iterable[str]) -> set:
    out = set()  # type: set
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(FEATURE_REQUIRES[arch].get(name, ()))
    return out


def _with_dependents(arch: str, features: Iterable[str], removed: Iterable[str]) -> set:
    gone = set(removed)
    changed = True
    while changed:
        changed = False
        for name in features:
            if name not in gone and gone.intersection(FEATURE_REQUIRES[arch].get(name, ())):
                gone.add(name)
                changed = True
    return gone


def resolve_target(arch: str, mcpu: Optional[str] = None, mattr: Sequence[str] = ()) -> CpuTarget:
    """Features implied by `mcpu`, then each `mattr` edit in order (with prerequisites/dependents)."""
    name = canonical_mcpu(arch, mcpu)
    features = set(MCPU_FEATURES[arch][name])
    for entry in mattr:
        sign, names = parse_mattr_entry(arch, entry)
        if sign == "+":
            features |= _with_prerequisites(arch, names)
        else:
            features -= _with_dependents(arch, features, names)
    return CpuTarget(arch=arch, mcpu=name, mattr=tuple(str(m).strip() for m in mattr), features=frozenset(features))


def machine_arch(machine: Optional[str] = None) -> str:
    raw = machine if machine is not None else platform.machine()
    return _MACHINE_ARCH.get(raw.lower(), raw)


def parse_cpuinfo(text: str) -> FrozenSet[str]:
    """Features every processor in a /proc/cpuinfo text has (x86 `flags`, ARM64 `Features`)."""
    common: Optional[set] = None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or key.strip().lower() not in ("flags", "features"):
            continue
        found = set(value.split())
        common = found if common is None else common & found
    return frozenset(common or ())


def detect_host_cpu(cpuinfo_path: str = CPUINFO, machine: Optional[str] = None) -> HostCpu:
    """This machine's CPU; an unreadable cpuinfo yields no features (so builds needing any are refused).

    On ARM64 this process's own hardware capability bits come first (arm_hwcaps: the source of
    cpuinfo's `Features`, right also where cpuinfo describes another CPU, as under qemu)."""
    arch = machine_arch(machine)
    if arch == ARM64 and machine is None and cpuinfo_path == CPUINFO:
        hwcaps = read_hwcaps()
        if hwcaps is not None and hwcaps[0]:
            return HostCpu(arch=arch, features=features_from_bits(*hwcaps))
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as fh:
            features = parse_cpuinfo(fh.read())
    except OSError:
        features = frozenset()
    return HostCpu(arch=arch, features=features)


def missing_features(required: Iterable[str], available: Iterable[str]) -> List[str]:
    return sorted(set(required) - set(available))
