"""The read-only queries that list trades, live or of a stored run, as TradeRecords."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backtest.records import TradeRecord
from db.mapping import record_of_position, record_of_stored
from db.models import BacktestTrade, CalibrationRun, CombinationResult, Position
from db.session import transaction
from trading.context import Context
from trading.ledger import TradeError
from trading.strategy import GRID_DIMENSIONS


def positions(ctx: Context, status: str | None = None) -> list[TradeRecord]:
    """The live positions (of one status, or all) as the book has them."""
    query = select(Position).order_by(Position.opened_on, Position.id)
    if status is not None:
        query = query.where(Position.status == status)
    with transaction(ctx.open()) as session:
        return [record_of_position(p) for p in session.scalars(query)]


def run_trades(ctx: Context, run_id: int) -> list[TradeRecord]:
    """Every backtest trade of a stored run, with its combination."""
    with transaction(ctx.open()) as session:
        return _run_trades(session, run_id)


def _run_trades(session: Session, run_id: int) -> list[TradeRecord]:
    if session.get(CalibrationRun, run_id) is None:
        raise TradeError(f"no calibration or backtest run #{run_id}")
    dimensions = [getattr(CombinationResult, name) for name in GRID_DIMENSIONS]
    query = (select(BacktestTrade, *dimensions)
             .join(BacktestTrade, BacktestTrade.result_id == CombinationResult.id)
             .where(CombinationResult.run_id == run_id)
             .order_by(CombinationResult.id, BacktestTrade.entry_date, BacktestTrade.id))
    return [record_of_stored(t, tuple(zip(GRID_DIMENSIONS, values, strict=True)))
            for t, *values in session.execute(query)]
