"""The historical engine: walks NYSE sessions, settles, marks to market and opens positions by the rules it is
given. No network and no database: the source has all its data before the run starts."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from backtest import metrics
from backtest.types import Entry, Holding, MarketDay, Quote, Rules, settlement_loss
from data.contracts import OptionContract
from data.market import History, MarketSource
from data.pricing import estimate_put, years_to_settlement


class BacktestError(Exception):
    """The backtest cannot run on this window or data."""


@dataclass(frozen=True)
class Trade:
    """One position of the backtest, closed at expiry or still open when the window ended."""

    ticker: str
    root: str
    entry_date: dt.date
    expiry: dt.date
    strike: float
    contracts: int
    entry_price: float  # the put's price at the entry close (real or estimated)
    fill: float  # after slippage
    premium: float  # net dollars received (after fees)
    source: str  # 'real' or 'estimated': the entry price's source
    entry_delta: float  # estimated Black-Scholes delta of the chosen strike (negative)
    entry_iv: float
    settlement: float | None  # settlement value of the index; None while open
    pnl: float | None  # net dollars; None while open

    @property
    def won(self) -> bool:
        return self.pnl is not None and self.pnl > 0


@dataclass
class BacktestResult:
    start: dt.date
    end: dt.date
    trades: list[Trade]
    dates: list[dt.date]
    equity: np.ndarray
    metrics: metrics.Metrics
    real: int
    estimated: int
    position_days: int

    @property
    def closed(self) -> list[Trade]:
        return [t for t in self.trades if t.pnl is not None]


@dataclass
class _Position:
    entry: Entry
    day: dt.date
    first: int  # history index of the entry session
    expiry_index: int | None  # history index of the settlement session, None beyond the data
    marks: np.ndarray  # put price on sessions first .. (expiry_index or end) - 1
    trade_fields: dict[str, object] = field(default_factory=dict)


def quote_put(source: MarketSource, history: History, i: int, contract: OptionContract) -> Quote:
    """The put's price at session i's close: its real close when the source has one, else the estimate."""
    marks, ivs, deltas, real = _marks(source, history, contract, i, i + 1)
    return Quote(float(marks[0]), "real" if real[0] else "estimated", float(ivs[0]), float(deltas[0]))


def _marks(source: MarketSource, history: History, contract: OptionContract, first: int,
           stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    days = history.ordinals[first:stop]
    t = years_to_settlement(contract.expiry.toordinal() - days, contract.am_settled)
    price, iv, delta = estimate_put(history.spx_close[first:stop], contract.strike, t, history.rate[first:stop],
                                    history.vix[first:stop], history.vix3m[first:stop])
    real_close = source.option_closes(contract.ticker, history.dates[first:stop])
    real = ~np.isnan(real_close)
    return np.where(real, real_close, price), np.atleast_1d(iv), np.atleast_1d(delta), real


def run_backtest(source: MarketSource, rules: Rules, start: dt.date, end: dt.date, capital: float,
                 monthly_only: bool = False) -> BacktestResult:
    """Trade the rules over the sessions from start to end (inclusive)."""
    history = source.history()
    first, stop = history.window(start, end)
    if stop - first < 2:
        raise BacktestError(f"fewer than two sessions of data between {start} and {end}")
    ordinals = history.ordinals
    cash = capital
    positions: list[_Position] = []
    trades: list[Trade] = []
    equity = np.empty(stop - first)
    position_days = 0
    horizon = dt.timedelta(days=rules.expiry_horizon())

    for i in range(first, stop):
        day = history.dates[i]
        if i > first:
            cash *= math.exp(history.rate[i - 1] * (ordinals[i] - ordinals[i - 1]) / 365.0)
        for pos in [p for p in positions if p.expiry_index == i]:
            value = rules.settlement_value(pos.entry.contract, history.spx_open[i], history.spx_close[i])
            loss = settlement_loss(pos.entry.contract.strike, value, pos.entry.contracts)
            cash -= loss
            trades.append(_trade(pos, value, round(pos.entry.premium - loss, 2)))
            positions.remove(pos)
        holdings = [Holding(p.entry.contract, p.entry.contracts, float(p.marks[i - p.first])) for p in positions]
        market = MarketDay(day, float(history.spx_close[i]), float(history.vix[i]), float(history.vix3m[i]),
                           float(history.rate[i]))
        liability = sum(h.mark * 100 * h.contracts for h in holdings)
        decision = rules.decide_entry(
            market, holdings, cash - liability,
            source.listed_expiries(day, day + horizon, monthly_only),
            lambda expiry: source.listed_strikes(day, expiry),
            lambda contract: quote_put(source, history, i, contract),
        )
        if isinstance(decision, Entry):
            pos = _open(source, history, decision, i)
            positions.append(pos)
            cash += decision.premium
            liability += decision.quote.price * 100 * decision.contracts
        position_days += len(positions)
        equity[i - first] = cash - liability

    trades.extend(_trade(p, None, None) for p in positions)
    trades.sort(key=lambda t: (t.entry_date, t.expiry))
    dates = list(history.dates[first:stop])
    riskfree = np.exp(history.rate[first:stop - 1] * np.diff(ordinals[first:stop]) / 365.0) - 1.0
    closed = [t.pnl for t in trades if t.pnl is not None]
    span = (dates[-1] - dates[0]).days
    curve = np.concatenate([[capital], equity])
    riskfree = np.concatenate([[0.0], riskfree])  # the first session carries no interest on the initial cash
    real = sum(1 for t in trades if t.source == "real")
    return BacktestResult(dates[0], dates[-1], trades, dates, equity,
                          metrics.compute(curve, riskfree, span, closed),
                          real, len(trades) - real, position_days)


def _open(source: MarketSource, history: History, entry: Entry, i: int) -> _Position:
    ordinals = history.ordinals
    target = entry.contract.expiry.toordinal()
    expiry_index = int(np.searchsorted(ordinals, target))
    stop = expiry_index if expiry_index < len(ordinals) else len(ordinals)
    marks, _, _, _ = _marks(source, history, entry.contract, i, stop)
    marks[0] = entry.quote.price
    return _Position(entry, history.dates[i], i, expiry_index if expiry_index < len(ordinals) else None, marks)


def _trade(pos: _Position, settlement: float | None, pnl: float | None) -> Trade:
    e = pos.entry
    return Trade(e.contract.ticker, e.contract.root, pos.day, e.contract.expiry, e.contract.strike, e.contracts,
                 e.quote.price, e.fill, e.premium, e.quote.source, e.quote.delta, e.quote.iv, settlement, pnl)
