"""Versions: parsing, matching, and the one place where TensorRT API differences are gated.

Versions are compared as integer tuples, never as text ("10.0" < "8.5" as strings). TensorRT 8.5
(JetPack 5.1) to 10.x are supported:

- 8.x needs the EXPLICIT_BATCH network flag for ONNX; 10.0 made every network explicit-batch and
  deprecated the flag, so it is not passed there.
- Workspace: `config.set_memory_pool_limit(MemoryPoolType.WORKSPACE, n)` since 8.4 (the old
  `config.max_workspace_size` was deprecated in 8.4 and removed in 10.0).
- `builder.platform_has_fast_fp16` / `_int8` are deprecated in 10.x; read only where they exist.
- Implicit INT8 calibration (IInt8EntropyCalibrator2) is deprecated from 10.1 in favour of explicit
  Q/DQ networks, but still works; a warning is logged.

Python 3.8 compatible: engines are built on the device.
"""

from __future__ import annotations

import re
from typing import Any, Tuple, Union

from edge_runtime.errors import CompileError

Version = Tuple[int, ...]

MIN_TENSORRT = (8, 5)
MAX_TENSORRT_EXCLUSIVE = (11,)
_VERSION = re.compile(r"^\s*v?(\d+(?:\.\d+)*)")


def parse_version(text: Union[str, int, Tuple[int, ...]], what: str = "version") -> Version:
    """'8.5.2.2' -> (8, 5, 2, 2); '10.3.0.post1' -> (10, 3, 0); a tuple passes through."""
    if isinstance(text, tuple):
        return tuple(int(p) for p in text)
    match = _VERSION.match(str(text))
    if not match:
        raise CompileError("%s must look like 8.5.2 (numbers and dots), got %r" % (what, text))
    return tuple(int(p) for p in match.group(1).split("."))


def format_version(version: Version) -> str:
    return ".".join(str(p) for p in version)


def cuda_version_from_int(value: int) -> Version:
    """CUDA reports 11040 for 11.4 (1000 * major + 10 * minor)."""
    return (value // 1000, (value % 1000) // 10)


def version_matches(requested: Version, actual: Version) -> bool:
    """A requested version names a release line: 8.5 matches 8.5.x, 8.5.2 matches 8.5.2.x."""
    return tuple(actual[: len(requested)]) == tuple(requested)


def cuda_compatible(requested: Version, actual: Version) -> bool:
    """CUDA minor-version compatibility: same major, at least the requested minor."""
    return actual[:1] == requested[:1] and tuple(actual[:2]) >= tuple(requested[:2])


def tensorrt_supported(version: Version) -> bool:
    return MIN_TENSORRT <= tuple(version) < MAX_TENSORRT_EXCLUSIVE


def supported_tensorrt_text() -> str:
    return "TensorRT %s to %d.x" % (format_version(MIN_TENSORRT), MAX_TENSORRT_EXCLUSIVE[0] - 1)


def tensorrt_version(trt: Any) -> Version:
    """The imported tensorrt module's version, refused when outside the supported range."""
    version = parse_version(getattr(trt, "__version__", ""), "tensorrt.__version__")
    if not tensorrt_supported(version):
        raise CompileError(
            "TensorRT %s is not supported: this runtime builds engines with %s"
            % (format_version(version), supported_tensorrt_text())
        )
    return version


def network_flags(trt: Any, version: Version) -> int:
    """Flags for builder.create_network: EXPLICIT_BATCH before 10.0, none from 10.0 on."""
    if tuple(version) < (10,):
        return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    return 0


def set_workspace(trt: Any, config: Any, version: Version, size_bytes: int) -> None:
    """Limit the builder's scratch memory the way this TensorRT version expects."""
    if tuple(version) >= (8, 4):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(size_bytes))
    else:  # pragma: no cover - below the supported range, kept for clarity of the gate
        config.max_workspace_size = int(size_bytes)


def platform_has_fast(builder: Any, what: str) -> bool:
    """`fp16` / `int8` support as the builder reports it; assumed present where the query is gone."""
    return bool(getattr(builder, "platform_has_fast_" + what, True))


def int8_calibration_deprecated(version: Version) -> bool:
    return tuple(version) >= (10, 1)
