"""CPU builds of the tiny package with real ONNX Runtime: several mcpu/mattr sets, FP32 and INT8,
loading through the one loader, and refusals (missing CPU features, wrong architecture, tampering)."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge_runtime.cli.main import main
from edge_runtime.compiler.compile import CompileSettings, compile_package
from edge_runtime.compiler.targets import validate_target
from edge_runtime.errors import AlreadyExists, CompileError, ModelPackageError, UnsupportedHardware
from edge_runtime.modelpkg.manifest import read_manifest
from edge_runtime.runtime.build.cpu_features import HostCpu, detect_host_cpu
from edge_runtime.runtime.build.cpu_models import KERNEL_FEATURES, X86_64
from edge_runtime.runtime.loader import load_package, resolve_build
from edge_runtime.runtime.preprocess import preprocess_batch
from tests.compiler.builders import calibration_images

X86 = {"Os": "LINUX", "Arch": "X86_64"}
HOST = detect_host_cpu()
FP32_ATOL = 1e-5  # offline graph optimisation (BN folding, Conv+ReLU fusion) may reorder float sums
x86_only = pytest.mark.skipif(HOST.arch != X86_64, reason="these builds target X86_64; this machine is %s" % HOST.arch)


def quiet(_: str) -> None:
    pass


def compile_x86(package: str, out: str, options: str = None, **settings):
    target = validate_target(None, X86, options)
    return compile_package(package, target, out, CompileSettings(**settings), progress=quiet)


def scores(model_path: str, images: np.ndarray, package: str) -> np.ndarray:
    batch = preprocess_batch(list(images), read_manifest(package).input)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    return session.run(["score"], {"image": batch})[0]


@x86_only
@pytest.mark.parametrize("options", [
    None,
    '{"mcpu": "core-avx2"}',
    '{"mcpu": "x86-64-v2", "mattr": ["+avx2", "+fma"]}',
    '{"mcpu": "skylake-avx512", "mattr": ["-avx512f"]}',
    '{"mcpu": "cascadelake", "graph-optimization": "basic"}',
])
def test_fp32_builds_load_and_match_the_source(tiny_package, tmp_path, options):
    target = validate_target(None, X86, options)
    missing = target.cpu.required - HOST.features
    if missing:
        pytest.skip("this CPU lacks %s" % sorted(missing))
    result = compile_x86(tiny_package, str(tmp_path / "out"), options)
    loaded = load_package(result.output_dir)
    assert loaded.backend == "onnxruntime" and loaded.model_path.endswith("model.cpu-fp32.onnx")
    build = loaded.build
    assert list(build.cpu.required) == sorted(target.cpu.required)
    assert build.cpu.onnxruntime["graph_optimization_level"] == target.options.graph_optimization
    images = calibration_images()
    source = scores(os.path.join(tiny_package, "model.onnx"), images, tiny_package)
    np.testing.assert_allclose(scores(loaded.model_path, images, tiny_package), source, atol=FP32_ATOL)
    assert build.accuracy["measured"] and build.accuracy["score_max_abs_diff"] < FP32_ATOL
    assert build.accuracy["label_agreement"] == 1.0


def test_build_record_lists_artifacts_with_checksums(tiny_package, tmp_path):
    result = compile_x86(tiny_package, str(tmp_path / "out"), '{"mcpu": "x86-64"}')
    with open(os.path.join(result.output_dir, "edge-build.json")) as fh:
        build = json.load(fh)
    files = {a["file"]: a for a in build["artifacts"]}
    openvino_ir = {"model.openvino.xml", "model.openvino.bin"} if build["openvino"].get("model") else set()
    assert set(files) == {"edge-model.json", "model.onnx", "calibration.npz", "model.cpu-fp32.onnx"} | openvino_ir
    assert all(len(a["sha256"]) == 64 and a["bytes"] > 0 for a in files.values())
    assert build["target"]["options"] == {"mcpu": "x86-64", "precision": "fp32", "max-batch-size": 8,
                                          "graph-optimization": "extended"}
    assert build["lookout_configuration"] == {"TargetPlatform": X86, "CompilerOptions": '{"mcpu": "x86-64"}'}
    assert build["compiler_version"].startswith("edge-runtime ") and build["created"]
    assert [n for n in os.listdir(tmp_path) if n != "out"] == []  # no temp folders left behind


@x86_only
@pytest.mark.parametrize("mcpu,reduce_range,method", [("core-avx2", True, "minmax"), ("cascadelake", False, "minmax"),
                                                      ("cascadelake", False, "percentile")])
def test_int8_builds_report_their_accuracy_change(tiny_package, tmp_path, mcpu, reduce_range, method):
    options = '{"mcpu": "%s", "precision": "int8", "calibration-method": "%s"}' % (mcpu, method)
    result = compile_x86(tiny_package, str(tmp_path / "out"), options)
    build = result.build
    quant = build.cpu.onnxruntime["quantization"]
    assert (quant["quant_format"], quant["per_channel"], quant["reduce_range"]) == ("QDQ", True, reduce_range)
    assert quant["calibrate_method"] == {"minmax": "MinMax", "percentile": "Percentile"}[method]
    accuracy = build.accuracy
    assert accuracy["measured"] and accuracy["images"] == 24
    for key in ("score_mae", "score_max_abs_diff", "label_agreement", "labels_changed"):
        assert key in accuracy
    assert 0 < accuracy["score_max_abs_diff"] < 0.05 and accuracy["label_agreement"] >= 0.75
    model = onnx.load(os.path.join(result.output_dir, "model.cpu-int8.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") >= 3
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    dequantized = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    assert gemm.input[1] not in dequantized  # the head's weights stay float
    if (build.cpu.required and set(build.cpu.required) <= HOST.features):
        loaded = load_package(result.output_dir)
        images = calibration_images()
        got = scores(loaded.model_path, images, tiny_package)
        source = scores(os.path.join(tiny_package, "model.onnx"), images, tiny_package)
        assert np.abs(got - source).max() == pytest.approx(accuracy["score_max_abs_diff"], abs=1e-4)


@x86_only
def test_build_needing_a_feature_this_cpu_lacks_is_refused_naming_it(tiny_package, tmp_path):
    absent = sorted(KERNEL_FEATURES[X86_64] - HOST.features)
    assert absent, "this CPU has every feature ONNX Runtime dispatches on"
    feature = absent[0]
    result = compile_x86(tiny_package, str(tmp_path / "out"), '{"mcpu": "core-avx2", "mattr": ["+%s"]}' % feature)
    assert feature in result.build.cpu.required
    with pytest.raises(UnsupportedHardware) as info:
        load_package(result.output_dir)
    assert "needs CPU features this machine lacks: %s" % feature in str(info.value)


def test_missing_features_are_all_named(tiny_package, tmp_path):
    result = compile_x86(tiny_package, str(tmp_path / "out"), '{"mcpu": "sapphirerapids"}')
    manifest = read_manifest(result.output_dir)
    bare = HostCpu(arch=X86_64, features=frozenset({"sse4_1", "avx", "avx2", "fma", "f16c"}))
    with pytest.raises(UnsupportedHardware) as info:
        resolve_build(result.output_dir, manifest, host=bare)
    assert "amx_int8, amx_tile" in str(info.value) and "avx512_vnni" in str(info.value)


def test_arm64_cpu_build_is_refused_on_another_architecture(tiny_package, tmp_path):
    target = validate_target(None, {"Os": "LINUX", "Arch": "ARM64"}, '{"mcpu": "neoverse-n1"}')
    result = compile_package(tiny_package, target, str(tmp_path / "out"), progress=quiet)
    assert "asimddp" in result.build.cpu.required
    manifest = read_manifest(result.output_dir)
    with pytest.raises(UnsupportedHardware, match="compiled for ARM64 CPUs; this machine is X86_64"):
        resolve_build(result.output_dir, manifest, host=HostCpu(arch=X86_64, features=HOST.features))
    arm = HostCpu(arch="ARM64", features=frozenset(["fp", "asimd", "asimddp", "fphp", "asimdhp"]))
    assert resolve_build(result.output_dir, manifest, host=arm).model_path.endswith("model.cpu-fp32.onnx")


def test_a_changed_artifact_is_refused(tiny_package, tmp_path):
    result = compile_x86(tiny_package, str(tmp_path / "out"), '{"mcpu": "x86-64"}')
    with open(os.path.join(result.output_dir, "model.cpu-fp32.onnx"), "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelPackageError, match="does not match its SHA-256"):
        resolve_build(result.output_dir, read_manifest(result.output_dir), host=HOST)


def test_int8_without_calibration_images_fails_and_leaves_nothing(package_copy, tmp_path):
    os.remove(os.path.join(package_copy, "calibration.npz"))
    with pytest.raises(CompileError, match="precision int8 needs calibration images"):
        compile_x86(package_copy, str(tmp_path / "out"), '{"precision": "int8"}')
    assert sorted(os.listdir(tmp_path)) == ["pkg"]


def test_existing_output_is_kept_unless_replacing(tiny_package, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(AlreadyExists, match="exists and is not empty"):
        compile_x86(tiny_package, str(out), '{"mcpu": "x86-64"}')
    assert (out / "keep.txt").read_text() == "mine"
    compile_x86(tiny_package, str(out), '{"mcpu": "x86-64"}', overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "edge-build.json").exists()
    with pytest.raises(CompileError, match="already a compiled package"):
        compile_x86(str(out), str(tmp_path / "again"))


def test_cli_compiles_and_reports_validation_errors(tiny_package, tmp_path, capsys):
    out = str(tmp_path / "cli")
    code = main(["compile", "--model", tiny_package, "--target-platform", "Os=LINUX,Arch=X86_64",
                 "--compiler-options", '{"mcpu": "x86-64"}', "--output", out])
    assert code == 0 and "backend:   onnxruntime (fp32)" in capsys.readouterr().out
    code = main(["compile", "--model", tiny_package, "--target-device", "jetson_xavier",
                 "--compiler-options", '{"mcpu": "carmel"}', "--output", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2
    assert "1 validation error detected: Value '{\"mcpu\": \"carmel\"}' at " \
           "'configuration.greengrass.compilerOptions'" in err
    assert not (tmp_path / "bad").exists()
