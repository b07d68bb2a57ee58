#!/usr/bin/env bash
# Compare live results with the backtest (weekly).
# All options: ./scripts/check_spx_performance.sh --help
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"
exec spx-wheel check "$@"
