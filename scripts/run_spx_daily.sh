#!/usr/bin/env bash
# Extend the local history from the free daily files, settle expired positions and open today's position
# (weekdays, from cron).
# All options: ./scripts/run_spx_daily.sh --help
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"
exec spx-wheel trade --update "$@"
