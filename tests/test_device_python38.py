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

from tests.layout import DEVICE_FOLDERS, ROOT, device_files

# Device-side code is whole folders (tests/layout.py): the agent, the runtime with its build and gpu
# parts, the model package format, the client, the benchmark runner, and the shared top-level modules.
VENV38 = os.path.join(ROOT, ".venv38", "bin", "python")
VERMIN = os.path.join(os.path.dirname(sys.executable), "vermin")


# Test doubles that scripts/gpu_check.py imports from the checkout on the device (the NumPy CUDA
# emulation and kernel twin): not part of the package, but they run on the Jetson's Python too.
GPU_CHECK_HELPERS = ["tests/gpu/emulated_cuda.py", "tests/gpu/emulated_kernels.py", "tests/gpu/kernel_reference.py"]


def cli_files() -> list:
    """`edge-runtime` imports every subcommand module at start, so on the device they must run too."""
    return sorted(glob.glob(os.path.join(ROOT, "edge_runtime", "cli", "*.py")))


def test_device_modules_need_at_most_python_3_8():
    files = device_files()
    assert {os.path.relpath(f, ROOT).split(os.sep)[1] for f in files} >= set(DEVICE_FOLDERS)
    files += cli_files() + [os.path.join(ROOT, "edge_runtime", "__main__.py")]
    files += [os.path.join(ROOT, f) for f in GPU_CHECK_HELPERS]
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
    for path in device_files() + cli_files():
        rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
        if rel.endswith(".__init__"):
            rel = rel[: -len(".__init__")]
        if not rel.endswith("__main__"):  # importing it would run the CLI
            modules.append(rel)
    code = "import importlib, sys\nassert sys.version_info[:2] == (3, 8), sys.version\n"
    code += "".join("importlib.import_module(%r)\n" % m for m in modules)
    result = subprocess.run([VENV38, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-4000:]
