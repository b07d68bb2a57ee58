"""The historical engine: walks NYSE sessions, settles, marks to market and opens positions by the rules it is
given. No network and no database: the source has all its data before the run starts."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from backtest import metrics
from backtest.decision import LifePricer, decide_day, decide_exits, settlement_index
from backtest.records import Sold
from backtest.types import Entry, Exit, Hold, Holding, MarketDay, Quote, Rules
from data.contracts import OptionContract
from data.errors import SpxWheelError
from data.market import History, MarketSource
from data.provenance import PriceSource, SettlementSource


class BacktestError(SpxWheelError):
    """The backtest cannot run on this window or data."""


@dataclass(frozen=True)
class Trade(Sold):
    """One position of the backtest: settled at expiry, bought back by an exit rule, or still open when the window
    ended."""

    entry_price: float  # the put's price at the entry close (real or estimated)
    fill: float  # after slippage
    premium: float  # net dollars received (after fees)
    source: PriceSource  # the entry price's
    entry_delta: float  # estimated Black-Scholes delta of the chosen strike (negative)
    entry_iv: float
    settlement: float | None  # settlement value of the index; None while open or after an exit
    pnl: float | None  # net dollars; None while open
    settlement_source: SettlementSource | None = None  # how it closed (None while open)
    exit_reason: str | None = None  # what the exit rule said, for a position bought back
    exit_date: dt.date | None = None  # the session it was bought back
    exit_price: float | None = None  # the put's price on the buy-back day (real or estimated)
    exit_fill: float | None = None  # what a share paid, spread included
    exit_source: PriceSource | None = None  # the buy-back price's

    @property
    def won(self) -> bool:
        return self.pnl is not None and self.pnl > 0


class Tally(NamedTuple):
    """What the output counts of a run's trades, kept beside them: a grid's thousand results are shown without
    building their trades."""

    real: int  # entries priced by the contract's real close
    stand_in_settlements: int  # settled on a stand-in value (an AM settlement whose open is not known)
    buy_backs: int  # closed by an exit rule or a margin call, each priced real or estimated like an entry
    real_buy_backs: int
    entry_delta: float  # the mean of -delta at entry; NaN without trades


def tally(trades: Sequence[Trade]) -> Tally:
    bought = [t for t in trades if t.exit_source is not None]
    return Tally(sum(1 for t in trades if t.source == PriceSource.REAL),
                 sum(1 for t in trades if t.settlement_source == SettlementSource.STAND_IN), len(bought),
                 sum(1 for t in bought if t.exit_source == PriceSource.REAL),
                 sum(-t.entry_delta for t in trades) / len(trades) if trades else math.nan)


@dataclass
class BacktestResult:
    start: dt.date
    end: dt.date
    trades: Sequence[Trade]  # by entry date (the grid engine's are built when first read)
    dates: list[dt.date]
    equity: np.ndarray
    metrics: metrics.Metrics
    position_days: int
    tally: Tally
    ruined: dt.date | None = None  # the session equity reached zero: the run stopped there
    deficit: float = 0.0  # at ruin, what the account would owe: its puts' marks less its cash, in dollars
    vix3m_missing: int = 0  # sessions without VIX3M, where the estimate used VIX alone
    exposure: tuple[float, float] = (0.0, 0.0)  # open puts' notional (100 x strike) / equity: average, peak
    returns: np.ndarray = field(default_factory=lambda: np.empty(0))  # each session's, the first's from capital
    riskfree: np.ndarray = field(default_factory=lambda: np.empty(0))  # the T-bill's return of each session

    @property
    def excess(self) -> np.ndarray:
        """Each session's return less the T-bill's (what the Sharpe ratio is measured on)."""
        excess: np.ndarray = self.returns - self.riskfree
        return excess

    @property
    def closed(self) -> list[Trade]:
        return [t for t in self.trades if t.pnl is not None]

    @property
    def real(self) -> int:
        """Trades whose entry price was the contract's real close."""
        return self.tally.real

    @property
    def estimated(self) -> int:
        return len(self.trades) - self.tally.real

    @property
    def stand_in_settlements(self) -> int:
        return self.tally.stand_in_settlements


@dataclass
class _Position:
    """An open position and the marks of its whole life, priced once at entry."""

    entry: Entry
    day: dt.date
    first: int  # history index of the entry session
    expiry_index: int  # history index of the settlement session (len(dates) when beyond the data)
    marks: list[float]  # put price on sessions first .. expiry_index - 1
    real: np.ndarray  # which of the marks are real closes
    notional: float = field(init=False)  # dollars the puts would cost at a settlement of zero: 100 x strike x n

    def __post_init__(self) -> None:
        self.notional = self.entry.contract.strike * 100 * self.entry.contracts

    def mark(self, i: int) -> float:
        return self.marks[i - self.first]

    def liability(self, i: int) -> float:
        """Dollars owed on the put at session i's close, by its mark."""
        return self.marks[i - self.first] * 100 * self.entry.contracts

    def quote(self, source: MarketSource, day: dt.date, i: int) -> Quote:
        """The put's price at session i's close as a buy-back sees it, with the day's bid and ask where quoted."""
        bid, ask = source.quoted(self.entry.contract, day) or (math.nan, math.nan)
        return Quote(self.mark(i), PriceSource.REAL if self.real[i - self.first] else PriceSource.ESTIMATED,
                     math.nan, math.nan, bid, ask)


def run_backtest(source: MarketSource, rules: Rules, start: dt.date, end: dt.date, capital: float,
                 monthly_only: bool = False) -> BacktestResult:
    """Trade the rules over the sessions from start to end (inclusive). Each session: interest, settlements,
    the rules' exits, then at most one entry; equity is cash less the open puts' marks."""
    history = source.history()
    first, stop = history.window(start, end)
    if stop - first < 2:
        raise BacktestError(f"fewer than two sessions of data between {start} and {end}")
    growth = session_growth(history, first, stop)
    cash = capital
    positions: list[_Position] = []
    trades: list[Trade] = []
    equity = np.empty(stop - first)
    position_days = 0
    closes, opens = history.spx_close.tolist(), history.spx_open.tolist()
    vix, vix3m, rate = history.vix.tolist(), history.vix3m.tolist(), history.rate.tolist()
    next_settlement = len(history.dates)
    ruined: dt.date | None = None
    deficit = 0.0
    exposure_sum = exposure_peak = 0.0

    for i in range(first, stop):
        if i > first:
            cash *= growth[i - first - 1]
        if i == next_settlement:
            for pos in [p for p in positions if p.expiry_index == i]:
                e = pos.entry
                value, pnl = rules.settle(e.contract, e.contracts, e.premium, opens[i], closes[i])
                cash -= e.premium - pnl  # the settlement loss
                trades.append(_trade(pos, value, pnl, history.settlement_source(i, e.contract.am_settled)))
                positions.remove(pos)
            next_settlement = min((p.expiry_index for p in positions), default=len(history.dates))
        market = MarketDay(history.dates[i], closes[i], vix[i], vix3m[i], rate[i])
        holdings = [Holding(p.entry.contract, p.entry.contracts, p.mark(i), p.entry.fill) for p in positions]
        if holdings:
            by_contract = {p.entry.contract: p for p in positions}

            def quote(contract: OptionContract) -> Quote:
                return by_contract[contract].quote(source, market.date, i)

            cash -= _close_early(positions, holdings, decide_exits(rules, market, holdings, quote), trades,
                                 market.date)
            calls = rules.margin_call(market, holdings, cash - sum(p.liability(i) for p in positions), quote)
            cash -= _close_early(positions, holdings, calls, trades, market.date)
            next_settlement = min((p.expiry_index for p in positions), default=len(history.dates))
        owed = sum(p.liability(i) for p in positions)
        if cash - owed <= 0:  # ruin: the account is gone, and the run stops here
            ruined, stop, deficit = market.date, i + 1, round(owed - cash, 2)
            equity[i - first] = 0.0
            break
        pricer = LifePricer(source, history, i)
        decision = decide_day(rules, source, market, holdings, cash - owed, monthly_only, pricer.quote)
        if isinstance(decision, Entry):
            life = pricer.lives[decision.contract]
            pos = _Position(decision, market.date, i, settlement_index(history, decision.contract),
                            life.marks.tolist(), life.real)
            positions.append(pos)
            cash += decision.premium
            owed += pos.liability(i)
            next_settlement = min(next_settlement, pos.expiry_index)
        position_days += len(positions)
        equity[i - first] = cash - owed
        if positions:
            share = sum(p.notional for p in positions) / equity[i - first]
            exposure_sum, exposure_peak = exposure_sum + share, max(exposure_peak, share)

    trades.extend(_trade(p, None, None, None) for p in positions)
    trades.sort(key=lambda t: (t.entry_date, t.expiry))
    return summarize(history, first, capital, growth, equity[:stop - first], trades,
                     [t.pnl for t in trades if t.pnl is not None], tally(trades), position_days, ruined, exposure_sum,
                     exposure_peak, deficit)


def session_growth(history: History, first: int, stop: int) -> np.ndarray:
    """What a dollar of cash grows to over each session after the first of first..stop-1 (the T-bill rate)."""
    growth: np.ndarray = np.exp(history.rate[first:stop - 1] * np.diff(history.ordinals[first:stop]) / 365.0)
    return growth


def summarize(history: History, first: int, capital: float, growth: np.ndarray, equity: np.ndarray,
              trades: Sequence[Trade], closed: list[float], counted: Tally, position_days: int,
              ruined: dt.date | None, exposure_sum: float, exposure_peak: float,
              deficit: float = 0.0) -> BacktestResult:
    """The result of a run over sessions first.. (as many as `equity` has): its metrics from the equity curve and
    the closed trades' P&L."""
    stop = first + len(equity)
    dates = list(history.dates[first:stop])
    curve = np.concatenate([[capital], equity])
    riskfree = np.concatenate([[0.0], growth[:stop - first - 1] - 1.0])  # no interest on the first session
    return BacktestResult(dates[0], dates[-1], trades, dates, equity,
                          metrics.compute(curve, riskfree, (dates[-1] - dates[0]).days, closed), position_days,
                          counted, ruined, deficit, int(np.isnan(history.vix3m[first:stop]).sum()),
                          (exposure_sum / len(dates), exposure_peak), curve[1:] / curve[:-1] - 1.0, riskfree)


def _close_early(positions: list[_Position], holdings: list[Holding], decisions: Sequence[Exit | Hold],
                 trades: list[Trade], day: dt.date) -> float:
    """Buy back the positions the rules said to (each holding has its decision), recording each as a trade;
    returns the cash it cost. `positions` and `holdings` keep the others."""
    spent = 0.0
    if all(isinstance(decision, Hold) for decision in decisions):
        return spent
    for pos, holding, decision in zip(list(positions), list(holdings), decisions, strict=True):
        if isinstance(decision, Exit):
            spent += decision.cost
            trades.append(_trade(pos, None, round(pos.entry.premium - decision.cost, 2), SettlementSource.EXIT,
                                 decision, day))
            positions.remove(pos)
            holdings.remove(holding)
    return spent


def _trade(pos: _Position, settlement: float | None, pnl: float | None,
           settlement_source: SettlementSource | None, bought: Exit | None = None,
           day: dt.date | None = None) -> Trade:
    e = pos.entry
    exit_fields = (bought.reason, day, bought.quote.price, bought.fill, bought.quote.source) if bought else ()
    return Trade(e.contract.ticker, e.contract.root, pos.day, e.contract.expiry, e.contract.strike, e.contracts,
                 e.quote.price, e.fill, e.premium, e.quote.source, e.quote.delta, e.quote.iv, settlement, pnl,
                 settlement_source, *exit_fields)
