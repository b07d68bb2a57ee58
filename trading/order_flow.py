"""A daily run through a broker: ask the broker about every order whose end the book does not know, refuse to
go on while the book and the broker disagree, decide the day by the rules (the sale and the buy-backs become
orders, recorded before anything is sent), then preview each, send it (only when asked), walk its limit toward
the far side within the user's bound, and cancel what is left unfilled (or leave it working). One run at a time
per database (a lock held until the run ends or its process dies); an order is found by its client id at the
broker before any send, so a rerun or a crash never sends it twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from data.contracts import parse_ticker
from data.market import MarketSource
from db.mapping import cents
from db.models import Order, Position, WheelParameters
from db.session import held_lock, transaction
from trading.brokers.protocol import Action, Broker, BrokerOrder, Preview, Status, Ticket
from trading.brokers.symbols import occ_symbol
from trading.ledger import TradeError, strategy_of
from trading.orders import apply, closing, next_limit, note, take_profit_order, unended
from trading.reconcile import differences, held_in_book
from trading.trader import DailyReport, ManualInputs, run_daily

Say = Callable[[str], None]


@dataclass(frozen=True)
class OrderPlan:
    """How the run treats its orders: sent or only previewed, the walk's bound, the guards."""

    send: bool = False
    max_reprices: int = 3
    reprice_step: float = 0.05
    wait: float = 20.0  # seconds an order works before each reprice (a broker that fills at once: none)
    leave_working: bool = False
    max_contracts: int = 10
    max_notional: float | None = None  # strike x 100 x contracts, dollars
    rest_take_profit: bool = False  # a filled sale's take-profit rests at the broker as a GTC buy-back


def ticket_of(order: Order) -> Ticket:
    return Ticket(order.client_id, occ_symbol(parse_ticker(order.ticker)), Action(order.action), order.quantity,
                  order.limit_cents / 100, order.time_in_force)


def broker_day(factory: sessionmaker[Session], broker: Broker, market: MarketSource, day: dt.date,
               now: dt.datetime, manual: ManualInputs, plan: OrderPlan, say: Say,
               sleep: Callable[[float], None]) -> DailyReport:
    """The whole broker run for `day` (see the module's text)."""
    with held_lock(factory, "broker"):
        sync(factory, broker, day, now)
        with transaction(factory) as session:
            book = held_in_book(session, day)
        found = differences(book, broker.positions(), day)
        if found:
            raise TradeError(f"the book and the {broker.name} broker disagree on {len(found)} position(s) ({found[0]}"
                             f"{', ...' if len(found) > 1 else ''}): nothing was decided or sent; run spx-wheel "
                             f"reconcile --broker {broker.name}, and --adopt once you have checked")
        with transaction(factory, write=True) as session:
            report = run_daily(session, market, day, now, manual, broker=broker.name)
        with transaction(factory) as session:
            todays = [o.id for o in unended(session) if o.as_of == day and o.broker == broker.name]
        for order_id in todays:
            work(factory, broker, order_id, plan, now, say, sleep)
        return report


def sync(factory: sessionmaker[Session], broker: Broker, day: dt.date, now: dt.datetime) -> int:
    """Ask the broker about every order of its whose end the book does not know; returns how many it asked.
    An order recorded on an earlier day that the broker never got is ended: its day has passed."""
    with transaction(factory) as session:
        pending = [(o.id, o.broker_order_id, o.client_id) for o in unended(session) if o.broker == broker.name]
    for order_id, broker_id, client_id in pending:
        # by the client id first: a replace (or a run killed in the middle of one) may have moved the order to
        # an id the book has not seen
        state = broker.find(client_id) or (broker.order(broker_id) if broker_id else None)
        with transaction(factory, write=True) as session:
            order = session.get(Order, order_id)
            assert order is not None
            if state is not None:
                apply(session, order, state, day, now, "as the broker has it")
            elif order.as_of < day:
                note(session, order, Status.EXPIRED, "never reached the broker, and its day has passed", now)
    return len(pending)


def guard(order: Order, plan: OrderPlan) -> str | None:
    """Why the caps refuse a sale, or None (a buy-back is never refused: it lowers the risk)."""
    if order.action != Action.SELL_TO_OPEN:
        return None
    if order.quantity > plan.max_contracts:
        return f"{order.quantity} contracts is over the cap of {plan.max_contracts} an order (--max-contracts)"
    notional = parse_ticker(order.ticker).strike * 100 * order.quantity
    if plan.max_notional is not None and notional > plan.max_notional:
        return f"notional ${notional:,.0f} is over the cap of ${plan.max_notional:,.0f} (--max-notional)"
    return None


def preview_line(order: Order, preview: Preview) -> str:
    effect = "takes" if preview.buying_power_effect >= 0 else "frees"
    return (f"PREVIEW: {order.action} {order.quantity} {order.ticker} @ ${order.limit_cents / 100:.2f}: "
            f"{effect} ${abs(preview.buying_power_effect):,.2f} of buying power, fees ${preview.fees:,.2f}"
            + "".join(f"; WARNING {w}" for w in preview.warnings))


def _record(factory: sessionmaker[Session], order_id: int, change: Callable[[Session, Order], None]) -> Order:
    with transaction(factory, write=True) as session:
        order = session.get(Order, order_id)
        assert order is not None
        change(session, order)
        session.flush()
        session.expunge(order)
        return order


def work(factory: sessionmaker[Session], broker: Broker, order_id: int, plan: OrderPlan, now: dt.datetime,
         say: Say, sleep: Callable[[float], None]) -> Order:
    """One order of the day through its life: guard, preview, send, walk, end."""
    order = _record(factory, order_id, lambda session, o: None)
    if order.status == Status.RECORDED:
        refusal = guard(order, plan)
        preview = None if refusal else broker.preview(ticket_of(order))
        if preview is not None:
            say(preview_line(order, preview))
            refusal = _unaffordable(broker, order, preview)
        if refusal is not None:
            say(f"REFUSED: {order.action} {order.ticker}: {refusal}")
            return _record(factory, order_id, lambda s, o: note(s, o, Status.REFUSED, refusal, now))
        assert preview is not None
        order = _record(factory, order_id, lambda s, o: setattr(o, "fees_cents", cents(preview.fees)))
        if not plan.send:
            say(f"NOT SENT: {order.client_id} (send it with --send, or SPX_WHEEL_SEND=1)")
            return order
        if not _resting_cleared(factory, broker, order, now):
            return _record(factory, order_id, lambda s, o: note(s, o, Status.CANCELLED, "its position closed at the "
                                                                "broker meanwhile", now))
        state = broker.find(order.client_id) or broker.place(ticket_of(order))
        order = _applied(factory, order_id, state, order.as_of, now, "sent")
    elif order.broker_order_id is not None:
        order = _applied(factory, order_id, broker.order(order.broker_order_id), order.as_of, now,
                         "as the broker has it")
    if order.time_in_force == "day":  # a resting order is left to rest
        order = _walk(factory, broker, order, plan, now, sleep)
        if order.status == Status.WORKING and not plan.leave_working and order.broker_order_id is not None:
            order = _applied(factory, order_id, broker.cancel(order.broker_order_id), order.as_of, now,
                             "cancelled at the run's end")
    say(order_line(order))
    if plan.rest_take_profit and order.action == Action.SELL_TO_OPEN and order.filled:
        _rest_take_profit(factory, broker, order, plan, now, say, sleep)
    return order


def _rest_take_profit(factory: sessionmaker[Session], broker: Broker, sale: Order, plan: OrderPlan,
                      now: dt.datetime, say: Say, sleep: Callable[[float], None]) -> None:
    """Record and send the sale's take-profit as a GTC buy-back (once: its client id is the sale's)."""
    with transaction(factory, write=True) as session:
        saved = session.get(WheelParameters, sale.parameters_id)
        penny = parse_ticker(sale.ticker).underlying.penny
        made = None if saved is None else take_profit_order(sale, strategy_of(saved).take_profit, penny, now)
        known = made is not None and session.scalars(select(Order.id).where(
            Order.client_id == made.client_id)).first() is not None
        if made is None or known:
            return
        session.add(made)
        session.flush()
        made_id = made.id
    work(factory, broker, made_id, plan, now, say, sleep)


def _resting_cleared(factory: sessionmaker[Session], broker: Broker, order: Order, now: dt.datetime) -> bool:
    """Before a buy-back goes out, cancel the position's take-profit resting at the broker; False when the
    position closed meanwhile (the resting order filled) and the buy-back must not go."""
    if order.action != Action.BUY_TO_CLOSE or order.position_id is None:
        return True
    with transaction(factory) as session:
        resting = [(o.id, o.broker_order_id) for o in closing(session, order.position_id)
                   if o.id != order.id and o.broker_order_id]
    for resting_id, broker_id in resting:
        _applied(factory, resting_id, broker.cancel(broker_id), order.as_of, now,
                 "cancelled: another buy-back replaces it")
    with transaction(factory) as session:
        position = session.get(Position, order.position_id)
        return position is not None and position.status == "open"


def _unaffordable(broker: Broker, order: Order, preview: Preview) -> str | None:
    if preview.warnings:
        return f"the broker warns: {'; '.join(preview.warnings)}"
    if order.action == Action.SELL_TO_OPEN:
        room = broker.account().buying_power
        if preview.buying_power_effect > room:
            return (f"it takes ${preview.buying_power_effect:,.2f} of buying power and the account has "
                    f"${room:,.2f}")
    return None


def _applied(factory: sessionmaker[Session], order_id: int, state: BrokerOrder, day: dt.date, now: dt.datetime,
             detail: str) -> Order:
    return _record(factory, order_id, lambda s, o: apply(s, o, state, day, now, detail))


def _walk(factory: sessionmaker[Session], broker: Broker, order: Order, plan: OrderPlan, now: dt.datetime,
          sleep: Callable[[float], None]) -> Order:
    """Reprice a working order toward the far side, a step at a time, at most `max_reprices` times."""
    penny = parse_ticker(order.ticker).underlying.penny
    while order.status == Status.WORKING and order.reprices < plan.max_reprices:
        if not broker.instant:
            sleep(plan.wait)
            order = _applied(factory, order.id, broker.order(order.broker_order_id or ""), order.as_of, now,
                             "as the broker has it")
        limit = next_limit(order, plan.reprice_step, penny)
        if order.status != Status.WORKING or order.broker_order_id is None or limit is None:
            break
        state = broker.replace(order.broker_order_id, replace(ticket_of(order), limit=limit))
        order = _record(factory, order.id, _repriced(state, limit, now))
    return order


def _repriced(state: BrokerOrder, limit: float, now: dt.datetime) -> Callable[[Session, Order], None]:
    def change(session: Session, order: Order) -> None:
        order.reprices += 1
        apply(session, order, state, order.as_of, now, f"repriced to ${limit:.2f}")
    return change


def order_line(order: Order) -> str:
    fill = f" {order.filled} filled @ ${order.fill_cents / 100:.2f}" if order.fill_cents is not None else ""
    return (f"ORDER {order.status.upper()}: {order.action} {order.quantity} {order.ticker} limit "
            f"${order.limit_cents / 100:.2f}{fill} ({order.client_id})")


