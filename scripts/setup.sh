#!/usr/bin/env bash
# Create the development environment: .venv (Python 3.11, everything) and, when a Python 3.8
# interpreter exists, .venv38 with only the device extras (what a Jetson on JetPack 5 runs).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: a bare "torch" requirement would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install -q -e '.[all,dev]'
# The console's browser tests drive Debian's chromium through Playwright (no browser download).
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    echo "no /usr/bin/chromium: install Debian's chromium (apt-get install chromium) for the console's browser tests" >&2
  fi
fi

PY38=${PYTHON38:-}
if [[ -z "$PY38" ]]; then
  # A pyenv shim answers `command -v` but may refuse to run, so each candidate must actually start.
  for cand in /root/.pyenv/versions/3.8*/bin/python3.8 "$HOME"/.pyenv/versions/3.8*/bin/python3.8 \
              /usr/bin/python3.8 /usr/local/bin/python3.8 python3.8; do
    if "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 8)' >/dev/null 2>&1; then
      PY38=$(command -v "$cand"); break
    fi
  done
fi
if [[ -n "$PY38" ]]; then
  [[ -x .venv38/bin/python ]] || "$PY38" -m venv .venv38
  .venv38/bin/python -m pip install -q --upgrade 'pip<25'
  # The device's ceiling: grpcio and protobuf releases that still support Python 3.8.
  .venv38/bin/python -m pip install -q -e '.[agent]' 'grpcio<1.71' 'grpcio-health-checking<1.71' 'protobuf<6' pytest pytest-timeout
  echo "Python 3.8 device environment: .venv38 ($PY38)"
else
  echo "no Python 3.8 interpreter found: device-compatibility tests will rely on vermin only" >&2
fi
