"""The book of record: saved parameter sets, live positions as of a day, trading halts. Reads and
bookkeeping only (no pricing, no engine), so the commands that only look at the book start fast."""

from __future__ import annotations

import datetime as dt
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from data.errors import SpxWheelError
from db.models import Halt, Position, WheelParameters
from db.session import transaction
from trading.context import Context
from trading.strategy import StrategyParams


class TradeError(SpxWheelError):
    """The daily run cannot proceed (no parameters, no market data)."""


def active_parameters(session: Session) -> WheelParameters | None:
    """The newest saved parameter set."""
    return session.scalars(select(WheelParameters).order_by(WheelParameters.id.desc()).limit(1)).first()


def required_parameters(session: Session) -> WheelParameters:
    """The active parameter set; TradeError when none was saved yet."""
    saved = active_parameters(session)
    if saved is None:
        raise TradeError("no parameters saved yet: run spx-wheel calibrate first")
    return saved


def strategy_of(saved: WheelParameters) -> StrategyParams:
    """The rule parameters of a saved set."""
    return StrategyParams(**saved.strategy)


def closed_as_of(session: Session, as_of: dt.date) -> list[Position]:
    """Positions settled on or before `as_of`."""
    return list(session.scalars(select(Position).where(Position.settled_on <= as_of)
                                .order_by(Position.expiry, Position.id)))


def open_as_of(session: Session, as_of: dt.date) -> list[Position]:
    """Positions opened on or before `as_of` and not settled by then (as the book stood that day)."""
    return list(session.scalars(select(Position).where(Position.opened_on <= as_of)
                                .where(or_(Position.settled_on.is_(None), Position.settled_on > as_of))
                                .order_by(Position.expiry, Position.id)))


def active_halt(session: Session, as_of: dt.date | None = None) -> Halt | None:
    """The halt in force (set on or before `as_of` when given)."""
    query = select(Halt).where(Halt.cleared_at.is_(None))
    if as_of is not None:
        query = query.where(Halt.as_of <= as_of)
    return session.scalars(query.order_by(Halt.id.desc())).first()


def resume(session: Session, now: dt.datetime, by: str) -> int:
    """Clear every active halt; returns how many were cleared."""
    halts = list(session.scalars(select(Halt).where(Halt.cleared_at.is_(None))))
    for halt in halts:
        halt.cleared_at, halt.cleared_by = now, by
    return len(halts)


# -- as the commands that only look at the book call them ------------------------------------------------
def lift_halt(ctx: Context) -> int:
    with transaction(ctx.open(), write=True) as session:
        return resume(session, ctx.now, "resume")


def active(ctx: Context) -> WheelParameters:
    with transaction(ctx.open()) as session:
        return required_parameters(session)

