"""A stored run's own trades against real quotes: each entry and each buy-back of its chosen combination
re-priced with the real quote of that day wherever an imported chain has one (two-sided), and how far the
run's prices and P&L are from them. A trader sees how wrong the backtest they are about to trust is, on its
own trades."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from backtest.types import Quote
from data.contracts import parse_ticker
from data.provenance import PriceSource
from db.models import BacktestTrade, CalibrationRun, CombinationResult
from trading.ledger import TradeError
from trading.rules import Rules
from trading.strategy import GRID_DIMENSIONS, StrategyParams, combination_label

Quotes = dict[tuple[dt.date, str, dt.date, float], tuple[float, float]]  # (day, root, expiry, strike): bid, ask


@dataclass(frozen=True)
class PriceErrors:
    """The run's prices against the real mids of the same day: how many could be compared, the median and the
    90th percentile of the absolute error (a share of the real mid), and the median signed error."""

    count: int
    median: float | None
    p90: float | None
    bias: float | None

    @staticmethod
    def of(errors: Sequence[float]) -> PriceErrors:
        if not errors:
            return PriceErrors(0, None, None, None)
        values = np.asarray(errors)
        return PriceErrors(len(values), float(np.median(np.abs(values))), float(np.percentile(np.abs(values), 90)),
                           float(np.median(values)))


@dataclass(frozen=True)
class RunCheck:
    run_id: int
    combination: str
    trades: int
    days: int  # the sessions the trades entered or were bought back on
    days_quoted: int  # of those, the ones an imported chain holds
    entries: PriceErrors
    exits: PriceErrors
    pnl_difference: float  # dollars: the real fills' P&L less the run's, over the trades re-priced
    repriced: int  # trades whose entry or buy-back was re-priced


def params_of(run: CalibrationRun, chosen: CombinationResult) -> StrategyParams:
    """The chosen combination's full parameters: the run's settings and its grid dimensions."""
    names = {f.name for f in fields(StrategyParams)}
    stored: dict[str, Any] = {k: v for k, v in run.settings.items() if k in names}
    return StrategyParams(**stored, **{name: getattr(chosen, name) for name in GRID_DIMENSIONS})


def stored_run(session: Session, run_id: int) -> tuple[CalibrationRun, CombinationResult, list[BacktestTrade]]:
    run = session.get(CalibrationRun, run_id)
    if run is None or run.kind == "walk-forward" or not run.results:
        raise TradeError(f"no calibration or backtest run #{run_id}")
    chosen = next((r for r in run.results if r.best), run.results[0])
    trades = list(session.scalars(select(BacktestTrade).where(BacktestTrade.result_id == chosen.id)
                                  .order_by(BacktestTrade.entry_date, BacktestTrade.id)))
    return run, chosen, trades


def check_run(run: CalibrationRun, chosen: CombinationResult, trades: list[BacktestTrade], quotes: Quotes,
              chain_days: set[dt.date]) -> RunCheck:
    """Re-price every entry and buy-back the quotes hold, by the run's own fill model."""
    rules = Rules(params_of(run, chosen))
    entries, exits, difference, repriced = [], [], 0.0, 0
    days = {t.entry_date for t in trades} | {t.exit_date for t in trades if t.exit_date is not None}
    for t in trades:
        contract = parse_ticker(t.ticker)
        key = (contract.root, contract.expiry, contract.strike)
        real_entry = _real(quotes.get((t.entry_date, *key)))
        touched = False
        if real_entry is not None:
            entries.append(t.entry_price_cents / 100 / real_entry.price - 1)
            difference += (rules.entry_price(real_entry) - t.fill_cents / 100) * 100 * t.contracts
            touched = True
        real_exit = None if t.exit_date is None else _real(quotes.get((t.exit_date, *key)))
        if real_exit is not None and t.exit_fill_cents is not None:
            exits.append(t.exit_fill_cents / 100 / rules.exit_price(real_exit) - 1)
            difference -= (rules.exit_price(real_exit) - t.exit_fill_cents / 100) * 100 * t.contracts
            touched = True
        repriced += touched
    label = combination_label(chosen, only_on=True)
    return RunCheck(run.id, label, len(trades), len(days), len(days & chain_days), PriceErrors.of(entries),
                    PriceErrors.of(exits), round(difference, 2), repriced)


def _real(quoted: tuple[float, float] | None) -> Quote | None:
    """The day's real quote as the rules price it (the mid, with its bid and ask); None without two sides."""
    if quoted is None:
        return None
    bid, ask = quoted
    if not (bid > 0 and ask >= bid):
        return None
    return Quote((bid + ask) / 2, PriceSource.REAL, math.nan, math.nan, bid, ask)
