"""The book's side of orders: each decision of a broker run becomes an Order row (its client id the day and the
decision) before anything is sent; the broker's answers move its status (each change an OrderEvent) and, when it
fills, open or close the position at the broker's price. Nothing here talks to a broker: trading/order_flow.py
does."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from backtest.types import Entry, Exit, Quote
from data.contracts import parse_ticker
from data.provenance import PriceSource
from db.mapping import cents, close_by_exit, position_of_entry
from db.models import Order, OrderEvent, Position
from trading.brokers.protocol import ENDED, Action, BrokerOrder, Status
from trading.rules import buy_back_cost, on_tick_grid


def entry_order(entry: Entry, as_of: dt.date, parameters_id: int, broker: str, now: dt.datetime) -> Order:
    """The day's sale as an order: limited at the fill model's price on the day's quote."""
    q = entry.quote
    return Order(client_id=f"spx-wheel-{as_of:%Y%m%d}-open", broker=broker, as_of=as_of,
                 action=Action.SELL_TO_OPEN, ticker=entry.contract.ticker, quantity=entry.contracts,
                 limit_cents=cents(entry.fill), far_cents=cents(q.bid) if q.two_sided else None,
                 time_in_force="day", status=Status.RECORDED, filled=0, fees_cents=cents(entry.fees), reprices=0,
                 price_cents=cents(q.price), price_source=q.source, entry_delta=q.delta, entry_iv=q.iv,
                 parameters_id=parameters_id, updated_at=now)


def exit_order(session: Session, position: Position, decision: Exit, as_of: dt.date, broker: str,
               now: dt.datetime) -> Order | None:
    """A buy-back as an order, or None when one for the position is still working (never two)."""
    working = [o for o in closing(session, position.id) if o.time_in_force != "gtc"]  # a resting one gives way
    if working:
        return None
    q = decision.quote
    return Order(client_id=f"spx-wheel-{as_of:%Y%m%d}-close-{position.id}", broker=broker, as_of=as_of,
                 action=Action.BUY_TO_CLOSE, ticker=position.ticker, quantity=position.contracts,
                 limit_cents=cents(decision.fill), far_cents=cents(q.ask) if q.two_sided else None,
                 time_in_force="day", status=Status.RECORDED, filled=0,
                 fees_cents=cents(decision.cost) - cents(decision.fill) * 100 * position.contracts, reprices=0,
                 price_cents=cents(q.price), price_source=q.source, entry_delta=None, entry_iv=None,
                 parameters_id=None, position_id=position.id, exit_reason=decision.reason, updated_at=now)


def closing(session: Session, position_id: int) -> list[Order]:
    """The buy-backs of a position still working (or recorded)."""
    return list(session.scalars(select(Order).where(Order.position_id == position_id,
                                                    Order.action == Action.BUY_TO_CLOSE,
                                                    Order.status.not_in(list(ENDED)))))


def take_profit_order(order: Order, take_profit: float, penny: bool, now: dt.datetime) -> Order | None:
    """A filled sale's take-profit as a buy-back resting at the broker (GTC) at (1 - F) of the fill, down to the
    tick (it pays at most the take-profit's price); None when the rule is off."""
    if not take_profit or order.position_id is None or order.fill_cents is None:
        return None
    limit = on_tick_grid(order.fill_cents / 100 * (1 - take_profit), -1, penny)
    if limit <= 0:
        return None
    return Order(client_id=f"{order.client_id}-take-profit", broker=order.broker, as_of=order.as_of,
                 action=Action.BUY_TO_CLOSE, ticker=order.ticker, quantity=order.filled, limit_cents=cents(limit),
                 far_cents=None, time_in_force="gtc", status=Status.RECORDED, filled=0,
                 fees_cents=round(order.fees_cents * order.filled / order.quantity), reprices=0,
                 price_cents=cents(limit), price_source=PriceSource.REAL, entry_delta=None, entry_iv=None,
                 parameters_id=None, position_id=order.position_id,
                 exit_reason=f"take profit {take_profit:.0%}", updated_at=now)


def unended(session: Session) -> list[Order]:
    """Orders whose end the book does not know, oldest first."""
    return list(session.scalars(select(Order).where(Order.status.not_in(list(ENDED))).order_by(Order.id)))


def note(session: Session, order: Order, status: Status, detail: str, now: dt.datetime) -> None:
    """Set an order's status and log the change (the reason kept on the order when it did not go through)."""
    order.status, order.updated_at = status, now
    if status in (Status.REFUSED, Status.REJECTED, Status.EXPIRED):
        order.note = detail[:500]
    session.add(OrderEvent(order_id=order.id, at=now, status=status, limit_cents=order.limit_cents,
                           filled=order.filled, detail=detail[:500]))


def apply(session: Session, order: Order, state: BrokerOrder, day: dt.date, now: dt.datetime, detail: str) -> None:
    """The broker's view of the order into the book, as learnt on `day`: its status and fills, and the position
    they open or close. Fills only ever grow."""
    order.broker_order_id, order.limit_cents = state.broker_id, cents(state.limit)
    grew = state.filled > order.filled
    if grew:
        order.filled, order.fill_cents = state.filled, None if state.fill_price is None else cents(state.fill_price)
    if grew or state.status != order.status:
        note(session, order, state.status, detail + (f" ({state.note})" if state.note else ""), now)
    if order.action == Action.SELL_TO_OPEN and grew:
        _open(session, order)
    elif order.action == Action.BUY_TO_CLOSE and order.filled and order.status in ENDED:
        _close(session, order, day)


def _open(session: Session, order: Order) -> None:
    """The position the sale's fills make (grown in place when more fill later)."""
    fill = (order.fill_cents or 0) / 100
    fees = order.fees_cents * order.filled / order.quantity / 100
    quote = Quote(order.price_cents / 100, PriceSource(order.price_source), order.entry_iv or math.nan,
                  order.entry_delta or math.nan)
    assert order.parameters_id is not None, "a sale is decided under parameters"
    made = position_of_entry(Entry(parse_ticker(order.ticker), order.filled, quote, fill, fees), order.as_of,
                             order.parameters_id)
    position = session.get(Position, order.position_id) if order.position_id is not None else None
    if position is None:
        session.add(made)
        session.flush()
        position, order.position_id = made, made.id
    position.contracts, position.fees_cents, position.premium_cents = made.contracts, made.fees_cents, \
        made.premium_cents
    position.fill_cents, position.fill_source = made.fill_cents, "broker"


def _close(session: Session, order: Order, day: dt.date) -> None:
    """A buy-back that ended with fills closes them, on the day the book learnt of it: the whole position, or
    the part filled split off."""
    position = session.get(Position, order.position_id)
    if position is None or position.status != "open":
        return
    if order.filled < position.contracts:
        position = split_position(session, position, order.filled)
    fill = (order.fill_cents or 0) / 100
    fee = order.fees_cents / order.quantity / 100
    # a resting order fills on a day after its own: its fill is the only price of that moment
    price = order.price_cents / 100 if order.time_in_force == "day" else fill
    quote = Quote(price, PriceSource(order.price_source), math.nan, math.nan)
    close_by_exit(position, day, Exit(order.exit_reason or "buy-back", quote, fill,
                                      buy_back_cost(fill, position.contracts, fee)))
    position.exit_fill_source = "broker"


def split_position(session: Session, position: Position, part: int) -> Position:
    """Split `part` contracts off a position into a position of their own (premium and fees in proportion)."""
    share = part / position.contracts
    columns = {c.key: getattr(position, c.key) for c in Position.__table__.columns if c.key != "id"}
    piece = Position(**{**columns, "contracts": part, "premium_cents": round(position.premium_cents * share),
                        "fees_cents": round(position.fees_cents * share)})
    position.contracts -= part
    position.premium_cents -= piece.premium_cents
    position.fees_cents -= piece.fees_cents
    session.add(piece)
    session.flush()
    return piece


def next_limit(order: Order, step: float, penny: bool) -> float | None:
    """The next price of a walk toward the far side (a sale down, a buy-back up): a step, rounded onward to the
    tick grid (so a step under the tick moves one tick), never past the far side; None when there is no room."""
    limit = order.limit_cents / 100
    sale = order.action == Action.SELL_TO_OPEN
    moved = on_tick_grid(limit - step if sale else limit + step, -1 if sale else 1, penny)
    if order.far_cents is not None:
        far = order.far_cents / 100
        moved = max(moved, far) if sale else min(moved, far)
    if moved <= 0 or abs(moved - limit) < 0.005:
        return None
    return moved
