"""The real agent serving a compiled X86_64 build: DescribeModel and the metrics name the engine that
serves it (OpenVINO where installed, else ONNX Runtime with the reason), and the answers equal the
ONNX model's. Skips where the build cannot be made here (no compile extras, not x86-64)."""

from __future__ import annotations

import pytest

from edge_runtime.runtime.build.cpu_features import detect_host_cpu
from edge_runtime.runtime.build.cpu_models import X86_64
from edge_runtime.runtime.openvino_engine import openvino_version
from tests.agent.conftest import half_red_frame

pytestmark = pytest.mark.skipif(detect_host_cpu().arch != X86_64, reason="the build targets X86_64")


@pytest.fixture(scope="module")
def compiled_classify(tiny_packages, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from edge_runtime.compiler.compile import compile_package
    from edge_runtime.compiler.targets import validate_target

    out = str(tmp_path_factory.mktemp("compiled") / "classify")
    target = validate_target(None, {"Os": "LINUX", "Arch": "X86_64"}, None)
    compile_package(tiny_packages["classify"], target, out, progress=lambda _: None)
    return out


def detect(agent, pb2, name):
    image = half_red_frame(128, 96)
    request = pb2.DetectAnomaliesRequest(model_component=name,
                                         bitmap=pb2.Bitmap(width=128, height=96, byte_data=image.tobytes()))
    return agent.stub.DetectAnomalies(request).detect_anomaly_result


# Starting loads ONNX Runtime and compiles for OpenVINO in this process, then warms both up at batch 1 and
# 8: a few seconds here, but minutes when other jobs hold the CPUs, so the start gets more than the
# fixture's default 30 s. Nothing below depends on timing: every check is about what was chosen.
START_TIMEOUT_S = 180.0


def expected_status(cpu_engine, version):
    """(the backend, the start of DescribeModel's status message) for the compiled build."""
    if cpu_engine == "onnxruntime":
        return "onnxruntime-cpu", "RUNNING on onnxruntime-cpu (OpenVINO not used: models.cpu_engine is onnxruntime)"
    if version is not None:  # auto serves the engine that measured faster at load: either may win here
        return None, None
    return "onnxruntime-cpu", "RUNNING on onnxruntime-cpu (OpenVINO not used: the build has no OpenVINO model"


@pytest.mark.parametrize("cpu_engine", ["auto", "onnxruntime"])
def test_describe_model_and_metrics_name_the_engine(start_agent, lookout_client, tiny_packages, compiled_classify,
                                                    cpu_engine):
    pb2, _ = lookout_client
    agent = start_agent(packages={"plain": tiny_packages["classify"], "built": compiled_classify},
                        models={"cpu_engine": cpu_engine})
    plain = agent.start_and_wait(pb2, "plain", START_TIMEOUT_S)
    built = agent.start_and_wait(pb2, "built", START_TIMEOUT_S)
    version = openvino_version()
    backend, status = expected_status(cpu_engine, version)
    context = "models.cpu_engine=%s, openvino %s installed" % (cpu_engine, version or "not")
    if status is None:
        backend = agent.metrics()[1]["models"]["built"]["backend"]
        status = ("RUNNING on openvino-cpu (openvino %s, f32, latency hint" % version if backend == "openvino-cpu"
                  else "RUNNING on onnxruntime-cpu (onnxruntime: measured ")
        assert "ms/image" in built.status_message and "at batch 8" in built.status_message, built.status_message
    assert built.status_message.startswith(status), "compiled build (%s): expected %r..., got %r" % (
        context, status, built.status_message)
    if cpu_engine == "onnxruntime":
        assert built.status_message == status, "nothing may follow the reason: %r" % built.status_message
    else:
        assert plain.status_message == "RUNNING on onnxruntime-cpu", "plain package (%s): %r" % (
            context, plain.status_message)
    _, data = agent.metrics()
    shown = data["models"]["built"]
    assert shown["backend"] == backend, "metrics of the compiled build (%s): %r" % (context, shown)
    assert shown["backend_note"] and shown["backend_note"] in built.status_message, (
        "the metrics' backend_note %r is not the reason DescribeModel gives: %r" % (shown["backend_note"],
                                                                                  built.status_message))
    a, b = detect(agent, pb2, "plain"), detect(agent, pb2, "built")
    assert a.is_anomalous == b.is_anomalous, "verdicts differ: plain %s (score %.6f), built on %s %s (score %.6f)" % (
        a.is_anomalous, a.anomaly_score, backend, b.is_anomalous, b.anomaly_score)
    assert abs(a.anomaly_score - b.anomaly_score) <= 1e-4, (
        "scores differ by more than 1e-4: plain package on ONNX Runtime %.7f, compiled build on %s %.7f"
        % (a.anomaly_score, backend, b.anomaly_score))


@pytest.mark.parametrize("openvino_ms,served", [(2.0, "openvino-cpu"), (9.0, "onnxruntime-cpu")])
def test_auto_serves_the_engine_that_measured_faster(compiled_classify, monkeypatch, openvino_ms, served):
    """The real build on both real engines; only the timer is fixed (cpu_engines.time_engine, the seam) so
    the choice is known: OpenVINO at `openvino_ms` ms/image against ONNX Runtime at 5 ms/image."""
    if openvino_version() is None:
        pytest.skip("openvino is not installed: auto has nothing to measure against (pip install openvino)")
    from edge_runtime.runtime import cpu_engines
    from edge_runtime.runtime.factory import PredictorOptions, create_predictor
    from edge_runtime.runtime.loader import load_package

    timed = []

    def timer(engine, batch):
        timed.append((engine.backend, len(batch)))
        figure = openvino_ms if engine.backend.startswith("openvino") else 5.0
        return figure + (0.5 if len(batch) == 1 else 0.0)

    monkeypatch.setattr(cpu_engines, "time_engine", timer)
    predictor = create_predictor(load_package(compiled_classify), PredictorOptions(max_batch_size=8))
    assert sorted(timed) == [("onnxruntime-cpu", 1), ("onnxruntime-cpu", 8), ("openvino-cpu", 1),
                             ("openvino-cpu", 8)], timed
    predictor.load()
    assert predictor.backend == served, predictor.backend_note
    ort_text = "%.2f ms/image" % 5.0
    ov_text = "%.2f ms/image" % openvino_ms
    if served == "openvino-cpu":
        assert predictor.backend_note.startswith("openvino %s, f32" % openvino_version()), predictor.backend_note
        assert ("measured %s vs onnxruntime %s at batch 8" % (ov_text, ort_text)) in predictor.backend_note
        assert predictor.backend_note.endswith("onnxruntime is the fallback"), predictor.backend_note
    else:
        assert predictor.backend_note == (
            "onnxruntime: measured %s vs openvino %s at batch 8 (batch 1: 5.50 vs %.2f); openvino %s is the "
            "fallback" % (ort_text, ov_text, openvino_ms + 0.5, openvino_version())), predictor.backend_note
    assert predictor.backend_reason == predictor.backend_note
    frame = half_red_frame(128, 96)
    assert len(predictor.predict([frame] * 3)) == 3
    predictor.close()


def test_measured_choice_real_timings(compiled_classify):
    """Both engines really timed on the build (no seam): the note carries the figures at batch 4."""
    if openvino_version() is None:
        pytest.skip("openvino is not installed (pip install openvino)")
    from edge_runtime.runtime import cpu_engines
    from edge_runtime.runtime.factory import PredictorOptions, create_predictor
    from edge_runtime.runtime.loader import load_package

    predictor = create_predictor(load_package(compiled_classify), PredictorOptions(max_batch_size=4))
    note = predictor.backend_note
    assert "ms/image" in note and "at batch 4" in note, note
    assert isinstance(predictor.engines[0], (cpu_engines.OpenVinoEngine, cpu_engines.OrtEngine))
    predictor.close()


class _FakeEngine:
    """Stands in for an engine in the choice arithmetic alone (no model runs here)."""

    def __init__(self, backend):
        self.backend = backend
        self.loaded = False

    def load(self):
        self.loaded = True


def test_measured_choice_without_openvino():
    from types import SimpleNamespace

    from edge_runtime.runtime.cpu_engines import measured_choice

    package = SimpleNamespace(manifest=SimpleNamespace(input=SimpleNamespace(height=6, width=5)))
    ov, ort = _FakeEngine("openvino-cpu"), _FakeEngine("onnxruntime-cpu")
    shapes = []

    def timer(engine, batch):
        shapes.append((engine.backend, batch.shape))
        return {"openvino-cpu": 3.0, "onnxruntime-cpu": 4.0}[engine.backend] / len(batch)

    choice = measured_choice(package, [ov], [ort], 8, timer=timer)
    assert ov.loaded and ort.loaded
    assert (("openvino-cpu", (8, 3, 6, 5)) in shapes) and (("onnxruntime-cpu", (1, 3, 6, 5)) in shapes), shapes
    assert choice.openvino_wins
    assert choice.describe("openvino", "onnxruntime") == (
        "measured 0.38 ms/image vs onnxruntime 0.50 ms/image at batch 8 (batch 1: 3.00 vs 4.00)")
    slower = measured_choice(package, [ov], [ort], 1, timer=lambda e, b: 9.0 if e is ov else 1.0)
    assert not slower.openvino_wins
    assert slower.describe("onnxruntime", "openvino") == "measured 1.00 ms/image vs openvino 9.00 ms/image at batch 1"


def test_choice_cache_round_trip_corrupt_and_unwritable(tmp_path):
    """The cache file alone: a stored choice comes back marked cached; a corrupt file, a foreign key or an
    unwritable place give None / a log line, never an error."""
    from edge_runtime.runtime.cpu_engines import MeasuredChoice, cached_choice, store_choice

    path = str(tmp_path / "choice.json")
    assert cached_choice(path, "k") is None  # miss: no file
    store_choice(path, "k", MeasuredChoice(8, [3.0, 2.0], [4.0, 2.5]))
    hit = cached_choice(path, "k")
    assert hit is not None and hit.cached and hit.openvino_wins
    assert hit.describe("openvino", "onnxruntime").endswith("(batch 1: 3.00 vs 4.00), cached from an earlier load")
    assert cached_choice(path, "other") is None  # miss: another key
    (tmp_path / "choice.json").write_text("{not json")
    assert cached_choice(path, "k") is None  # corrupt
    store_choice(path, "k", MeasuredChoice(1, [9.0], [1.0]))  # rewrites the corrupt file
    again = cached_choice(path, "k")
    assert again is not None and not again.openvino_wins
    store_choice(str(tmp_path / "missing-dir" / "c.json"), "k", again)  # unwritable: logged, no raise


def test_auto_caches_the_measured_choice(compiled_classify, monkeypatch, tmp_path):
    """The real build on both engines (seam: cpu_engines.time_engine): the first load measures and stores,
    the second reads the cache and measures nothing; a corrupt cache is measured again."""
    if openvino_version() is None:
        pytest.skip("openvino is not installed: auto has nothing to measure against (pip install openvino)")
    from edge_runtime.runtime import cpu_engines
    from edge_runtime.runtime.factory import PredictorOptions, create_predictor
    from edge_runtime.runtime.loader import load_package

    timed = []

    def timer(engine, batch):
        timed.append(engine.backend)
        return 9.0 if engine.backend.startswith("openvino") else 5.0

    monkeypatch.setattr(cpu_engines, "time_engine", timer)
    cache = str(tmp_path / "choice.json")
    options = PredictorOptions(max_batch_size=8, choice_cache=cache)
    first = create_predictor(load_package(compiled_classify), options)
    assert len(timed) == 4 and first.backend_note.startswith("onnxruntime: measured 5.00"), first.backend_note
    first.close()
    second = create_predictor(load_package(compiled_classify), options)
    assert len(timed) == 4, timed  # nothing measured again
    assert "cached from an earlier load" in second.backend_note, second.backend_note
    second.load()
    assert second.backend == "onnxruntime-cpu"
    second.close()
    (tmp_path / "choice.json").write_text("[]")
    third = create_predictor(load_package(compiled_classify), options)
    assert len(timed) == 8 and "cached" not in third.backend_note, third.backend_note
    third.close()
