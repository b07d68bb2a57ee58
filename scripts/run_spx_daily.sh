#!/usr/bin/env bash
# Settle expired positions and open today's position (weekdays, from cron).
# All options: ./scripts/run_spx_daily.sh --help
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"
exec spx-wheel trade "$@"
