"""CPU builds for OpenVINO with the real `openvino` package: the IR is measured against the ONNX, f32
matches within 1e-4 on the package's own images, the runtime picks OpenVINO (or ONNX Runtime, with
the reason), bf16 only on request, for targets with bf16 instructions, refused on CPUs without them.

Tests that need OpenVINO skip with that reason where it is not installed (.venv38 has no openvino);
the fallback tests run everywhere."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from edge_runtime.compiler.accuracy import run_model
from edge_runtime.compiler.compile import CompileSettings, compile_package
from edge_runtime.compiler.targets import validate_target
from edge_runtime.errors import CompileError, FailedPrecondition, UnsupportedHardware
from edge_runtime.modelpkg.manifest import read_manifest
from edge_runtime.runtime import openvino_engine
from edge_runtime.runtime.build.cpu_features import HostCpu, detect_host_cpu
from edge_runtime.runtime.build.cpu_models import X86_64
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.loader import load_package, resolve_build
from edge_runtime.runtime.openvino_engine import openvino_settings, openvino_version
from tests.compiler.builders import calibration_images

X86 = {"Os": "LINUX", "Arch": "X86_64"}
HOST = detect_host_cpu()
OPENVINO = openvino_version()
needs_openvino = pytest.mark.skipif(OPENVINO is None, reason="openvino is not installed in this environment")
x86_only = pytest.mark.skipif(HOST.arch != X86_64, reason="these builds target X86_64; this machine is %s" % HOST.arch)
HAS_BF16 = bool(HOST.features & {"avx512_bf16", "amx_bf16"})


def compile_x86(package: str, out: str, options: str = None) -> dict:
    target = validate_target(None, X86, options)
    return compile_package(package, target, out, CompileSettings(), progress=lambda _: None).build.to_json()


def served_scores(folder: str, options: PredictorOptions = PredictorOptions()):
    predictor = create_predictor(load_package(folder), options)
    note = predictor.backend_note
    predictor.load()
    try:
        images = calibration_images()
        scores = np.array([p.score for i in range(0, len(images), 8) for p in predictor.predict(list(images[i:i + 8]))])
        return predictor.backend, note, scores
    finally:
        predictor.close()


def onnx_scores(package: str) -> np.ndarray:
    return run_model(os.path.join(package, "model.onnx"), calibration_images(), read_manifest(package),
                     reference=True)["score"]


@x86_only
@needs_openvino
def test_f32_build_runs_on_openvino_and_equals_the_onnx(tiny_package, tmp_path):
    build = compile_x86(tiny_package, str(tmp_path / "out"))
    record = build["openvino"]
    assert record["status"] == "built" and record["precision"] == "f32"
    assert record["accuracy"]["precision_used"] == "f32"
    assert record["accuracy"]["score_max_abs_diff"] <= 1e-4 and record["accuracy"]["label_agreement"] == 1.0
    assert {"model.openvino.xml", "model.openvino.bin"} <= {a["file"] for a in build["artifacts"]}
    assert build["serving"]["engine"] == "openvino"
    # models.cpu_engine openvino: auto would serve whichever engine measures faster (test_cpu_engine.py)
    backend, note, scores = served_scores(str(tmp_path / "out"), PredictorOptions(cpu_engine="openvino"))
    assert backend == "openvino-cpu"
    assert note.startswith("openvino %s, f32, latency hint, 1 stream" % OPENVINO), note
    np.testing.assert_allclose(scores, onnx_scores(tiny_package), atol=1e-4, rtol=0)


@x86_only
@needs_openvino
def test_two_instances_share_one_compiled_model_as_two_throughput_streams(tiny_package, tmp_path):
    compile_x86(tiny_package, str(tmp_path / "out"))
    backend, note, scores = served_scores(str(tmp_path / "out"), PredictorOptions(instances=2, cpu_engine="openvino"))
    assert backend == "openvino-cpu" and "throughput hint, 2 streams" in note, note
    np.testing.assert_allclose(scores, onnx_scores(tiny_package), atol=1e-4, rtol=0)


@x86_only
def test_without_openvino_the_build_falls_back_to_onnxruntime_and_says_why(tiny_package, tmp_path, monkeypatch):
    compile_x86(tiny_package, str(tmp_path / "out"))
    monkeypatch.setattr("edge_runtime.runtime.cpu_engines.openvino_version", lambda: None)
    backend, note, scores = served_scores(str(tmp_path / "out"))
    assert backend == "onnxruntime-cpu"
    if OPENVINO is None:  # the build itself has no OpenVINO model: the compile host lacked openvino
        assert note == "OpenVINO not used: the build has no OpenVINO model (openvino is not installed on the " \
                       "build host (pip install 'edge-runtime[openvino]'))", note
    else:
        assert note == "OpenVINO not used: openvino is not installed (pip install 'edge-runtime[openvino]')", note
    np.testing.assert_allclose(scores, onnx_scores(tiny_package), atol=1e-4, rtol=0)


@x86_only
def test_cpu_engine_setting_forces_onnxruntime_or_requires_openvino(tiny_package, tmp_path, monkeypatch):
    compile_x86(tiny_package, str(tmp_path / "out"))
    backend, note, _ = served_scores(str(tmp_path / "out"), PredictorOptions(cpu_engine="onnxruntime"))
    assert backend == "onnxruntime-cpu" and note == "OpenVINO not used: models.cpu_engine is onnxruntime"
    monkeypatch.setattr("edge_runtime.runtime.cpu_engines.openvino_version", lambda: None)
    with pytest.raises(FailedPrecondition, match="cpu_engine is openvino, but"):
        create_predictor(load_package(str(tmp_path / "out")), PredictorOptions(cpu_engine="openvino"))


def test_plain_package_stays_on_onnxruntime(tiny_package):
    predictor = create_predictor(load_package(tiny_package), PredictorOptions())
    note = predictor.backend_note
    assert predictor.backend == "onnxruntime-cpu" and note == "onnxruntime"


@x86_only
@needs_openvino
def test_an_ir_that_openvino_cannot_compile_falls_back_with_the_error(tiny_package, tmp_path, monkeypatch):
    compile_x86(tiny_package, str(tmp_path / "out"))

    def broken(self):
        raise RuntimeError("no CPU plugin")

    monkeypatch.setattr(openvino_engine.OpenVinoModel, "_compile", broken)
    predictor = create_predictor(load_package(str(tmp_path / "out")), PredictorOptions())
    note = predictor.backend_note
    assert predictor.backend == "onnxruntime-cpu"
    assert note == "OpenVINO not used: OpenVINO %s failed to compile the model: no CPU plugin" % OPENVINO


@x86_only
def test_bf16_needs_a_target_with_bf16_instructions(tiny_package, tmp_path):
    with pytest.raises(CompileError, match="precision bf16 needs a target CPU with avx512_bf16 or amx_bf16, but "
                                           "mcpu core-avx2 has none"):
        compile_x86(tiny_package, str(tmp_path / "out"), '{"precision": "bf16"}')
    assert not os.path.exists(str(tmp_path / "out"))


@x86_only
@needs_openvino
@pytest.mark.skipif(not HAS_BF16, reason="this CPU has no bf16 instructions to measure bf16 on")
def test_bf16_build_records_its_measured_change_and_is_refused_without_bf16(tiny_package, tmp_path):
    out = str(tmp_path / "out")
    build = compile_x86(tiny_package, out, '{"precision": "bf16", "mcpu": "cooperlake"}')
    assert build["precision"] == "bf16" and build["openvino"]["precision"] == "bf16"
    accuracy = build["accuracy"]
    assert accuracy["measured"] and accuracy["precision_used"] == "bf16"
    assert 0 < accuracy["score_mae"] < 0.05, accuracy  # bf16 moves the scores, a little
    assert "avx512_bf16" in build["features"]["required"]
    with open(os.path.join(out, "edge-build.json")) as fh:
        assert json.load(fh)["accuracy"] == accuracy
    backend, note, _ = served_scores(out, PredictorOptions(cpu_engine="openvino"))
    assert backend == "openvino-cpu" and note.startswith("openvino %s, bf16" % OPENVINO)
    no_bf16 = HostCpu(arch=X86_64, features=HOST.features - {"avx512_bf16", "amx_bf16"})
    with pytest.raises(UnsupportedHardware, match="lacks: avx512_bf16"):
        resolve_build(out, read_manifest(out), host=no_bf16)


def test_openvino_settings_follow_instances_threads_and_cpus():
    one = openvino_settings("f32", instances=1, threads_per_instance=0, cpus=4, max_batch_size=8)
    assert one.to_config() == {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
                               "NUM_STREAMS": "1", "INFERENCE_NUM_THREADS": "4", "ENABLE_CPU_PINNING": "NO"}
    assert one.describe() == "f32, latency hint, 1 stream, 4 threads unpinned"
    assert openvino_settings("f32", 1, 1, 4, 8).describe() == "f32, latency hint, 1 stream, 1 thread unpinned"
    two = openvino_settings("bf16", instances=2, threads_per_instance=3, cpus=4, max_batch_size=8)
    assert two.to_config() == {"INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "THROUGHPUT",
                               "NUM_STREAMS": "2", "INFERENCE_NUM_THREADS": "6", "ENABLE_CPU_PINNING": "NO"}
    with pytest.raises(ValueError, match="f32 or bf16"):
        openvino_settings("f16", 1, 0, 4, 8)
