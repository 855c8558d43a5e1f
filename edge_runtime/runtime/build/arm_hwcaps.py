"""ARM64 CPU features from the kernel's hardware capability bits (`getauxval(AT_HWCAP)` and `AT_HWCAP2`).

Linux prints /proc/cpuinfo's `Features` line from these same bits (arch/arm64/kernel/cpuinfo.c), with
these names, so on an aarch64 machine both agree. The bits reach the process itself, though, where
/proc/cpuinfo may tell of another CPU: under qemu user-mode emulation (scripts/test-arm64.sh; qemu 7.2
passes the x86-64 host's /proc/cpuinfo through) the bits are those of the emulated CPU and cpuinfo
has no `Features` line at all. Bit positions: arch/arm64/include/uapi/asm/hwcap.h.
Python 3.8 compatible.
"""

from __future__ import annotations

import ctypes
from typing import FrozenSet, Optional, Tuple

AT_HWCAP = 16
AT_HWCAP2 = 26
HWCAP_NAMES = (  # bit 0 first
    "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp", "asimdhp", "cpuid",
    "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop", "sha3", "sm3", "sm4", "asimddp", "sha512", "sve",
    "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb", "paca", "pacg",
)
HWCAP2_NAMES = (  # bit 0 first
    "dcpodp", "sve2", "sveaes", "svepmull", "svebitperm", "svesha3", "svesm4", "flagm2", "frint", "svei8mm",
    "svef32mm", "svef64mm", "svebf16", "i8mm", "bf16", "dgh", "rng", "bti", "mte", "ecv", "afp", "rpres",
    "mte3",
)


def features_from_bits(hwcap: int, hwcap2: int) -> FrozenSet[str]:
    """The /proc/cpuinfo names of the bits set in AT_HWCAP and AT_HWCAP2 (unknown bits are left out)."""
    names = {name for bit, name in enumerate(HWCAP_NAMES) if hwcap >> bit & 1}
    names.update(name for bit, name in enumerate(HWCAP2_NAMES) if hwcap2 >> bit & 1)
    return frozenset(names)


def read_hwcaps() -> Optional[Tuple[int, int]]:
    """(AT_HWCAP, AT_HWCAP2) of this process from the C library, or None where getauxval is missing."""
    try:
        getauxval = ctypes.CDLL(None).getauxval
    except (OSError, AttributeError):
        return None
    getauxval.restype = ctypes.c_ulong
    getauxval.argtypes = [ctypes.c_ulong]
    return int(getauxval(AT_HWCAP)), int(getauxval(AT_HWCAP2))
