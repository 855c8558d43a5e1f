"""Lookout's target and CompilerOptions rules (shared/specs/LOOKOUT_FORMATS.md), one test per rule,
each asserting the message and the field it names."""

from __future__ import annotations

import json

import pytest

from edge_runtime.compiler.options import KNOWN_KEYS, TargetKind
from edge_runtime.compiler.targets import (
    FIELD_DEVICE,
    FIELD_OPTIONS,
    FIELD_PLATFORM,
    CompileTarget,
    TargetValidationError,
    parse_target_platform,
    validate_target,
)
from edge_runtime.errors import CompileError, InvalidArgument

X86 = {"Os": "LINUX", "Arch": "X86_64"}
ARM_GPU = {"Os": "LINUX", "Arch": "ARM64", "Accelerator": "NVIDIA"}
GPU_OPTIONS = '{"gpu-code": "sm_72", "trt-ver": "8.5.2", "cuda-ver": "11.4"}'


def refused(device, platform, options) -> TargetValidationError:
    with pytest.raises(TargetValidationError) as info:
        validate_target(device, platform, options)
    return info.value


def test_error_is_invalid_argument_and_compile_error_with_lookout_wording():
    err = refused("jetson_nano", None, None)
    assert isinstance(err, InvalidArgument) and isinstance(err, CompileError)
    assert str(err) == ("1 validation error detected: Value 'jetson_nano' at 'configuration.greengrass.targetDevice' "
                        "failed to satisfy constraint: Member must satisfy enum value set: [jetson_xavier]")
    assert err.field == FIELD_DEVICE


def test_target_device_and_platform_exclude_each_other():
    err = refused("jetson_xavier", X86, None)
    assert err.field == FIELD_DEVICE
    assert "TargetDevice and TargetPlatform exclude each other" in str(err)


def test_one_of_device_or_platform_is_required():
    err = refused(None, None, None)
    assert err.field == FIELD_DEVICE
    assert "Value null at 'configuration.greengrass.targetDevice'" in str(err)
    assert "Specify one of TargetDevice or TargetPlatform" in str(err)


def test_no_compiler_options_with_target_device():
    err = refused("jetson_xavier", None, '{"mcpu": "carmel"}')
    assert err.field == FIELD_OPTIONS
    assert "CompilerOptions cannot be specified with TargetDevice" in str(err)


@pytest.mark.parametrize("missing", ["gpu-code", "trt-ver", "cuda-ver"])
def test_nvidia_requires_gpu_code_trt_ver_cuda_ver(missing):
    options = json.loads(GPU_OPTIONS)
    del options[missing]
    err = refused(None, ARM_GPU, json.dumps(options))
    assert err.field == FIELD_OPTIONS
    assert "gpu-code, trt-ver and cuda-ver are required; missing: %s" % missing in str(err)


def test_nvidia_without_any_options_names_all_three():
    err = refused(None, ARM_GPU, None)
    assert "Value null at 'configuration.greengrass.compilerOptions'" in str(err)
    assert "missing: gpu-code, trt-ver, cuda-ver" in str(err)


def test_options_shorter_than_3_characters():
    err = refused(None, X86, "{}")
    assert err.field == FIELD_OPTIONS
    assert "Member must have length greater than or equal to 3" in str(err)


def test_options_longer_than_1024_characters():
    options = json.dumps({"mcpu": "core-avx2", "mattr": ["+avx2"] * 200})
    assert len(options) > 1024
    err = refused(None, X86, options)
    assert "Member must have length less than or equal to 1024" in str(err)


def test_options_of_exactly_3_and_1024_characters_pass_the_length_rule():
    assert validate_target(None, X86, '{ }').options.mcpu == "core-avx2"
    padded = '{"mcpu": "core-avx2"' + " " * (1024 - 21) + "}"
    assert len(padded) == 1024
    assert validate_target(None, X86, padded).options.mcpu == "core-avx2"


@pytest.mark.parametrize("text,expected", [("not json", "Member must be a JSON object: Expecting value"),
                                           ('["mcpu"]', "Member must be a JSON object, got list")])
def test_options_must_be_a_json_object(text, expected):
    err = refused(None, X86, text)
    assert err.field == FIELD_OPTIONS and expected in str(err)


def test_unknown_key_is_refused_with_the_known_keys():
    err = refused(None, X86, '{"mcpu": "core-avx2", "opt-level": 3}')
    assert err.field == FIELD_OPTIONS
    assert "unknown compiler option 'opt-level'; known options: %s" % ", ".join(KNOWN_KEYS) in str(err)
    for key in ("mcpu", "mattr", "gpu-code", "trt-ver", "cuda-ver", "precision"):
        assert key in KNOWN_KEYS


def test_jetson_xavier_means_arm64_nvidia_sm72_jetpack51():
    target = validate_target("jetson_xavier", None, None)
    assert target.kind == TargetKind.NVIDIA
    assert (target.arch.value, target.accelerator.value) == ("ARM64", "NVIDIA")
    opts = target.options
    assert (opts.gpu_code, opts.trt_ver, opts.cuda_ver, opts.precision) == ("sm_72", "8.5.2", "11.4", "fp16")
    assert target.lookout_configuration() == {"TargetDevice": "jetson_xavier"}


def test_platform_enums_name_their_fields_and_are_all_reported():
    err = refused(None, {"Os": "WINDOWS", "Arch": "arm64", "Accelerator": "AMD"}, None)
    assert str(err).startswith("3 validation errors detected: ")
    fields = [v.field for v in err.violations]
    assert fields == [FIELD_PLATFORM + ".os", FIELD_PLATFORM + ".arch", FIELD_PLATFORM + ".accelerator"]
    assert "Value 'arm64' at 'configuration.greengrass.targetPlatform.arch' failed to satisfy constraint: " \
           "Member must satisfy enum value set: [ARM64, X86_64]" in str(err)


def test_platform_arch_is_required_and_unknown_members_refused():
    err = refused(None, {"Os": "LINUX", "Cpu": "x"}, None)
    texts = [v.text() for v in err.violations]
    assert any("'Cpu' at 'configuration.greengrass.targetPlatform'" in t and "Unknown member" in t for t in texts)
    assert any("targetPlatform.arch' failed to satisfy constraint: Member must not be null" in t for t in texts)


def test_cpu_option_on_a_gpu_target_and_gpu_option_on_a_cpu_target():
    err = refused(None, ARM_GPU, GPU_OPTIONS[:-1] + ', "mcpu": "carmel"}')
    assert "compiler option 'mcpu' applies to CPU targets only" in str(err)
    err = refused(None, X86, '{"trt-ver": "8.5.2"}')
    assert "compiler option 'trt-ver' applies to NVIDIA" in str(err)


def test_mcpu_of_the_other_architecture_and_unknown_mcpu():
    assert "mcpu 'cortex-a72' is an ARM64 CPU, but the target architecture is X86_64" in str(
        refused(None, X86, '{"mcpu": "cortex-a72"}'))
    err = refused(None, X86, '{"mcpu": "pentium5"}')
    assert "mcpu 'pentium5' is not a known X86_64 CPU; known: " in str(err) and "cascadelake" in str(err)


def test_mattr_must_be_signed_and_known():
    assert "mattr entries look like '+feature'" in str(refused(None, X86, '{"mattr": ["avx2"]}'))
    assert "mattr '+avx2' is an X86_64 feature" in str(
        refused(None, {"Os": "LINUX", "Arch": "ARM64"}, '{"mattr": ["+avx2"]}'))
    assert "names no X86_64 feature" in str(refused(None, X86, '{"mattr": ["+warp-drive"]}'))


def test_trt_ver_outside_the_supported_range_and_bad_gpu_code():
    err = refused(None, ARM_GPU, GPU_OPTIONS.replace("8.5.2", "7.1.3"))
    assert "trt-ver '7.1.3' is not supported: engines are built with TensorRT 8.5 to 10.x" in str(err)
    err = refused(None, ARM_GPU, GPU_OPTIONS.replace("sm_72", "volta"))
    assert "gpu-code must look like sm_72" in str(err)


def test_precision_and_batch_options():
    err = refused(None, X86, '{"precision": "fp16"}')
    assert "precision for a cpu target must be one of fp32, bf16, int8, got 'fp16'" in str(err)
    err = refused(None, X86, '{"max-batch-size": 4, "opt-batch-size": 8}')
    assert "opt-batch-size 8 exceeds max-batch-size 4" in str(err)
    err = refused(None, X86, '{"max-batch-size": 0}')
    assert "max-batch-size must be an integer in 1..64, got 0" in str(err)


def test_documented_option_sets_are_accepted():
    assert validate_target(None, X86, '{"mcpu": "core-avx2"}').options.mcpu == "core-avx2"
    arm = validate_target(None, {"Os": "LINUX", "Arch": "ARM64"}, '{"mattr": ["+neon", "+vfpv4"]}')
    assert {"asimd", "fp"} <= arm.cpu.features
    t4 = validate_target(None, {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"},
                         '{"gpu-code": "sm_75", "trt-ver": "8.6.1", "cuda-ver": "12.0", "precision": "int8"}')
    assert (t4.options.gpu_code, t4.options.precision, t4.options.workspace_mb) == ("sm_75", "int8", 1024)


def test_target_round_trips_through_its_dict():
    target = validate_target(None, X86, '{"mcpu": "skylake-avx512", "mattr": ["+avx512vnni"], "precision": "int8"}')
    again = CompileTarget.from_dict(json.loads(json.dumps(target.to_dict())))
    assert again == target
    assert again.lookout_configuration()["CompilerOptions"] == target.compiler_options


def test_cli_shorthand_for_target_platform():
    assert parse_target_platform("Os=LINUX,Arch=ARM64,Accelerator=NVIDIA") == ARM_GPU
    assert parse_target_platform('{"Os": "LINUX", "Arch": "X86_64"}') == X86
    with pytest.raises(TargetValidationError) as info:
        parse_target_platform("LINUX/ARM64")
    assert info.value.field == FIELD_PLATFORM


def test_calibration_method_is_for_cpu_int8_only():
    target = validate_target(None, X86, '{"precision": "int8", "calibration-method": "percentile"}')
    assert target.options.calibration_method == "percentile"
    assert validate_target(None, X86, '{"precision": "int8"}').options.calibration_method == "minmax"
    assert "calibration-method applies to precision int8 only" in str(
        refused(None, X86, '{"calibration-method": "percentile"}'))
    assert "calibration-method must be minmax or percentile" in str(
        refused(None, X86, '{"precision": "int8", "calibration-method": "entropy"}'))
