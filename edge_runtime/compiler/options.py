"""Compiler options (Lookout's `CompilerOptions` JSON): a str Enum of keys and one parser per key.

Lookout's documented keys are `mcpu`, `mattr` (CPU) and `gpu-code`, `trt-ver`, `cuda-ver` (NVIDIA).
This compiler adds a few of its own, named the same way:

    precision           CPU: fp32 (default) | bf16 | int8.  NVIDIA: fp16 (default) | fp32 | int8.
                        int8 calibrates on the package's calibration.npz. bf16 (OpenVINO's bf16
                        inference; the target's mcpu/mattr must have bf16 instructions) records
                        its measured accuracy change; fp32 builds are served at f32 on OpenVINO too.
    max-batch-size      1..64 (default 8): the largest batch the build serves (TensorRT profile max).
    opt-batch-size      1..max-batch-size (default max): the batch TensorRT tunes kernels for.
    workspace-mb        NVIDIA: 16..65536 MiB (default 1024) of builder scratch memory.
    graph-optimization  CPU: basic | extended (default): ONNX Runtime's offline graph level; the
                        hardware-specific "all" level (NCHWc layouts) is left to load time.
    calibration-method  CPU int8: minmax (default, fast) | percentile (99.999th percentile ranges:
                        slower to build, clips activation outliers; better on swish networks such as
                        the EfficientNet-Lite0 backbone, see benchmarks/results/compile_cpu.md).

An option that does not apply to the target kind is refused, never silently ignored.
Python 3.8 compatible: the Lookout API server and the device read these.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Callable, Dict, FrozenSet, Mapping, Optional, Tuple

from edge_runtime.errors import CompileError
from edge_runtime.runtime.build.cpu_features import canonical_mcpu, parse_mattr_entry
from edge_runtime.runtime.build.versions import (
    format_version,
    parse_version,
    supported_tensorrt_text,
    tensorrt_supported,
)

_GPU_CODE = re.compile(r"^sm_(\d)(\d+)$")


class TargetKind(str, Enum):
    CPU = "cpu"
    NVIDIA = "nvidia"


class OptionKey(str, Enum):
    MCPU = "mcpu"
    MATTR = "mattr"
    GPU_CODE = "gpu-code"
    TRT_VER = "trt-ver"
    CUDA_VER = "cuda-ver"
    PRECISION = "precision"
    MAX_BATCH_SIZE = "max-batch-size"
    OPT_BATCH_SIZE = "opt-batch-size"
    WORKSPACE_MB = "workspace-mb"
    GRAPH_OPTIMIZATION = "graph-optimization"
    CALIBRATION_METHOD = "calibration-method"


class OptionError(CompileError):
    """One option's value is wrong; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class OptionContext:
    kind: TargetKind
    arch: str


@dataclass(frozen=True)
class OptionSpec:
    kinds: FrozenSet[TargetKind]
    attribute: str  # CompilerOptions field
    parse: Callable[[Any, OptionContext], Any]


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CompileError("%s must be a non-empty string, got %r" % (what, value))
    return value.strip()


def _integer(low: int, high: int) -> Callable[[Any, OptionContext], int]:
    def parse(value: Any, ctx: OptionContext) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise CompileError("must be an integer in %d..%d, got %r" % (low, high, value))
        return value

    return parse


def _parse_mcpu(value: Any, ctx: OptionContext) -> str:
    return canonical_mcpu(ctx.arch, _text(value, "mcpu"))


def _parse_mattr(value: Any, ctx: OptionContext) -> Tuple[str, ...]:
    if isinstance(value, str):  # "+avx2,+fma" as well as ["+avx2", "+fma"]
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CompileError("mattr must be a list of '+feature' / '-feature' strings, got %r" % (value,))
    for entry in value:
        parse_mattr_entry(ctx.arch, entry)
    return tuple(v.strip() for v in value)


def _parse_gpu_code(value: Any, ctx: OptionContext) -> str:
    text = _text(value, "gpu-code").lower()
    if not _GPU_CODE.match(text):
        raise CompileError("gpu-code must look like sm_72 (sm_ + compute capability), got %r" % (value,))
    return text


def _parse_trt_ver(value: Any, ctx: OptionContext) -> str:
    version = parse_version(_text(value, "trt-ver"), "trt-ver")
    if len(version) < 2 or not tensorrt_supported(version):
        raise CompileError(
            "trt-ver %r is not supported: engines are built with %s (JetPack 5.1 ships 8.5.2)"
            % (value, supported_tensorrt_text())
        )
    return format_version(version)


def _parse_cuda_ver(value: Any, ctx: OptionContext) -> str:
    version = parse_version(_text(value, "cuda-ver"), "cuda-ver")
    if len(version) < 2 or version[0] < 10:
        raise CompileError("cuda-ver must look like 11.4 (major.minor, 10 or newer), got %r" % (value,))
    return format_version(version[:2])


def _parse_precision(value: Any, ctx: OptionContext) -> str:
    allowed = ("fp32", "bf16", "int8") if ctx.kind == TargetKind.CPU else ("fp16", "fp32", "int8")
    text = _text(value, "precision").lower()
    if text not in allowed:
        raise CompileError("precision for a %s target must be one of %s, got %r"
                           % (ctx.kind.value, ", ".join(allowed), value))
    return text


def _parse_calibration_method(value: Any, ctx: OptionContext) -> str:
    text = _text(value, "calibration-method").lower()
    if text not in ("minmax", "percentile"):
        raise CompileError("calibration-method must be minmax or percentile, got %r" % (value,))
    return text


def _parse_graph_optimization(value: Any, ctx: OptionContext) -> str:
    text = _text(value, "graph-optimization").lower()
    if text not in ("basic", "extended"):
        raise CompileError("graph-optimization must be basic or extended, got %r" % (value,))
    return text


_BOTH = frozenset((TargetKind.CPU, TargetKind.NVIDIA))
_CPU = frozenset((TargetKind.CPU,))
_GPU = frozenset((TargetKind.NVIDIA,))

OPTIONS: Dict[OptionKey, OptionSpec] = {
    OptionKey.MCPU: OptionSpec(_CPU, "mcpu", _parse_mcpu),
    OptionKey.MATTR: OptionSpec(_CPU, "mattr", _parse_mattr),
    OptionKey.GPU_CODE: OptionSpec(_GPU, "gpu_code", _parse_gpu_code),
    OptionKey.TRT_VER: OptionSpec(_GPU, "trt_ver", _parse_trt_ver),
    OptionKey.CUDA_VER: OptionSpec(_GPU, "cuda_ver", _parse_cuda_ver),
    OptionKey.PRECISION: OptionSpec(_BOTH, "precision", _parse_precision),
    OptionKey.MAX_BATCH_SIZE: OptionSpec(_BOTH, "max_batch_size", _integer(1, 64)),
    OptionKey.OPT_BATCH_SIZE: OptionSpec(_BOTH, "opt_batch_size", _integer(1, 64)),
    OptionKey.WORKSPACE_MB: OptionSpec(_GPU, "workspace_mb", _integer(16, 65536)),
    OptionKey.GRAPH_OPTIMIZATION: OptionSpec(_CPU, "graph_optimization", _parse_graph_optimization),
    OptionKey.CALIBRATION_METHOD: OptionSpec(_CPU, "calibration_method", _parse_calibration_method),
}

KNOWN_KEYS = tuple(sorted(k.value for k in OptionKey))
NVIDIA_REQUIRED = (OptionKey.GPU_CODE.value, OptionKey.TRT_VER.value, OptionKey.CUDA_VER.value)


@dataclass(frozen=True)
class CompilerOptions:
    """Parsed options with the defaults filled in; `to_dict` gives the normalised JSON form."""

    precision: str
    max_batch_size: int = 8
    opt_batch_size: Optional[int] = None  # None: the maximum
    mcpu: Optional[str] = None
    mattr: Tuple[str, ...] = ()
    gpu_code: Optional[str] = None
    trt_ver: Optional[str] = None
    cuda_ver: Optional[str] = None
    workspace_mb: Optional[int] = None
    graph_optimization: Optional[str] = None
    calibration_method: Optional[str] = None  # CPU int8 only

    def __post_init__(self) -> None:
        if self.opt_batch_size is not None and self.opt_batch_size > self.max_batch_size:
            raise OptionError(OptionKey.OPT_BATCH_SIZE.value, "opt-batch-size %d exceeds max-batch-size %d"
                              % (self.opt_batch_size, self.max_batch_size))

    @property
    def effective_opt_batch_size(self) -> int:
        return self.opt_batch_size or self.max_batch_size

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["mattr"] = list(self.mattr)
        return {key.value: data[OPTIONS[key].attribute] for key in OptionKey if data[OPTIONS[key].attribute]
                not in (None, [])}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CompilerOptions":
        fields = {OPTIONS[OptionKey(k)].attribute: v for k, v in data.items()}
        if "mattr" in fields:
            fields["mattr"] = tuple(fields["mattr"])
        return cls(**fields)


def parse_options(data: Mapping[str, Any], kind: TargetKind, arch: str) -> CompilerOptions:
    """Parse a decoded CompilerOptions object; an OptionError names the first offending key."""
    ctx = OptionContext(kind=kind, arch=arch)
    unknown = sorted(k for k in data if k not in KNOWN_KEYS)
    if unknown:
        raise OptionError(unknown[0], "unknown compiler option %s; known options: %s"
                          % (", ".join(repr(k) for k in unknown), ", ".join(KNOWN_KEYS)))
    fields: Dict[str, Any] = {}
    for key in OptionKey:
        if key.value not in data:
            continue
        spec = OPTIONS[key]
        if kind not in spec.kinds:
            where = "NVIDIA (TargetPlatform Accelerator NVIDIA)" if TargetKind.NVIDIA in spec.kinds else "CPU"
            raise OptionError(key.value, "compiler option %r applies to %s targets only" % (key.value, where))
        try:
            fields[spec.attribute] = spec.parse(data[key.value], ctx)
        except OptionError:
            raise
        except CompileError as exc:
            text = str(exc)
            raise OptionError(key.value, text if text.startswith(key.value) else "%s %s" % (key.value, text)) from None
    fields.setdefault("precision", "fp32" if kind == TargetKind.CPU else "fp16")
    if kind == TargetKind.CPU:
        fields.setdefault("mcpu", canonical_mcpu(arch, None))
        fields.setdefault("graph_optimization", "extended")
        if fields["precision"] == "int8":
            fields.setdefault("calibration_method", "minmax")
        elif "calibration_method" in fields:
            raise OptionError(OptionKey.CALIBRATION_METHOD.value, "calibration-method applies to precision int8 only")
    else:
        fields.setdefault("workspace_mb", 1024)
    return CompilerOptions(**fields)
