"""Compiled packages (FP32 and INT8) load and run on Jetson's Python 3.8 (JetPack 5), without onnx or torch,
with the real Python 3.8 + onnxruntime 1.19 environment when `.venv38` exists. (That the device-side
folders, runtime/build included, need at most Python 3.8 is tests/test_device_python38.py.)"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from edge_runtime.compiler.compile import compile_package
from edge_runtime.compiler.targets import validate_target

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV38 = os.path.join(ROOT, ".venv38", "bin", "python")


LOAD = """
import json, sys
import numpy as np
assert sys.version_info[:2] == (3, 8), sys.version
assert "onnx" not in sys.modules
from edge_runtime.runtime.loader import load_package
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
out = {}
for path in sys.argv[1:]:
    package = load_package(path)
    predictor = create_predictor(package, PredictorOptions(max_batch_size=2))
    predictor.load()
    out[path] = [package.backend, predictor.predict([np.full((80, 90, 3), 120, np.uint8)])[0].score]
assert "onnx" not in sys.modules and "torch" not in sys.modules
print(json.dumps(out))
"""


@pytest.mark.py38
@pytest.mark.skipif(not os.path.exists(VENV38), reason="no .venv38: scripts/setup.sh makes it where Python 3.8 exists")
def test_compiled_packages_load_and_run_under_python_3_8(tiny_package, tmp_path):
    outputs = []
    for name, options in (("fp32", '{"mcpu": "x86-64-v2"}'), ("int8", '{"mcpu": "x86-64-v2", "precision": "int8"}')):
        target = validate_target(None, {"Os": "LINUX", "Arch": "X86_64"}, options)
        outputs.append(compile_package(tiny_package, target, str(tmp_path / name), progress=lambda _: None).output_dir)
    result = subprocess.run([VENV38, "-c", LOAD, *outputs], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert [loaded[p][0] for p in outputs] == ["onnxruntime", "onnxruntime"]
    assert abs(loaded[outputs[0]][1] - loaded[outputs[1]][1]) < 0.05
