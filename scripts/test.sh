#!/usr/bin/env bash
# The test command: set up if needed, then lint, type-check and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# Setup is idempotent and quick when nothing changed; SKIP_SETUP=1 skips it when .venv already exists.
if [[ "${SKIP_SETUP:-0}" != 1 || ! -x .venv/bin/python ]]; then scripts/setup.sh; fi
. .venv/bin/activate
ruff check edge_runtime tests benchmarks scripts
mypy edge_runtime
python -m pytest -q "$@"
