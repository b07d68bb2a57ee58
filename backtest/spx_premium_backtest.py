"""The historical engine: walks NYSE sessions, settles, marks to market and opens positions by the rules it is
given. No network and no database: the source has all its data before the run starts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from backtest import metrics
from backtest.types import Entry, Holding, MarketDay, Quote, QuoteFn, Rules, Skip
from data.contracts import OptionContract
from data.errors import SpxWheelError
from data.market import History, MarketSource
from data.pricing import estimate_put, years_to_settlement


class BacktestError(SpxWheelError):
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
    settlement_source: str | None = None  # 'real', or 'stand-in' for an AM settlement on an unknown open

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
    position_days: int

    @property
    def closed(self) -> list[Trade]:
        return [t for t in self.trades if t.pnl is not None]

    @property
    def real(self) -> int:
        """Trades whose entry price was the contract's real close."""
        return sum(1 for t in self.trades if t.source == "real")

    @property
    def estimated(self) -> int:
        return len(self.trades) - self.real

    @property
    def stand_in_settlements(self) -> int:
        """Closed trades settled on a stand-in value (an AM settlement whose open is not known)."""
        return sum(1 for t in self.trades if t.settlement_source == "stand-in")


@dataclass
class _Position:
    entry: Entry
    day: dt.date
    first: int  # history index of the entry session
    expiry_index: int  # history index of the settlement session (len(dates) when beyond the data)
    marks: list[float]  # put price on sessions first .. expiry_index - 1


def quote_put(source: MarketSource, history: History, i: int, contract: OptionContract) -> Quote:
    """The put's price at session i's close: its real close when the source has one, else the estimate."""
    return _life_marks(source, history, contract, i, i + 1)[1]


def estimated_quote(day: MarketDay, contract: OptionContract) -> Quote:
    """The estimate alone (Black-Scholes with the VIX skew model) for a put at a day's close."""
    t = years_to_settlement((contract.expiry - day.date).days, contract.am_settled)
    price, iv, delta = estimate_put(day.spot, contract.strike, t, day.rate, day.vix, day.vix3m)
    return Quote(float(price), "estimated", float(iv), float(delta))


def _life_marks(source: MarketSource, history: History, contract: OptionContract, first: int,
                stop: int) -> tuple[np.ndarray, Quote]:
    """The put's marks on sessions first..stop-1 (real closes where the source has them) and its entry quote."""
    days = history.ordinals[first:stop]
    t = years_to_settlement(contract.expiry.toordinal() - days, contract.am_settled)
    price, iv, delta = estimate_put(history.spx_close[first:stop], contract.strike, t, history.rate[first:stop],
                                    history.vix[first:stop], history.vix3m[first:stop])
    marks = np.atleast_1d(price)
    real_close = source.option_closes(contract, history.dates[first:stop])
    if real_close is not None:
        marks = np.where(np.isnan(real_close), marks, real_close)
    real = real_close is not None and not np.isnan(real_close[0])
    entry = Quote(float(marks[0]), "real" if real else "estimated", float(np.atleast_1d(iv)[0]),
                  float(np.atleast_1d(delta)[0]))
    return marks, entry


def decide_day(rules: Rules, source: MarketSource, day: MarketDay, holdings: list[Holding], equity: float,
               monthly_only: bool, quote: QuoteFn) -> Entry | Skip:
    """One day's entry decision, exactly as the engine and the daily trader both ask it."""
    def expiries() -> Sequence[dt.date]:
        return source.listed_expiries(day.date, day.date + dt.timedelta(days=rules.expiry_horizon()), monthly_only)

    return rules.decide_entry(day, holdings, equity, expiries, lambda expiry: source.listed_strikes(day.date, expiry),
                              quote)


def run_backtest(source: MarketSource, rules: Rules, start: dt.date, end: dt.date, capital: float,
                 monthly_only: bool = False) -> BacktestResult:
    """Trade the rules over the sessions from start to end (inclusive)."""
    history = source.history()
    first, stop = history.window(start, end)
    if stop - first < 2:
        raise BacktestError(f"fewer than two sessions of data between {start} and {end}")
    ordinals = history.ordinals
    growth = np.exp(history.rate[first:stop - 1] * np.diff(ordinals[first:stop]) / 365.0)
    liability = np.zeros(stop - first)  # dollars owed on the open puts at each close, by their marks
    cash = capital
    positions: list[_Position] = []
    trades: list[Trade] = []
    equity = np.empty(stop - first)
    position_days = 0

    closes, opens = history.spx_close.tolist(), history.spx_open.tolist()
    vix, vix3m, rate = history.vix.tolist(), history.vix3m.tolist(), history.rate.tolist()
    next_settlement = len(ordinals)
    today = [first]  # the session the quote function prices at
    priced: dict[OptionContract, np.ndarray] = {}

    def quote(contract: OptionContract) -> Quote:
        marks, entry = _life_marks(source, history, contract, today[0], _settlement_index(history, contract))
        priced[contract] = marks
        return entry

    for i in range(first, stop):
        day = history.dates[i]
        if i > first:
            cash *= growth[i - first - 1]
        if i == next_settlement:
            for pos in [p for p in positions if p.expiry_index == i]:
                e = pos.entry
                value, pnl = rules.settle(e.contract, e.contracts, e.premium, opens[i], closes[i])
                cash -= e.premium - pnl  # the settlement loss
                trades.append(_trade(pos, value, pnl, history.settlement_source(i, e.contract.am_settled)))
                positions.remove(pos)
            next_settlement = min((p.expiry_index for p in positions), default=len(ordinals))
        holdings = [Holding(p.entry.contract, p.entry.contracts, p.marks[i - p.first]) for p in positions]
        market = MarketDay(day, closes[i], vix[i], vix3m[i], rate[i])
        today[0] = i
        decision = decide_day(rules, source, market, holdings, cash - liability[i - first], monthly_only, quote)
        if isinstance(decision, Entry):
            marks = priced.pop(decision.contract)
            pos = _Position(decision, day, i, _settlement_index(history, decision.contract), marks.tolist())
            positions.append(pos)
            next_settlement = min(next_settlement, pos.expiry_index)
            cash += decision.premium
            until = min(pos.expiry_index, stop) - first
            liability[i - first:until] += marks[:until - (i - first)] * 100 * decision.contracts
        if priced:
            priced.clear()  # a contract priced but not sold (margin cap, tiny premium)
        position_days += len(positions)
        equity[i - first] = cash - liability[i - first]

    trades.extend(_trade(p, None, None, None) for p in positions)
    trades.sort(key=lambda t: (t.entry_date, t.expiry))
    dates = list(history.dates[first:stop])
    closed = [t.pnl for t in trades if t.pnl is not None]
    curve = np.concatenate([[capital], equity])
    riskfree = np.concatenate([[0.0], growth - 1.0])  # the first session earns no interest on the initial cash
    return BacktestResult(dates[0], dates[-1], trades, dates, equity,
                          metrics.compute(curve, riskfree, (dates[-1] - dates[0]).days, closed), position_days)


def _settlement_index(history: History, contract: OptionContract) -> int:
    """History index of the session that settles the contract (len(dates) when it lies beyond the data)."""
    return int(np.searchsorted(history.ordinals, contract.expiry.toordinal()))


def _trade(pos: _Position, settlement: float | None, pnl: float | None, settlement_source: str | None) -> Trade:
    e = pos.entry
    return Trade(e.contract.ticker, e.contract.root, pos.day, e.contract.expiry, e.contract.strike, e.contracts,
                 e.quote.price, e.fill, e.premium, e.quote.source, e.quote.delta, e.quote.iv, settlement, pnl,
                 settlement_source)
