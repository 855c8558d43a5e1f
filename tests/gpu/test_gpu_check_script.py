"""scripts/gpu_check.py: its CPU dry run here (emulated CUDA), the real run where a GPU exists."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from edge_runtime.runtime.gpu.cuda_api import probe_device

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", os.path.join(ROOT, "scripts", "gpu_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(out):
    with open(os.path.join(str(out), "gpu_check.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_cpu_dry_run_exercises_every_step(tmp_path):
    status = _script().main(["--cpu-dry-run", "--quick", "--out", str(tmp_path), "--frame-size", "96x64"])
    data = _results(tmp_path)
    failed = [s for s in data["steps"] if not s["ok"]]
    assert status == 0 and data["passed"] and not failed, failed
    names = [s["name"] for s in data["steps"]]
    assert names[0].startswith("NVRTC compile") and data["environment"]["dry_run"] is True
    assert sum(n.startswith("preprocess ") for n in names) == 4
    assert sum(n.startswith("segmentation") for n in names) == 2
    zero = [s for s in data["steps"] if s["name"].startswith("predictor path (dma)")][0]
    assert zero["shm_copies_per_frame"] == [0, 0, 0, 0] and zero["inline_copies_per_frame"] == [1, 1, 1, 1]
    throughput = [s for s in data["steps"] if s["name"].startswith("throughput")]
    assert len(throughput) == 2 and all(s["gpu_mapped_frames_per_s"] > 0 for s in throughput)
    with open(os.path.join(str(tmp_path), "gpu_check.md"), encoding="utf-8") as fh:
        assert "Result: **PASS**" in fh.read()


def test_a_failing_step_fails_the_run(tmp_path, monkeypatch):
    script = _script()
    monkeypatch.setattr(script, "check_segmentation", lambda ctx, report: 1 / 0)
    status = script.main(["--cpu-dry-run", "--quick", "--out", str(tmp_path), "--frame-size", "64x48"])
    data = _results(tmp_path)
    assert status == 1 and not data["passed"]
    assert [s["error"] for s in data["steps"] if not s["ok"]] == ["ZeroDivisionError: division by zero"]


@pytest.mark.gpu
@pytest.mark.skipif(not probe_device()[0], reason="no CUDA device: %s" % probe_device()[1])
def test_real_gpu_run(tmp_path):
    status = _script().main(["--quick", "--seconds", "0.2", "--out", str(tmp_path)])
    data = _results(tmp_path)
    assert status == 0, [s for s in data["steps"] if not s["ok"]]


def test_preprocess_benchmark_dry_run(capsys):
    import sys

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import preprocess_gpu
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    assert preprocess_gpu.main(["--cpu-dry-run", "--sizes", "64x48", "--batch", "2", "--seconds", "0"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:2] == ["frame", "interp"] and [line.split()[1] for line in lines[1:]] == ["area", "linear"]
