"""The read-only queries that list trades, live or of a stored run, as TradeRecords."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from backtest.records import TradeRecord
from db.mapping import record_of_position, record_of_stored
from db.models import BacktestTrade, CalibrationRun, CombinationResult, Position
from trading.ledger import TradeError

if TYPE_CHECKING:
    pass


def list_positions(session: Session, status: str | None = None) -> list[TradeRecord]:
    query = select(Position).order_by(Position.opened_on, Position.id)
    if status is not None:
        query = query.where(Position.status == status)
    return [record_of_position(p) for p in session.scalars(query)]


def run_trades(session: Session, run_id: int) -> list[TradeRecord]:
    """Every backtest trade of a run, with its combination."""
    if session.get(CalibrationRun, run_id) is None:
        raise TradeError(f"no calibration or backtest run #{run_id}")
    query = (select(CombinationResult.put_delta, CombinationResult.dte_target, BacktestTrade)
             .join(BacktestTrade, BacktestTrade.result_id == CombinationResult.id)
             .where(CombinationResult.run_id == run_id)
             .order_by(CombinationResult.id, BacktestTrade.entry_date, BacktestTrade.id))
    return [record_of_stored(t, delta, dte) for delta, dte, t in session.execute(query)]
