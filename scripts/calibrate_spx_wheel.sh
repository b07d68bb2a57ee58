#!/usr/bin/env bash
# Find the best put delta and DTE by backtest and save them (monthly).
# All options: ./scripts/calibrate_spx_wheel.sh --help
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"
exec spx-wheel calibrate "$@"
