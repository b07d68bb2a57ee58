"""Time calibrations on the bundled history (interpreter start-up excluded).

Run: .venv/bin/python benchmarks/bench_calibrate.py [--repeat N] [--skip-large]
Reports, over 1990-01-02 .. 2026-07-10: the first grid of a fresh process (the calendar's listings and the compiled
kernel loaded from its cache), then as the best of N runs: the default 12-combination grid with the seed and the
bs-delta strike rule, the same with exits (48 combinations), a 10 x 10 grid, and 1,000 combinations (10 deltas x
5 DTEs x 4 take-profits x 5 stop-losses), each with position-days per second (one open position held over one
session = one position-day) and the process's peak memory so far; the checks of the choice; a 5y:1y walk-forward
of the default grid and of the 1,000; and the exit grid and the walk-forward in as many processes as there are
cores, in wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import time

import numpy as np

from data.market import EmbeddedSource, load_bundled
from trading.choices import DEFAULT_DELTAS, DEFAULT_DTES
from trading.optimizer import grid_combinations, run_grid
from trading.selection import check_selection
from trading.walk_forward import walk_forward

START, END = dt.date(1990, 1, 2), dt.date(2026, 7, 10)
DEFAULT = {"put_delta": DEFAULT_DELTAS, "dte_target": DEFAULT_DTES}
EXITS = {**DEFAULT, "take_profit": (0, 0.5), "stop_loss": (0, 2)}
THOUSAND = {"put_delta": tuple(np.round(np.linspace(0.05, 0.5, 10), 2)), "dte_target": (7, 14, 30, 45, 60),
            "take_profit": (0, 0.25, 0.5, 0.75), "stop_loss": (0, 1.5, 2, 3, 4)}


def best_of(repeat: int, work):
    """(the least CPU seconds of `repeat` runs of work(), what the last run returned)."""
    best, value = float("inf"), None
    for _ in range(repeat):
        began = time.process_time()
        value = work()
        best = min(best, time.process_time() - began)
    return best, value


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def grid_line(label: str, repeat: int, dimensions: dict, knobs: dict | None = None) -> None:
    grid = grid_combinations(dimensions, knobs or {})
    seconds, calibration = best_of(repeat, lambda: run_grid(EmbeddedSource(), grid, START, END, "sharpe"))
    days = sum(c.result.position_days for c in calibration.combinations)
    print(f"{label}: {seconds:.3f} s CPU, {days:,} position-days, {days / seconds:,.0f} position-days/s, "
          f"peak {peak_mb():,.0f} MB")
    seconds, _ = best_of(repeat, lambda: check_selection(calibration))
    print(f"  deflated Sharpe, CSCV and neighbours of its choice: {seconds:.3f} s CPU")


def walk_line(label: str, repeat: int, dimensions: dict, workers: int = 1) -> None:
    grid = grid_combinations(dimensions, {})
    began = time.perf_counter()
    seconds, walked = best_of(repeat, lambda: walk_forward(EmbeddedSource(), grid, START, END, "5y", "1y", False,
                                                           "sharpe", 10, workers=workers))
    wall = (time.perf_counter() - began) / repeat
    print(f"walk-forward 5y:1y of {label}, {len(walked.results)} folds, {workers} process(es): {seconds:.3f} s CPU "
          f"here, {wall:.3f} s wall, peak {peak_mb():,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-large", action="store_true", help="leave out the 1,000-combination runs")
    args = parser.parse_args()

    began = time.process_time()
    load_bundled()
    print(f"load history: {time.process_time() - began:.3f} s CPU (once per process)")
    grid_line("first run in this process, 12 combinations", 1, DEFAULT)
    grid_line("12 combinations (4 x 3), seed rule", args.repeat, DEFAULT)
    grid_line("12 combinations (4 x 3), bs-delta rule", args.repeat, DEFAULT, {"strike_rule": "bs-delta"})
    grid_line("48 combinations (4 x 3 x 2 take-profits x 2 stop-losses)", args.repeat, EXITS)
    grid_line("100 combinations (10 x 10)", args.repeat, {"put_delta": THOUSAND["put_delta"],
                                                          "dte_target": tuple(range(15, 115, 10))})
    walk_line("the 12 combinations", args.repeat, DEFAULT)
    workers = os.cpu_count() or 1
    walk_line("the 48 combinations", 1, EXITS, workers)
    if not args.skip_large:
        grid_line("1,000 combinations (10 x 5 x 4 x 5)", 1, THOUSAND)
        walk_line("the 1,000 combinations", 1, THOUSAND)
        walk_line("the 1,000 combinations", 1, THOUSAND, workers)


if __name__ == "__main__":
    main()
