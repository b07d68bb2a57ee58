"""Live results against the backtest: divergence, its status and the action it calls for."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from data.errors import DataError
from data.market import MarketSource
from db.models import CombinationResult, Halt, Position, WheelParameters
from trading.account import AccountView, Held, book_account, view
from trading.ledger import TradeError, active_halt, closed_as_of, open_as_of, strategy_of
from trading.trader import DayMarket, ManualInputs, contract_of, day_market

MIN_TRADES = 10


@dataclass(frozen=True)
class Status:
    name: str
    exit_code: int
    action: str
    mark: str  # beside the divergence: ✓ fine, ! act, - too few trades to say either


WITHIN = Status("WITHIN TOLERANCE", 0, "normal variance, continue", "✓")
INSUFFICIENT = Status("INSUFFICIENT SAMPLE", 10, "too few closed trades to judge; continue", "-")
MONITOR = Status("MONITOR", 11, "monitor closely", "!")
RECALIBRATE = Status("RECALIBRATE", 12, "recalibrate now: ./scripts/calibrate_spx_wheel.sh", "!")
STOP = Status("STOP TRADING", 13, "trading halted: investigate, then recalibrate or run spx-wheel resume", "!")


def divergence_status(divergence_points: float, closed_trades: int, min_trades: int = MIN_TRADES) -> Status:
    """Under 5 points normal, 5-10 monitor, over 10 recalibrate, over 20 stop; no action below the sample."""
    if closed_trades < min_trades:
        return INSUFFICIENT
    size = abs(divergence_points)
    if size > 20:
        return STOP
    if size > 10:
        return RECALIBRATE
    if size >= 5:
        return MONITOR
    return WITHIN


def binomial_pmf(k: int, n: int, p: float) -> float:
    """P(X = k) for X ~ Binomial(n, p), in log space so that n may be large."""
    if p <= 0.0 or p >= 1.0:
        return float(k == (0 if p <= 0.0 else n))
    log = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
           + (n - k) * math.log1p(-p))
    return math.exp(log)


def record_likelihood(wins: int, trades: int, rate: float) -> float:
    """How likely a record at least this far from the backtest's win rate is, if that rate were true (one tail).
    (Summed here: scipy.stats would cost every check 0.3 s to import.)"""
    if trades == 0:
        return 1.0
    tail = range(0, wins + 1) if wins / trades <= rate else range(wins, trades + 1)
    return min(1.0, math.fsum(binomial_pmf(k, trades, rate) for k in tail))


@dataclass(frozen=True)
class OpenMark:
    position: Position
    mark: float | None  # per share; None when the day's market is unknown
    unrealised: float | None  # dollars


@dataclass(frozen=True)
class Performance:
    as_of: dt.date
    closed: list[Position]
    open: list[OpenMark]
    params: WheelParameters
    wins: int
    live_win_rate: float | None
    divergence: float | None  # percentage points
    likelihood: float | None  # None when there is nothing to compare
    status: Status
    halt: Halt | None
    account: AccountView | None = None  # None while an open put has no mark

    @property
    def total_pnl(self) -> float:
        return sum(p.pnl_cents or 0 for p in self.closed) / 100


def performance(session: Session, source: MarketSource, as_of: dt.date, params: WheelParameters,
                min_trades: int = MIN_TRADES) -> Performance:
    closed = closed_as_of(session, as_of)
    wins = sum(1 for p in closed if (p.pnl_cents or 0) > 0)
    live = wins / len(closed) if closed else None
    backtest = params.backtest_win_rate
    divergence = (live - backtest) * 100 if live is not None and backtest is not None else None
    status = divergence_status(divergence or 0.0, len(closed), min_trades)
    likelihood = record_likelihood(wins, len(closed), backtest) if backtest is not None and closed else None
    try:
        market: DayMarket | None = day_market(source, as_of, ManualInputs())
    except TradeError:
        market = None
    marks = _marks(session, market, as_of)
    return Performance(as_of, closed, marks, params, wins, live, divergence, likelihood, status,
                       active_halt(session, as_of),
                       _book_view(params, closed, marks, market, peak_exposure(session, params)))


def peak_exposure(session: Session, saved: WheelParameters) -> float | None:
    """The most notional the calibrated run of these parameters carried, a share of its equity."""
    result = session.get(CombinationResult, saved.result_id)
    return None if result is None else result.peak_exposure


def _book_view(saved: WheelParameters, closed: list[Position], marks: list[OpenMark],
               market: DayMarket | None, peak: float | None) -> AccountView | None:
    if market is None or any(o.mark is None for o in marks):
        return None
    params = strategy_of(saved)
    held = [Held(o.position.strike_cents / 100, o.position.contracts, o.position.premium_cents / 100, o.mark or 0.0,
                 market.day.spot * contract_of(o.position).underlying.scale) for o in marks]
    account = book_account(params, sum(p.pnl_cents or 0 for p in closed) / 100, held)
    return view("book", params, account, sum(h.strike * 100 * h.contracts for h in held), len(held), peak)


def _marks(session: Session, market: DayMarket | None, as_of: dt.date) -> list[OpenMark]:
    positions = open_as_of(session, as_of)
    if market is None:
        return [OpenMark(p, None, None) for p in positions]
    marks = []
    for p in positions:
        try:
            price = market.quote(contract_of(p)).price
        except DataError:
            marks.append(OpenMark(p, None, None))
            continue
        marks.append(OpenMark(p, price, p.premium_cents / 100 - price * 100 * p.contracts))
    return marks


def halt_if_stopped(session: Session, report: Performance, now: dt.datetime) -> Halt | None:
    """Set a halt for a STOP status unless one is already active (set by a sibling meanwhile, too)."""
    if report.status is not STOP or active_halt(session, report.as_of) is not None:
        return None
    halt = Halt(created_at=now, as_of=report.as_of,
                reason=f"live win rate {report.live_win_rate:.1%} vs backtest {report.params.backtest_win_rate:.1%} "
                       f"({report.divergence:+.1f} points)")
    session.add(halt)
    return halt
