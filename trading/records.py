"""Read-only queries for listing and exporting positions and backtest trades."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import BacktestTrade, CalibrationRun, CombinationResult, Position
from trading.trader import TradeError


def list_positions(session: Session, status: str | None = None) -> list[Position]:
    query = select(Position).order_by(Position.opened_on, Position.id)
    if status is not None:
        query = query.where(Position.status == status)
    return list(session.scalars(query))


def run_trade_rows(session: Session, run_id: int) -> list[dict[str, Any]]:
    """Every backtest trade of a run, one row each, with its combination."""
    if session.get(CalibrationRun, run_id) is None:
        raise TradeError(f"no calibration or backtest run #{run_id}")
    query = (select(CombinationResult.put_delta, CombinationResult.dte_target, BacktestTrade)
             .join(BacktestTrade, BacktestTrade.result_id == CombinationResult.id)
             .where(CombinationResult.run_id == run_id)
             .order_by(CombinationResult.id, BacktestTrade.entry_date, BacktestTrade.id))
    rows = []
    for delta, dte, t in session.execute(query):
        rows.append({"put_delta": delta, "dte_target": dte, "ticker": t.ticker, "entry_date": t.entry_date,
                     "expiry": t.expiry, "strike": t.strike_cents / 100, "contracts": t.contracts,
                     "price": t.entry_price_cents / 100, "fill": t.fill_cents / 100,
                     "premium": t.premium_cents / 100, "source": t.source, "entry_delta": round(t.entry_delta, 4),
                     "settlement": None if t.settlement_cents is None else t.settlement_cents / 100,
                     "pnl": None if t.pnl_cents is None else t.pnl_cents / 100})
    return rows
