"""Every trade of 72 combinations over the bundled history, one line each, for comparing two versions of the code:
run it in each checkout and diff the outputs (a refactoring must change nothing).

Run: .venv/bin/python benchmarks/trade_digest.py > digest.txt
The combinations: the seed, bs-delta and atm strike rules, each with and without a 50% take-profit and a 2x stop
loss, on the 12 default delta and DTE pairs, over 1990-01-02 .. 2026-07-10 (through the grid engine, as calibrate
runs them), with each combination's final equity to the cent.
"""

from __future__ import annotations

import datetime as dt

from data.market import EmbeddedSource, load_bundled
from trading.choices import DEFAULT_DELTAS, DEFAULT_DTES
from trading.optimizer import grid_combinations, run_grid

START, END = dt.date(1990, 1, 2), dt.date(2026, 7, 10)


def main() -> None:
    source = EmbeddedSource(load_bundled())
    for rule in ("seed", "bs-delta", "atm"):
        grid = {"put_delta": DEFAULT_DELTAS, "dte_target": DEFAULT_DTES, "take_profit": (0.0, 0.5),
                "stop_loss": (0.0, 2.0)}
        combinations = [c for c in grid_combinations(grid, {"strike_rule": rule})
                        if (c.take_profit == 0) == (c.stop_loss == 0)]  # none, or both
        calibration = run_grid(source, combinations, START, END, "sharpe")
        for combination in calibration.combinations:
            p, result = combination.params, combination.result
            print(f"# {rule} {p.put_delta} {p.dte_target} TP {p.take_profit} SL {p.stop_loss}: "
                  f"final equity {result.equity[-1]:.2f}, {len(result.trades)} trades")
            for t in result.trades:
                print(t.ticker, t.entry_date, t.contracts, f"{t.fill:.2f}", f"{t.premium:.2f}", t.pnl, t.exit_reason,
                      t.exit_date, t.exit_fill, t.settlement)


if __name__ == "__main__":
    main()
