#!/usr/bin/env bash
# Installs everything the tests need into the project's .venv, then runs the test suite.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k rules
set -euo pipefail
SPX_WHEEL_EXTRAS=test
source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"
cd "$ROOT"
exec python -m pytest -q "$@"
