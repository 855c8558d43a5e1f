#!/usr/bin/env bash
# The Python 3.12 environment benchmarks/compare_servers.py runs NVIDIA Triton in (nvidia-pytriton 0.7.0).
#
# pytriton bundles the real tritonserver binary with dynamic batching. Facts that shape this script:
# - Python 3.12: on 3.11 its proxy fails with "'_thread.RLock' object has no attribute '_recursion_count'".
# - numpy<2: its wheels are built against numpy 1.
# - its stub loads libpython3.12.so.1.0: the server is started with LD_LIBRARY_PATH=<that python>/lib
#   (benchmarks/_triton.py does that).
# The venv goes to benchmarks/work/triton-venv (git-ignored). Idempotent; PYTHON312=... picks the interpreter.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/benchmarks/work/triton-venv"
PY="${PYTHON312:-$(ls -d /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -1 || true)}"
if [ -z "$PY" ]; then PY="$(command -v python3.12 || true)"; fi
if [ -z "$PY" ] || ! "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 12)'; then
    echo "needs a Python 3.12 interpreter (set PYTHON312=/path/to/python3.12)" >&2
    exit 1
fi
if [ -f "$VENV/.complete" ]; then echo "$VENV"; exit 0; fi
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "nvidia-pytriton==0.7.0" "numpy<2" "tritonclient[grpc]" "onnxruntime>=1.16" \
    "opencv-python-headless>=4.5" "pyyaml>=5.3" "openvino>=2024.4" "psutil>=5.8"
touch "$VENV/.complete"
echo "$VENV"
