"""How far to trust the estimated prices: the engine played as Cboe's S&P 500 PutWrite index (PUT) against the
index's published yearly returns (data/raw/cboe_put_index_yearly.csv.gz)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backtest.spx_premium_backtest import run_backtest
from data.market import MarketSource
from trading.rules import Rules
from trading.strategy import StrategyParams

# Cboe's S&P 500 PutWrite index (PUT), as the engine can play it: at-the-money monthly puts sold on the roll day
# (the expiry, right after the settlement), as many as the cash can secure, collateral at the T-bill rate, no
# costs. A large capital keeps the whole-contract rounding below 0.1% of the account.
PUTWRITE = StrategyParams(put_delta=0.5, dte_target=30, strike_rule="atm", expiries="monthly", margin="cash",
                          capital=1e9, size_by="margin", size_target=1.0, max_open_positions=1,
                          max_margin_pct=1.0, min_vix=0.0, max_vix=1000.0, slippage=0.0, fee=0.0)
PUT_INDEX_FILE = Path(__file__).resolve().parents[1] / "data" / "raw" / "cboe_put_index_yearly.csv.gz"


@dataclass(frozen=True)
class Validation:
    """The engine as the PUT index against the published yearly returns (fractions)."""

    years: list[tuple[int, float, float]]  # year, engine, published
    cagr: tuple[float, float]  # engine, published
    correlation: float


def published_put_returns(path: Path = PUT_INDEX_FILE) -> dict[int, float]:
    """Cboe PUT calendar-year total returns (fractions) from the vendored file."""
    with gzip.open(path, "rt") as handle:
        return {int(row["year"]): float(row["put_total_return_pct"]) / 100 for row in csv.DictReader(handle)}


def putwrite_against_published(market: MarketSource, first_year: int = 1990, last_year: int = 2021) -> Validation:
    """Run the engine as the PUT index over the years the published file covers, year by year."""
    published = published_put_returns()
    years = [y for y in range(first_year, last_year + 1) if y in published]
    result = run_backtest(market, Rules(PUTWRITE), dt.date(years[0] - 1, 12, 31), dt.date(years[-1], 12, 31),
                          PUTWRITE.capital, monthly_only=True)
    year_end = {d.year: value for d, value in zip(result.dates, result.equity, strict=True)}  # the last wins
    start = {years[0] - 1: PUTWRITE.capital, **year_end}
    rows = [(y, year_end[y] / start[y - 1] - 1, published[y]) for y in years]
    span = len(years)
    engine_cagr = float(np.prod([1 + r[1] for r in rows]) ** (1 / span) - 1)
    published_cagr = float(np.prod([1 + r[2] for r in rows]) ** (1 / span) - 1)
    correlation = float(np.corrcoef([r[1] for r in rows], [r[2] for r in rows])[0, 1])
    return Validation(rows, (engine_cagr, published_cagr), correlation)
