"""The daily trader: settle what expired, then open at most one position by the same rules as the backtest.

One call is one transaction, serialised against other runs by a row lock taken first.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from backtest.decision import decide_day, decide_exits, estimated_quote, quote_put
from backtest.records import TradeRecord
from backtest.types import Entry, Exit, Hold, Holding, MarketDay, Quote, Skip, net_premium
from data.calendar import is_session
from data.contracts import OptionContract, parse_ticker
from data.errors import BadInput, DataError
from data.market import MarketSource
from data.provenance import Named, PriceSource, SettlementSource
from db.mapping import close_by_exit, position_of_entry, record_of_position
from db.models import DailyRun, Lock, Order, Position, PositionStatus, SettlementValue, WheelParameters
from trading.ledger import TradeError, active_halt, active_parameters, strategy_of
from trading.orders import entry_order, exit_order
from trading.rules import Rules, settle, settle_at


@dataclass(frozen=True)
class ManualInputs:
    """Market data typed in by the user (read off a broker screen) for a day the source cannot serve."""

    spot: float | None = None
    vix: float | None = None
    vix3m: float | None = None
    price: float | None = None


class Outcome(Named):
    """What a daily run did."""

    OPENED = "opened"
    ORDERED = "ordered"  # a broker run: the sale is an order, a position once the broker fills it
    SKIPPED = "skipped"
    HALTED = "halted"
    CLOSED_MARKET = "closed-market"
    ALREADY_RAN = "already-ran"


@dataclass
class DailyReport:
    as_of: dt.date
    outcome: Outcome
    message: str
    settled: list[TradeRecord] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    closed: list[TradeRecord] = field(default_factory=list)  # bought back by an exit rule or a margin call
    opened: TradeRecord | None = None
    entry: Entry | None = None
    orders: list[Order] = field(default_factory=list)  # a broker run's: recorded, not yet sent


def acquire(session: Session, name: str, now: dt.datetime) -> None:
    """Take the named row lock: a second writer waits here until the first commits."""
    session.execute(update(Lock).where(Lock.name == name).values(acquired_at=now))


def contract_of(position: Position) -> OptionContract:
    return parse_ticker(position.ticker)


def settle_expired(session: Session, source: MarketSource, as_of: dt.date,
                   typed_close: float | None = None) -> tuple[list[Position], list[str]]:
    """Cash-settle every open position whose expiry is on or before `as_of`: at a value given by hand where there
    is one (`settle`, or today's close typed with --spot for a PM settlement today), else from the source (AM at
    the open, PM at the close)."""
    history = source.history()
    given = session.execute(select(SettlementValue.expiry, SettlementValue.value_cents))
    manual: dict[dt.date, int] = {expiry: cents for expiry, cents in given}
    settled, unsettled = [], []
    expired = session.scalars(select(Position).where(Position.status == PositionStatus.OPEN, Position.expiry <= as_of)
                              .order_by(Position.expiry, Position.id))
    for position in expired:
        contract, premium = contract_of(position), position.premium_cents / 100
        if typed_close is not None and position.expiry == as_of and not contract.am_settled:
            manual.setdefault(as_of, round(typed_close * 100))
        if position.expiry == history.provisional and position.expiry not in manual:
            unsettled.append(f"{position.ticker} expires today: it settles on today's close, which this run does "
                             "not have yet (the next day's run settles it)")
            continue
        if position.expiry in manual:
            value = manual[position.expiry] / 100
            _close(position, as_of, value, settle_at(contract, position.contracts, premium, value),
                   SettlementSource.MANUAL)
            settled.append(position)
            continue
        try:
            i = history.index_of(position.expiry)
        except DataError:
            unsettled.append(f"cannot settle {position.ticker} yet: the {source.name} source has no SPX data for "
                             f"{position.expiry} (run spx-wheel update, or give the value with spx-wheel settle "
                             f"--expiry {position.expiry} --value V)")
            continue
        value, pnl = settle(contract, position.contracts, premium, float(history.spx_open[i]),
                            float(history.spx_close[i]))
        _close(position, as_of, value, pnl, history.settlement_source(i, contract.am_settled))
        settled.append(position)
    return settled, unsettled


def _close(position: Position, as_of: dt.date, value: float, pnl: float, source: SettlementSource) -> None:
    position.status, position.settled_on, position.settlement_source = PositionStatus.CLOSED, as_of, source
    position.settlement_cents, position.pnl_cents = round(value * 100), round(pnl * 100)


def record_manual_settlement(session: Session, expiry: dt.date, value: float, now: dt.datetime) -> list[Position]:
    """Store a settlement value given by hand; positions of that expiry already settled on a stand-in are settled
    again at it (returned). Positions settled on a real or manual value are left as they are."""
    stored = session.get(SettlementValue, expiry)
    if stored is None:
        session.add(SettlementValue(expiry=expiry, value_cents=round(value * 100), source=SettlementSource.MANUAL,
                                     created_at=now))
    else:
        stored.value_cents, stored.created_at = round(value * 100), now
    redone = (SettlementSource.STAND_IN, SettlementSource.MANUAL)
    again = list(session.scalars(select(Position).where(Position.expiry == expiry,
                                                        Position.status == PositionStatus.CLOSED,
                                                        Position.settlement_source.in_(redone))))
    for position in again:
        pnl = settle_at(contract_of(position), position.contracts, position.premium_cents / 100, value)
        _close(position, position.settled_on or expiry, value, pnl, SettlementSource.MANUAL)
    return again


@dataclass(frozen=True)
class DayMarket:
    """The day's market as the rules see it, and how to price a put on it."""

    day: MarketDay
    source: MarketSource
    index: int | None  # the day's position in the source history, None when typed in by hand
    manual_price: float | None

    def quote(self, contract: OptionContract) -> Quote:
        """The price of the put to sell: the one typed in with --price, else the mark."""
        if self.manual_price is None:
            return self.mark(contract)
        estimate = estimated_quote(self.day, contract)
        return Quote(self.manual_price, PriceSource.MANUAL, estimate.iv, estimate.delta)

    def mark(self, contract: OptionContract) -> Quote:
        """A put's price at the day's close from the source (real where it has it), else the estimate."""
        if self.index is not None:
            return quote_put(self.source, self.source.history(), self.index, contract)
        return estimated_quote(self.day, contract)


def day_market(source: MarketSource, as_of: dt.date, manual: ManualInputs) -> DayMarket:
    """The source's close for `as_of`, with any typed-in value taking precedence."""
    history = source.history()
    try:
        i: int | None = history.index_of(as_of)
    except DataError:
        i = None
    if i is None and (manual.spot is None or manual.vix is None):
        later = as_of > history.dates[-1]
        raise TradeError(f"no market data for {as_of} {'yet ' if later else ''}from the {source.name} source (it "
                         f"covers {history.dates[0]} .. {history.dates[-1]}): "
                         f"{'run spx-wheel update once the close is published, or ' if later else ''}give the "
                         "day's SPX close and VIX with --spot and --vix (and the option's price with --price)")
    last = i if i is not None else len(history.dates) - 1
    spot = manual.spot if manual.spot is not None else float(history.spx_close[last])
    vix = manual.vix if manual.vix is not None else float(history.vix[last])
    vix3m = manual.vix3m if manual.vix3m is not None else (float(history.vix3m[i]) if i is not None else math.nan)
    day = MarketDay(as_of, spot, vix, vix3m, float(history.rate[last]))
    typed = manual.spot is not None or manual.vix is not None or manual.vix3m is not None
    return DayMarket(day, source, None if typed else i, manual.price)


def _positions(session: Session, status: PositionStatus) -> list[Position]:
    """Positions by their status as this session has it (a settlement not yet written included)."""
    return [p for p in session.scalars(select(Position).order_by(Position.id)) if p.status == status]


def account_equity(session: Session, capital: float, holdings: list[Holding],
                   open_positions: list[Position]) -> float:
    """Capital plus realised P&L plus open premiums less the open puts' marks (no interest, unlike the backtest)."""
    realised = sum(p.pnl_cents or 0 for p in _positions(session, PositionStatus.CLOSED)) / 100
    premiums = sum(p.premium_cents for p in open_positions) / 100
    marks = sum(h.mark * 100 * h.contracts for h in holdings)
    return capital + realised + premiums - marks


def already_ran(session: Session, as_of: dt.date) -> DailyReport | None:
    """The report of a day already run (nothing changes), or None."""
    done = session.scalars(select(DailyRun).where(DailyRun.as_of == as_of)).first()
    if done is None:
        return None
    return DailyReport(as_of, Outcome.ALREADY_RAN,
                       f"already ran for {as_of} ({done.message}); nothing changed")


def run_daily(session: Session, source: MarketSource, as_of: dt.date, now: dt.datetime,
              manual: ManualInputs = ManualInputs(), write: bool = True, broker: str | None = None) -> DailyReport:
    """The whole daily run inside the caller's transaction, which commits it. With `write` False (a dry run)
    the same decision is made without a single write, so it works on a read-only database too. With a `broker`
    the sale and the buy-backs become orders to it (report.orders), and positions change when it fills them."""
    if write:
        acquire(session, "trade", now)  # a sibling run may have done the day while this one waited
    done = already_ran(session, as_of)
    if done is not None:
        return done
    changed = or_(DailyRun.position_id.is_not(None), DailyRun.settled > 0, DailyRun.closed > 0,
                  DailyRun.outcome == Outcome.ORDERED)
    latest = session.scalars(select(DailyRun.as_of).where(changed).order_by(DailyRun.as_of.desc()).limit(1)).first()
    if latest is not None and latest > as_of:
        raise TradeError(f"positions already changed on a later day ({latest}): daily runs must go forward in time; "
                         "to replay earlier days, use another database (--db replay.db or SPX_WHEEL_DB)")
    if not is_session(as_of):
        report = DailyReport(as_of, Outcome.CLOSED_MARKET, f"{as_of} is not an NYSE trading day: nothing to do")
        if write:
            session.add(DailyRun(as_of=as_of, started_at=now, outcome=report.outcome, message=report.message,
                                 settled=0))
        return report
    with session.no_autoflush:  # a dry run's settlements stay in memory: the queries below see them there
        settled, unsettled = settle_expired(session, source, as_of, manual.spot)
        saved = active_parameters(session)
        if saved is None:
            raise TradeError("no WheelParameters saved: run calibrate first")
        report = _decide(session, source, as_of, manual, saved, broker, now)
    report.settled, report.unsettled = [record_of_position(p) for p in settled], unsettled
    if broker is not None and report.entry is not None:
        report.orders.append(entry_order(report.entry, as_of, saved.id, broker, now))
    if not write:
        return report
    session.add_all(report.orders)
    if report.entry is not None and broker is None:
        position = position_of_entry(report.entry, as_of, saved.id)
        session.add(position)
        session.flush()  # its id, for the log row
        report.opened = record_of_position(position)
    session.add(DailyRun(as_of=as_of, started_at=now, outcome=report.outcome, message=report.message,
                         settled=len(settled), closed=len(report.closed),
                         position_id=report.opened.id if report.opened else None, parameters_id=saved.id))
    return report


def _decide(session: Session, source: MarketSource, as_of: dt.date, manual: ManualInputs,
            saved: WheelParameters, broker: str | None, now: dt.datetime) -> DailyReport:
    orders: list[Order] = []

    def close(position: Position, decision: Exit) -> None:
        if broker is None:
            close_by_exit(position, as_of, decision)
            return
        order = exit_order(session, position, decision, as_of, broker, now)
        orders.extend([order] if order is not None else [])

    report = _decide_rules(session, source, as_of, manual, saved, close)
    report.orders = orders
    if broker is not None:
        report.closed = []  # still open: the broker's fills close them
        if report.outcome is Outcome.OPENED:
            report.outcome, report.message = Outcome.ORDERED, f"ordered {report.message.removeprefix('opened ')}"
    return report


def _decide_rules(session: Session, source: MarketSource, as_of: dt.date, manual: ManualInputs,
                  saved: WheelParameters, close: Callable[[Position, Exit], None]) -> DailyReport:
    params = strategy_of(saved)
    market = day_market(source, as_of, manual)
    rules = Rules(params)
    open_positions = _positions(session, PositionStatus.OPEN)
    holdings = [Holding(contract_of(p), p.contracts, market.mark(contract_of(p)).price, p.fill_cents / 100)
                for p in open_positions]
    # the backtest's order: the exit rules, then a margin call on what is left, then the entry
    closed = _buy_back(open_positions, holdings, decide_exits(rules, market.day, holdings, market.mark), close)
    equity = account_equity(session, params.capital, holdings, open_positions)
    calls = rules.margin_call(market.day, holdings, equity, market.mark)
    closed += _buy_back(open_positions, holdings, calls, close)
    bought = [record_of_position(p) for p in closed]
    halt = active_halt(session)  # a halt stops new positions; the exits and margin calls above still protect
    if halt is not None:
        return DailyReport(as_of, Outcome.HALTED, f"trading halted since {halt.as_of}: {halt.reason} "
                                                  "(recalibrate, or run spx-wheel resume)", closed=bought)
    equity = account_equity(session, params.capital, holdings, open_positions)
    decision = decide_day(rules, source, market.day, holdings, equity, params.expiries == "monthly", market.quote)
    if isinstance(decision, Skip):
        return DailyReport(as_of, Outcome.SKIPPED, decision.reason, closed=bought)
    return DailyReport(as_of, Outcome.OPENED, f"opened {decision.contract.ticker}", entry=decision, closed=bought)


def _buy_back(positions: list[Position], holdings: list[Holding], decisions: Sequence[Exit | Hold],
              close: Callable[[Position, Exit], None]) -> list[Position]:
    """Close the positions the rules said to buy back (each holding has its decision); `positions` and
    `holdings` keep the others. Returns those closed."""
    closed = []
    for position, holding, decision in zip(list(positions), list(holdings), decisions, strict=True):
        if isinstance(decision, Exit):
            close(position, decision)
            positions.remove(position)
            holdings.remove(holding)
            closed.append(position)
    return closed


def settlement_window_start(session: Session, as_of: dt.date) -> dt.date:
    """The first day a daily run needs market data for: the oldest unsettled expiry, or a week back."""
    oldest = session.scalars(select(Position.expiry).where(Position.status == PositionStatus.OPEN)
                             .order_by(Position.expiry).limit(1)).first()
    week_back = as_of - dt.timedelta(days=7)
    return min(oldest, week_back) if oldest is not None else week_back


def plan_daily(factory: sessionmaker[Session], source: MarketSource, as_of: dt.date, now: dt.datetime,
               manual: ManualInputs, broker: str | None = None) -> DailyReport:
    """The daily run without writing (a dry run; or to show a fetching source what the day will need)."""
    with factory() as session:
        try:
            return run_daily(session, source, as_of, now, manual, write=False, broker=broker)
        finally:
            session.expunge_all()  # the report's positions keep what the run gave them; the rollback forgets it
            session.rollback()


FAR_OFF = 0.5  # a fill more than this share away from the day's price of the put is refused without --force


def record_fill(session: Session, position_id: int, price: float, buy_back: bool = False,
                force: bool = False) -> Position:
    """Replace a position's modelled fill (or its buy-back's) with the broker's, and recompute its premium (and
    P&L when closed). A price far from the put's price that day (a typo, another contract) is refused unless
    `force`."""
    position = session.get(Position, position_id)
    if position is None:
        raise TradeError(f"no position #{position_id}")
    day_price = (position.exit_price_cents if buy_back else position.price_cents) or 0
    if not force and day_price and abs(price * 100 / day_price - 1) > FAR_OFF:
        raise BadInput(f"${price:.2f} is more than {FAR_OFF:.0%} away from the put's price that day "
                       f"(${day_price / 100:.2f}): check the position id and the price, or give --force")
    fill_cents = round(price * 100)
    if buy_back:
        if position.exit_fill_cents is None or position.pnl_cents is None:
            raise TradeError(f"position #{position_id} was not bought back: only a position trade closed early has "
                             "a buy-back price")
        position.pnl_cents -= (fill_cents - position.exit_fill_cents) * 100 * position.contracts
        position.exit_fill_cents, position.exit_fill_source = fill_cents, "broker"
        return position
    premium = round(net_premium(fill_cents / 100, position.contracts, position.fees_cents / 100) * 100)
    if position.pnl_cents is not None:
        position.pnl_cents += premium - position.premium_cents
    position.fill_cents, position.fill_source, position.premium_cents = fill_cents, "broker", premium
    return position


