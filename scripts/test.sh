#!/usr/bin/env bash
# Installs everything the tests need into the project's .venv, then runs the test suite.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k rules
set -euo pipefail
SPX_WHEEL_EXTRAS=test
source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"
cd "$ROOT"
# the report's test renders it in a browser: Debian's chromium, installed once where it is missing
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    echo "spx-wheel: installing chromium (apt) for the report's browser test ..." >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends chromium; } >/dev/null 2>&1 ||
        echo "spx-wheel: could not install chromium: the browser test will fail" >&2
fi
exec python -m pytest -q "$@"
