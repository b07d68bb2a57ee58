"""Fit the option-price estimator's volatility model on every real quote shipped, and report its error.

Run: python -m data.fit_vol_model. Reads data/raw/SPX_2018.csv.gz and data/raw/real_chains/ (2008-2024: a crash,
calm and volatile years, end-of-day and intraday snapshots), keeps the two-sided 5-40-delta puts of 14-70 days,
and minimises the mean absolute log premium error, every day weighing the same. Prints the fitted parameters (to
paste into data/pricing.py FITTED) and the leave-one-day-out error: each day priced by a model fitted without it.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from data.chain_files import read_chains
from data.market import load_bundled
from data.model_check import ErrorRow, error_tables, leave_one_day_out, premium_errors, seller_puts
from data.pricing import FITTED, VolModel

START = (0.13, 0.014, 0.94, 0.52)


def shipped_puts() -> pd.DataFrame:
    return seller_puts(read_chains(), load_bundled())


def fit(puts: pd.DataFrame) -> VolModel:
    """The model minimising the mean over days of each day's mean absolute log premium error."""
    day = pd.factorize(puts["quote_date"])[0]
    weight = 1.0 / np.bincount(day)[day]

    def loss(x: np.ndarray) -> float:
        errors = np.maximum(premium_errors(puts, VolModel(*x)), -0.99)
        return float(np.sum(weight * np.abs(np.log1p(errors))))

    best = minimize(loss, x0=np.array(START), method="Nelder-Mead",
                    options={"xatol": 1e-4, "fatol": 1e-7, "maxiter": 4000})
    return VolModel(*(round(float(v), 3) for v in best.x))


def show(title: str, tables: dict[str, list[ErrorRow]]) -> None:
    print(title)
    for name, rows in tables.items():
        for row in rows:
            print(f"  {name:10} {row.label:44} days {row.days:3} puts {row.puts:5} "
                  f"median error {row.median_error:6.1%} bias {row.bias:+6.1%}")


def main() -> int:
    puts = shipped_puts()
    model = fit(puts)
    print(f"fitted on all {puts['quote_date'].nunique()} days: {model} (in use: {FITTED})")
    show("in use, on every day (in sample):", error_tables(puts, premium_errors(puts, FITTED)))
    show("leave one day out:", error_tables(puts, leave_one_day_out(puts, fit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
