"""Time calibrations on the bundled history (interpreter start-up excluded).

Run: .venv/bin/python benchmarks/bench_calibrate.py [--repeat N]
Reports the data load, the default 12-combination grid over 1990-01-02 .. 2026-07-10 and a 10 x 10 grid, each as
the best of N runs, with position-days per second (one open position held over one session = one position-day).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

from data.listings import listed_expirations
from data.market import EmbeddedSource, load_bundled
from trading.choices import DEFAULT_DELTAS, DEFAULT_DTES
from trading.optimizer import run_grid
from trading.strategy import StrategyParams

START, END = dt.date(1990, 1, 2), dt.date(2026, 7, 10)


def timed(deltas, dtes, repeat: int) -> tuple[float, int]:
    best, days = float("inf"), 0
    for _ in range(repeat):
        began = time.process_time()
        calibration = run_grid(EmbeddedSource(), StrategyParams(deltas[0], dtes[0]), deltas, dtes, START, END,
                               "sharpe")
        best = min(best, time.process_time() - began)
        days = sum(c.result.position_days for c in calibration.combinations)
    return best, days


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat

    began = time.process_time()
    load_bundled()
    listed_expirations(START, START, False), listed_expirations(START, START, True)
    print(f"load history + calendar: {time.process_time() - began:.3f} s CPU (once per process)")
    for label, deltas, dtes in [("12 combinations (4 x 3)", DEFAULT_DELTAS, DEFAULT_DTES),
                                ("100 combinations (10 x 10)", tuple(np.round(np.linspace(0.05, 0.5, 10), 2)),
                                 tuple(range(15, 115, 10)))]:
        seconds, days = timed(deltas, dtes, repeat)
        print(f"{label}, {START} .. {END}: {seconds:.3f} s CPU, {days:,} position-days, "
              f"{days / seconds:,.0f} position-days/s")


if __name__ == "__main__":
    main()
