#!/usr/bin/env bash
# Run the test suite (fast tests; `-m slow` for the long end-to-end ones). Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL=${MUJOCO_GL:-egl}
exec .venv/bin/python -m pytest -q "$@"
