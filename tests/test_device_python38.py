"""Everything that runs on a Jetson (JetPack 5: Python 3.8) must stay Python 3.8 compatible.

Two checks: vermin's static analysis of syntax and standard-library API, and, when a real Python 3.8
environment exists (scripts/setup.sh makes `.venv38` with the device extras), importing every device
module under that interpreter with the grpcio/protobuf/onnxruntime releases Python 3.8 gets.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Device-side code: the agent, the runtime, the model package reader, the client, the engine build.
DEVICE_GLOBS = [
    "edge_runtime/__init__.py",
    "edge_runtime/__main__.py",
    "edge_runtime/errors.py",
    "edge_runtime/shm.py",
    "edge_runtime/staging.py",
    "edge_runtime/modelpkg/*.py",
    "edge_runtime/runtime/**/*.py",
    "edge_runtime/agent/**/*.py",
    "edge_runtime/client/**/*.py",
    "edge_runtime/bench/**/*.py",
    "edge_runtime/cli/main.py",
    "edge_runtime/cli/agent.py",
    "edge_runtime/cli/bench.py",
    "edge_runtime/cli/detect.py",
    "edge_runtime/cli/models.py",
    "edge_runtime/compiler/build_loader.py",
    "edge_runtime/compiler/calibration.py",
    "edge_runtime/compiler/cpu_features.py",
    "edge_runtime/compiler/cpu_models.py",
    "edge_runtime/compiler/gpu_probe.py",
    "edge_runtime/compiler/options.py",
    "edge_runtime/compiler/targets.py",
    "edge_runtime/compiler/trt_build.py",
    "edge_runtime/compiler/trt_calibrator.py",
    "edge_runtime/compiler/trt_network.py",
    "edge_runtime/compiler/versions.py",
]
VENV38 = os.path.join(ROOT, ".venv38", "bin", "python")
VERMIN = os.path.join(os.path.dirname(sys.executable), "vermin")


def device_files() -> list:
    files = []
    for pattern in DEVICE_GLOBS:
        files.extend(glob.glob(os.path.join(ROOT, pattern), recursive=True))
    return sorted(set(f for f in files if os.path.isfile(f)))


def test_device_modules_need_at_most_python_3_8():
    files = device_files()
    assert len(files) > 5, "device module list is empty: the globs are wrong"
    result = subprocess.run(
        [VERMIN, "-t=3.8-", "--no-tips", "--violations",
         "--eval-annotations", *files],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, "modules need a newer Python than 3.8:\n" + result.stdout + result.stderr


def test_vermin_catches_newer_syntax(tmp_path):
    """The check above could fail: a 3.10 match statement is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x):\n    match x:\n        case 1:\n            return 2\n")
    result = subprocess.run([VERMIN, "-t=3.8-", "--violations", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "pattern matching" in result.stdout.lower() or "match" in result.stdout, result.stdout


@pytest.mark.py38
@pytest.mark.skipif(not os.path.exists(VENV38), reason="no .venv38: scripts/setup.sh makes it where Python 3.8 exists")
def test_device_modules_import_under_real_python_3_8():
    modules = []
    for path in device_files():
        rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
        if rel.endswith(".__init__"):
            rel = rel[: -len(".__init__")]
        if not rel.endswith("__main__"):  # importing it would run the CLI
            modules.append(rel)
    code = "import importlib, sys\nassert sys.version_info[:2] == (3, 8), sys.version\n"
    code += "".join("importlib.import_module(%r)\n" % m for m in modules)
    result = subprocess.run([VENV38, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-4000:]
