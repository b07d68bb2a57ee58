"""How far the option-price estimate is from real quotes: the puts a seller trades, the estimate's inputs on each
quote's day, its premium errors, and the leave-one-day-out check of a fit.

A quote's estimate is computed as the backtest would compute it on that day: the index close, VIX, VIX3M, T-bill
rate and dividend yield of the session. Snapshots taken during or before a session (see data/chain_files.py) are
the exception: their spot is the one put-call parity implies, and their VIX and VIX3M are interpolated between the
previous and the same day's closes by where that spot lies between the two index closes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.chain_files import CHAIN_COLUMNS, PM_ROOTS, parity_forwards
from data.contracts import parse_ticker
from data.dividends import dividend_yields
from data.market import History
from data.pricing import AM_SETTLEMENT_EARLIER, VolModel, estimate_put, forward_put_delta

MIN_DAYS, MAX_DAYS = 14, 70  # the puts a seller trades
MIN_DELTA, MAX_DELTA = 0.05, 0.40
DELTA_BUCKETS = (0.05, 0.10, 0.20, 0.30, 0.40)
DAY_BUCKETS = (14, 21, 35, 50, 70)


def seller_puts(chain: pd.DataFrame, history: History) -> pd.DataFrame:
    """The two-sided 5-40-delta puts of 14-70 days in `chain` (CHAIN_COLUMNS plus `file`), with their mid, their
    delta (from the mid's implied vol on the parity forward, or on the close carried at r - q where the chain has
    no calls) and the estimate's inputs of their day."""
    chain = chain[[history.dates[0] < d <= history.dates[-1] for d in chain["quote_date"]]]
    days = sorted(set(chain["quote_date"]))
    rows = {d: history.index_of(d) for d in days}
    rates = pd.Series({d: float(history.rate[rows[d]]) for d in days}, dtype=float)
    puts = chain[(chain["right"] == "P") & (chain["bid"] > 0) & (chain["ask"] >= chain["bid"])].copy()
    puts["am"] = ~puts["root"].isin(PM_ROOTS)
    puts = puts.merge(parity_forwards(chain, rates), on=["quote_date", "expiry", "am"], how="left")
    puts["days"] = [(e - q).days for e, q in zip(puts["expiry"], puts["quote_date"], strict=True)]
    puts = puts[puts["days"].between(MIN_DAYS, MAX_DAYS)].copy()
    puts["t"] = (puts["days"] - np.where(puts["am"], AM_SETTLEMENT_EARLIER, 0.0)) / 365.0
    puts["mid"] = (puts["bid"] + puts["ask"]) / 2
    puts["rate"] = puts["quote_date"].map(rates)
    index = puts["quote_date"].map(rows).to_numpy(int)
    puts["dividend"] = dividend_yields(np.array([d.year for d in puts["quote_date"]], dtype=int))
    carried = history.spx_close[index] * np.exp((puts["rate"] - puts["dividend"]) * puts["t"])
    puts["forward"] = puts["forward"].fillna(pd.Series(carried, index=puts.index))  # no calls: the close, carried
    _market_inputs(puts, history, index)
    puts["delta"] = _forward_delta(puts)
    puts = puts[puts["delta"].between(MIN_DELTA, MAX_DELTA)]
    return puts.reset_index(drop=True)


def _market_inputs(puts: pd.DataFrame, history: History, index: np.ndarray) -> None:
    close, previous = history.spx_close[index], history.spx_close[index - 1]
    carry = puts["rate"].to_numpy(float) - puts["dividend"].to_numpy(float)
    implied = puts["forward"].to_numpy(float) * np.exp(-carry * puts["t"].to_numpy(float))
    snapshot = (puts["snapshot"] != "close").to_numpy()
    puts["spot"] = np.where(snapshot, implied, close)
    moved = np.where(close != previous, close - previous, 1.0)
    weight = np.where(snapshot, np.clip((implied - previous) / moved, 0.0, 1.0), 1.0)
    for column in ("vix", "vix3m"):
        today, before = getattr(history, column)[index], getattr(history, column)[index - 1]
        puts[column] = before + weight * (today - before)


def _forward_delta(puts: pd.DataFrame) -> np.ndarray:
    forward, strike, t, rate, mid = (puts[c].to_numpy(float) for c in ("forward", "strike", "t", "rate", "mid"))
    return forward_put_delta(mid, forward, strike, t, rate)


def premium_errors(puts: pd.DataFrame, model: VolModel) -> np.ndarray:
    """The estimate over the real mid, minus one, for every put."""
    spot, strike, t, rate, dividend, vix, vix3m = (puts[c].to_numpy(float) for c in (
        "spot", "strike", "t", "rate", "dividend", "vix", "vix3m"))
    price, _, _ = estimate_put(spot, strike, t, rate, dividend, vix, vix3m, model)
    errors: np.ndarray = np.asarray(price, dtype=float) / puts["mid"].to_numpy(float) - 1.0
    return errors


def leave_one_day_out(puts: pd.DataFrame, fit: Callable[[pd.DataFrame], VolModel]) -> np.ndarray:
    """Each day's errors from a model fitted on every other day."""
    errors = np.empty(len(puts))
    for day in sorted(set(puts["quote_date"])):
        held = (puts["quote_date"] == day).to_numpy()
        errors[held] = premium_errors(puts[held], fit(puts[~held]))
    return errors


@dataclass(frozen=True)
class ErrorRow:
    """Median absolute premium error and median signed error (bias) of a group of puts."""

    label: str
    days: int
    puts: int
    median_error: float
    bias: float


def _row(label: str, group: pd.DataFrame) -> ErrorRow:
    per_day = group.groupby("quote_date")["error"]
    return ErrorRow(label, per_day.ngroups, len(group), float(per_day.apply(lambda e: e.abs().median()).median()),
                    float(per_day.median().median()))


def error_tables(puts: pd.DataFrame, errors: np.ndarray) -> dict[str, list[ErrorRow]]:
    """The errors overall, by source file (regime), by delta bucket and by days-to-expiry bucket. Each figure is
    the median over days of the day's median, so a day with a thousand quotes counts as much as one with fifty."""
    frame = puts.assign(error=errors)
    by_delta = pd.cut(frame["delta"], DELTA_BUCKETS)
    by_days = pd.cut(frame["days"], DAY_BUCKETS, include_lowest=True)
    return {
        "overall": [_row("all days", frame)],
        "by source": [_row(str(name), group) for name, group in frame.groupby("file", sort=False)],
        "by delta": [_row(f"{b.left:.2f}-{b.right:.2f}", g) for b, g in frame.groupby(by_delta, observed=True)],
        "by days": [_row(f"{b.left:.0f}-{b.right:.0f}", g) for b, g in frame.groupby(by_days, observed=True)],
    }


def cached_closes(bars: Mapping[str, Mapping[dt.date, float]]) -> pd.DataFrame:
    """Option closes by ticker and day (the Polygon cache) as a chain of `close` snapshots whose bid and ask are
    the close: a last trade, not a quote, so less exact than the shipped chains."""
    rows = []
    for ticker, closes in bars.items():
        contract = parse_ticker(ticker)
        rows += [(day, "close", contract.root, contract.expiry, "P", contract.strike, price, price, np.nan, np.nan,
                  np.nan, "polygon cache") for day, price in closes.items() if price > 0]
    return pd.DataFrame(rows, columns=[*CHAIN_COLUMNS, "file"])


@dataclass(frozen=True)
class ModelCheck:
    """The estimate in use against the shipped chains (in sample: they fitted it), optionally each shipped day
    priced by a fit without it, and against the option closes in the user's Polygon cache and the chains imported
    into the chain store (out of sample)."""

    model: VolModel
    shipped: dict[str, list[ErrorRow]]
    left_out: dict[str, list[ErrorRow]] | None
    cached: dict[str, list[ErrorRow]] | None
    imported: dict[str, list[ErrorRow]] | None = None  # the chains imported into the chain store
