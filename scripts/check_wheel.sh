#!/usr/bin/env bash
# Builds the wheel, installs it into a fresh venv outside the checkout, and runs the commands a user of
# `pip install` / `pipx install` runs first, with an empty HOME and the checkout out of reach: what the wheel
# ships must be enough. Prints each command; any failure stops with its output. Used by .ci/run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/home" "$work/dist" "$work/run"

echo "spx-wheel wheel check: building ..." >&2
"$PY" -m pip wheel --disable-pip-version-check -q --no-deps -w "$work/dist" "$ROOT" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; exit 1; }
wheel="$(ls "$work"/dist/spx_wheel-*.whl)"
"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --disable-pip-version-check -q "$wheel" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; exit 1; }

run() {
    echo "\$ spx-wheel $*" >&2
    (cd "$work/run" && env -i PATH="/usr/bin:/bin" HOME="$work/home" "$work/venv/bin/spx-wheel" "$@") \
        >"$work/out" 2>&1 || { echo "FAILED (exit $?):" >&2; cat "$work/out" >&2; exit 1; }
    tail -n 3 "$work/out" >&2
}
run --version
run calibrate 2024-01-01
run backtest --delta 0.2 --dte 45 --start 2024-01-01 --json
run validate
run model-check
run report --out "$work/run/report.html"
run trade --as-of 2026-07-10 --dry-run
run params
run doctor
run cron
echo "spx-wheel wheel check: every command ran from the installed wheel" >&2
