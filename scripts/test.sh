#!/usr/bin/env bash
# The test command: set up if needed, then lint, type-check and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x .venv/bin/python ]] || scripts/setup.sh
[[ "${SKIP_SETUP:-0}" == 1 ]] || scripts/setup.sh
. .venv/bin/activate
ruff check edge_runtime tests benchmarks scripts
mypy edge_runtime
python -m pytest -q "$@"
