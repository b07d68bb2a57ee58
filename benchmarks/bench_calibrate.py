"""Time calibrations on the bundled history (interpreter start-up excluded).

Run: .venv/bin/python benchmarks/bench_calibrate.py [--repeat N]
Reports the data load, the default 12-combination grid over 1990-01-02 .. 2026-07-10, the same with the exits
(--take-profits 0,0.5 --stop-losses 0,2: 48 combinations), a 10 x 10 grid, the checks of the choice (deflated
Sharpe, CSCV) and a 5y:1y walk-forward of the default grid, each as the best of N runs, with position-days per
second (one open position held over one session = one position-day); then the exit grid and the walk-forward in
as many processes as there are cores, in wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import numpy as np

from data.listings import listed_expirations
from data.market import EmbeddedSource, load_bundled
from trading.choices import DEFAULT_DELTAS, DEFAULT_DTES
from trading.optimizer import grid_combinations, run_grid
from trading.selection import check_selection
from trading.walk_forward import walk_forward

START, END = dt.date(1990, 1, 2), dt.date(2026, 7, 10)


def best_of(repeat: int, work):
    """(the least CPU seconds of `repeat` runs of work(), what the last run returned)."""
    best, value = float("inf"), None
    for _ in range(repeat):
        began = time.process_time()
        value = work()
        best = min(best, time.process_time() - began)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat

    began = time.process_time()
    load_bundled()
    listed_expirations(START, START, False), listed_expirations(START, START, True)
    print(f"load history + calendar: {time.process_time() - began:.3f} s CPU (once per process)")
    default = {"put_delta": DEFAULT_DELTAS, "dte_target": DEFAULT_DTES}
    grids = [("12 combinations (4 x 3)", default),
             ("48 combinations (4 x 3 x 2 take-profits x 2 stop-losses)",
              {**default, "take_profit": (0, 0.5), "stop_loss": (0, 2)}),
             ("100 combinations (10 x 10)", {"put_delta": tuple(np.round(np.linspace(0.05, 0.5, 10), 2)),
                                             "dte_target": tuple(range(15, 115, 10))})]
    for label, dimensions in grids:
        grid = grid_combinations(dimensions, {})
        seconds, calibration = best_of(repeat, lambda: run_grid(EmbeddedSource(), grid, START, END, "sharpe"))
        days = sum(c.result.position_days for c in calibration.combinations)
        print(f"{label}, {START} .. {END}: {seconds:.3f} s CPU, {days:,} position-days, "
              f"{days / seconds:,.0f} position-days/s")
        seconds, _ = best_of(repeat, lambda: check_selection(calibration))
        print(f"  deflated Sharpe, CSCV and neighbours of its choice: {seconds:.3f} s CPU")
    grid = grid_combinations(default, {})
    seconds, walked = best_of(repeat, lambda: walk_forward(EmbeddedSource(), grid, START, END, "5y", "1y", False,
                                                           "sharpe", 10))
    print(f"walk-forward 5y:1y of the 12 combinations, {len(walked.results)} folds: {seconds:.3f} s CPU")
    workers = os.cpu_count() or 1
    exits = grid_combinations({**default, "take_profit": (0, 0.5), "stop_loss": (0, 2)}, {})
    for label, work in [("the 48 combinations", lambda: run_grid(EmbeddedSource(), exits, START, END, "sharpe",
                                                                  workers=workers)),
                        ("the walk-forward", lambda: walk_forward(EmbeddedSource(), grid, START, END, "5y", "1y",
                                                                  False, "sharpe", 10, workers=workers))]:
        began = time.perf_counter()
        work()
        print(f"{label} in {workers} processes (--workers): {time.perf_counter() - began:.3f} s wall")


if __name__ == "__main__":
    main()
