"""Compile targets: Lookout's TargetDevice / TargetPlatform / CompilerOptions, validated in one pure function.

`validate_target(target_device, target_platform, compiler_options) -> CompileTarget` is called once, at
the edge (the `compile` and `package start` commands, the Lookout API server's StartModelPackagingJob),
and the typed target travels from there through packaging into the compiler, so every path refuses the
same inputs with the same message. The rules (shared/specs/LOOKOUT_FORMATS.md):

- exactly one of TargetDevice (`jetson_xavier`) or TargetPlatform {Os: LINUX, Arch: ARM64|X86_64,
  Accelerator: NVIDIA (optional)};
- no CompilerOptions with TargetDevice; CompilerOptions is a JSON object string of 3..1024 characters;
- with Accelerator NVIDIA, `gpu-code`, `trt-ver` and `cuda-ver` are required;
- an unknown option key is refused with the list of known keys.

Errors read like the original service's: "1 validation error detected: Value '...' at
'configuration.greengrass.compilerOptions' failed to satisfy constraint: ...", and carry the field.
Python 3.8 compatible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from edge_runtime.compiler.options import (
    NVIDIA_REQUIRED,
    CompilerOptions,
    OptionError,
    TargetKind,
    parse_options,
)
from edge_runtime.errors import CompileError, InvalidArgument
from edge_runtime.runtime.build.cpu_features import CpuTarget, resolve_target

FIELD_DEVICE = "configuration.greengrass.targetDevice"
FIELD_PLATFORM = "configuration.greengrass.targetPlatform"
FIELD_OPTIONS = "configuration.greengrass.compilerOptions"
OPTIONS_MIN_LENGTH = 3
OPTIONS_MAX_LENGTH = 1024


class TargetDevice(str, Enum):
    JETSON_XAVIER = "jetson_xavier"


class TargetOs(str, Enum):
    LINUX = "LINUX"


class TargetArch(str, Enum):
    ARM64 = "ARM64"
    X86_64 = "X86_64"


class TargetAccelerator(str, Enum):
    NVIDIA = "NVIDIA"


@dataclass(frozen=True)
class DevicePreset:
    """What a TargetDevice stands for: architecture, accelerator and the options it implies."""

    arch: TargetArch
    accelerator: Optional[TargetAccelerator]
    options: Mapping[str, Any]
    description: str


def _jetson_xavier() -> DevicePreset:
    return DevicePreset(
        arch=TargetArch.ARM64,
        accelerator=TargetAccelerator.NVIDIA,
        options={"gpu-code": "sm_72", "trt-ver": "8.5.2", "cuda-ver": "11.4"},
        description="NVIDIA Jetson AGX Xavier (Carmel ARM64, Volta sm_72), JetPack 5.1: TensorRT 8.5.2, CUDA 11.4",
    )


DEVICE_PRESETS: Dict[TargetDevice, Callable[[], DevicePreset]] = {TargetDevice.JETSON_XAVIER: _jetson_xavier}


@dataclass(frozen=True)
class Violation:
    field: str
    value: Any
    constraint: str

    def text(self) -> str:
        return "Value %s at '%s' failed to satisfy constraint: %s" % (_show(self.value), self.field, self.constraint)


class TargetValidationError(CompileError, InvalidArgument):
    """The target or options break Lookout's rules; `field` names the (first) offending field."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        count = len(violations)
        super().__init__("%d validation error%s detected: %s"
                         % (count, "" if count == 1 else "s", "; ".join(v.text() for v in violations)))
        self.violations = tuple(violations)
        self.field = violations[0].field


def _show(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return "'%s'" % (text if len(text) <= 256 else text[:253] + "...")


def _enum_constraint(enum: Any) -> str:
    return "Member must satisfy enum value set: [%s]" % ", ".join(e.value for e in enum)


@dataclass(frozen=True)
class CompileTarget:
    """A validated target: what to build for, with every option's default filled in."""

    kind: TargetKind
    arch: TargetArch
    options: CompilerOptions
    os: TargetOs = TargetOs.LINUX
    accelerator: Optional[TargetAccelerator] = None
    device: Optional[TargetDevice] = None
    compiler_options: Optional[str] = None  # the JSON string as the user gave it

    def __post_init__(self) -> None:
        expected = TargetKind.NVIDIA if self.accelerator == TargetAccelerator.NVIDIA else TargetKind.CPU
        if self.kind != expected:
            raise CompileError("target kind %s does not match accelerator %s" % (self.kind.value, self.accelerator))

    @property
    def cpu(self) -> CpuTarget:
        """The CPU features a CPU build targets (mcpu + mattr resolved)."""
        return resolve_target(self.arch.value, self.options.mcpu, self.options.mattr)

    def builds_same_as(self, other: "CompileTarget") -> bool:
        """Whether a build for `other` is a build for this target (however each was spelled: device or platform)."""
        return (self.kind, self.arch, self.os, self.accelerator, self.options) == (
            other.kind, other.arch, other.os, other.accelerator, other.options)

    def describe(self) -> str:
        opts = self.options
        if self.kind == TargetKind.NVIDIA:
            base = self.device.value if self.device else "LINUX %s NVIDIA" % self.arch.value
            return "%s (%s, TensorRT %s, CUDA %s, %s)" % (base, opts.gpu_code, opts.trt_ver, opts.cuda_ver,
                                                         opts.precision)
        return "LINUX %s CPU (mcpu %s%s, %s)" % (self.arch.value, opts.mcpu,
                                                 " mattr %s" % ",".join(opts.mattr) if opts.mattr else "",
                                                 opts.precision)

    def lookout_configuration(self) -> Dict[str, Any]:
        """The Greengrass configuration members that name this target, as Lookout's API spells them."""
        if self.device is not None:
            return {"TargetDevice": self.device.value}
        platform = {"Os": self.os.value, "Arch": self.arch.value}
        if self.accelerator is not None:
            platform["Accelerator"] = self.accelerator.value
        out: Dict[str, Any] = {"TargetPlatform": platform}
        if self.compiler_options is not None:
            out["CompilerOptions"] = self.compiler_options
        return out

    def to_dict(self) -> Dict[str, Any]:
        return {
            "kind": self.kind.value,
            "os": self.os.value,
            "arch": self.arch.value,
            "accelerator": self.accelerator.value if self.accelerator else None,
            "device": self.device.value if self.device else None,
            "options": self.options.to_dict(),
            "compiler_options": self.compiler_options,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CompileTarget":
        try:
            return cls(
                kind=TargetKind(data["kind"]), arch=TargetArch(data["arch"]), os=TargetOs(data.get("os", "LINUX")),
                options=CompilerOptions.from_dict(data.get("options", {})),
                accelerator=TargetAccelerator(data["accelerator"]) if data.get("accelerator") else None,
                device=TargetDevice(data["device"]) if data.get("device") else None,
                compiler_options=data.get("compiler_options"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CompileError("not a valid compile target record: %s" % exc) from exc


def validate_target(
    target_device: Optional[str],
    target_platform: Optional[Mapping[str, Any]],
    compiler_options: Optional[str],
) -> CompileTarget:
    """Apply Lookout's rules; raise TargetValidationError naming every offending field."""
    if target_device is not None and target_platform is not None:
        raise TargetValidationError([Violation(
            FIELD_DEVICE, target_device, "TargetDevice and TargetPlatform exclude each other; specify only one")])
    if target_device is None and target_platform is None:
        raise TargetValidationError([Violation(
            FIELD_DEVICE, None, "Specify one of TargetDevice or TargetPlatform")])
    if target_device is not None:
        return _device_target(target_device, compiler_options)
    return _platform_target(target_platform, compiler_options)


def _device_target(target_device: Any, compiler_options: Optional[str]) -> CompileTarget:
    violations: List[Violation] = []
    if target_device not in [d.value for d in TargetDevice]:
        violations.append(Violation(FIELD_DEVICE, target_device, _enum_constraint(TargetDevice)))
    if compiler_options is not None:
        violations.append(Violation(FIELD_OPTIONS, compiler_options,
                                    "CompilerOptions cannot be specified with TargetDevice"))
    if violations:
        raise TargetValidationError(violations)
    device = TargetDevice(target_device)
    preset = DEVICE_PRESETS[device]()
    kind = TargetKind.NVIDIA if preset.accelerator == TargetAccelerator.NVIDIA else TargetKind.CPU
    options = parse_options(preset.options, kind, preset.arch.value)
    return CompileTarget(kind=kind, arch=preset.arch, options=options, accelerator=preset.accelerator, device=device)


def _platform_violations(platform: Any) -> List[Violation]:
    if not isinstance(platform, Mapping):
        return [Violation(FIELD_PLATFORM, platform, "Member must be a structure {Os, Arch, Accelerator}")]
    out: List[Violation] = []
    for key in sorted(k for k in platform if k not in ("Os", "Arch", "Accelerator")):
        out.append(Violation(FIELD_PLATFORM, key, "Unknown member; expected Os, Arch or Accelerator"))
    for key, enum, required in (("Os", TargetOs, True), ("Arch", TargetArch, True),
                                ("Accelerator", TargetAccelerator, False)):
        field = "%s.%s" % (FIELD_PLATFORM, key[0].lower() + key[1:])
        value = platform.get(key)
        if value is None:
            if required:
                out.append(Violation(field, None, "Member must not be null"))
        elif value not in [e.value for e in enum]:
            out.append(Violation(field, value, _enum_constraint(enum)))
    return out


def _options_length_violations(compiler_options: Any) -> List[Violation]:
    if compiler_options is None:
        return []
    if not isinstance(compiler_options, str):
        return [Violation(FIELD_OPTIONS, compiler_options, "Member must be a string holding a JSON object")]
    if len(compiler_options) < OPTIONS_MIN_LENGTH:
        return [Violation(FIELD_OPTIONS, compiler_options,
                          "Member must have length greater than or equal to %d" % OPTIONS_MIN_LENGTH)]
    if len(compiler_options) > OPTIONS_MAX_LENGTH:
        return [Violation(FIELD_OPTIONS, compiler_options,
                          "Member must have length less than or equal to %d" % OPTIONS_MAX_LENGTH)]
    return []


def _decode_options(compiler_options: Optional[str]) -> Dict[str, Any]:
    if compiler_options is None:
        return {}
    try:
        data = json.loads(compiler_options)
    except ValueError as exc:
        raise TargetValidationError([Violation(FIELD_OPTIONS, compiler_options,
                                               "Member must be a JSON object: %s" % exc)]) from None
    if not isinstance(data, dict):
        raise TargetValidationError([Violation(FIELD_OPTIONS, compiler_options,
                                               "Member must be a JSON object, got %s" % type(data).__name__)])
    return data


def _platform_target(platform: Any, compiler_options: Optional[str]) -> CompileTarget:
    violations = _platform_violations(platform) + _options_length_violations(compiler_options)
    if violations:
        raise TargetValidationError(violations)
    data = _decode_options(compiler_options)
    accelerator = TargetAccelerator(platform["Accelerator"]) if platform.get("Accelerator") else None
    kind = TargetKind.NVIDIA if accelerator == TargetAccelerator.NVIDIA else TargetKind.CPU
    arch = TargetArch(platform["Arch"])
    if kind == TargetKind.NVIDIA:
        missing = [k for k in NVIDIA_REQUIRED if k not in data]
        if missing:
            violations.append(Violation(FIELD_OPTIONS, compiler_options,
                                        "With Accelerator NVIDIA the compiler options gpu-code, trt-ver and "
                                        "cuda-ver are required; missing: %s" % ", ".join(missing)))
    try:
        options = parse_options(data, kind, arch.value)
    except OptionError as exc:
        violations.append(Violation(FIELD_OPTIONS, compiler_options, str(exc)))
    if violations:
        raise TargetValidationError(violations)
    return CompileTarget(kind=kind, arch=arch, options=options, os=TargetOs(platform["Os"]),
                         accelerator=accelerator, compiler_options=compiler_options)


def target_from_text(target_device: Optional[str], target_platform: Optional[str],
                     compiler_options: Optional[str]) -> CompileTarget:
    """The command line's target flags (platform as shorthand or JSON) -> the validated target."""
    platform = parse_target_platform(target_platform) if target_platform is not None else None
    return validate_target(target_device, platform, compiler_options)


def parse_target_platform(text: str) -> Dict[str, str]:
    """The CLI's `Os=LINUX,Arch=ARM64[,Accelerator=NVIDIA]` (AWS CLI shorthand) or a JSON object."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise TargetValidationError(
                [Violation(FIELD_PLATFORM, text, "Member must be a JSON object: %s" % exc)]) from None
        return data if isinstance(data, dict) else {"": stripped}
    out: Dict[str, str] = {}
    for part in (p for p in stripped.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise TargetValidationError([Violation(FIELD_PLATFORM, text,
                                                   "Expected Os=LINUX,Arch=ARM64|X86_64[,Accelerator=NVIDIA]")])
        out[key.strip()] = value.strip()
    return out
