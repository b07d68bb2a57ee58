"""The storage mapping: the core's types to rows and rows back to them, in one place. Money and index levels
are stored in integer cents; deltas as the put's (negative) delta."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Sequence

from backtest.records import TradeRecord, closed_on
from data.provenance import SettlementSource
from db.models import BacktestTrade, Position, PositionStatus

if TYPE_CHECKING:  # the engine's types: the book-only commands read positions without loading it
    from backtest.spx_premium_backtest import Trade
    from backtest.types import Entry, Exit


def cents(value: float | None) -> int | None:
    return None if value is None else round(value * 100)


def dollars(value: int | None) -> float | None:
    return None if value is None else value / 100


def backtest_trade_rows(result_id: int, trades: Sequence[Trade]) -> list[dict[str, object]]:
    """A combination's trades as rows of backtest_trades."""
    return [dict(result_id=result_id, ticker=t.ticker, root=t.root, entry_date=t.entry_date, expiry=t.expiry,
                 strike_cents=cents(t.strike), contracts=t.contracts, entry_price_cents=cents(t.entry_price),
                 fill_cents=cents(t.fill), premium_cents=cents(t.premium), source=t.source,
                 entry_delta=t.entry_delta, settlement_cents=cents(t.settlement),
                 settlement_source=t.settlement_source, pnl_cents=cents(t.pnl), exit_reason=t.exit_reason,
                 exit_date=t.exit_date, exit_fill_cents=cents(t.exit_fill), exit_source=t.exit_source)
            for t in trades]


def position_of_entry(entry: Entry, as_of: dt.date, parameters_id: int) -> Position:
    """The live position a daily run's entry opens (its fill modelled until `fill` gives the broker's)."""
    c, q = entry.contract, entry.quote
    return Position(opened_on=as_of, parameters_id=parameters_id, ticker=c.ticker, root=c.root, expiry=c.expiry,
                    strike_cents=cents(c.strike), contracts=entry.contracts, price_cents=cents(q.price),
                    price_source=q.source, fill_cents=cents(entry.fill), fill_source="model",
                    fees_cents=cents(entry.fees), premium_cents=cents(entry.premium), entry_delta=q.delta,
                    entry_iv=q.iv, status=PositionStatus.OPEN)


def close_by_exit(position: Position, as_of: dt.date, bought: Exit) -> None:
    """Close a live position bought back today: the put's price, the modelled fill, the fees and the P&L."""
    fill_cents = cents(bought.fill) or 0
    position.status, position.settled_on, position.settlement_source = (PositionStatus.CLOSED, as_of,
                                                                        SettlementSource.EXIT)
    position.exit_reason, position.exit_price_cents = bought.reason, cents(bought.quote.price)
    position.exit_price_source, position.exit_fill_cents, position.exit_fill_source = (bought.quote.source,
                                                                                       fill_cents, "model")
    position.exit_fees_cents = round(bought.cost * 100) - fill_cents * 100 * position.contracts
    position.pnl_cents = position.premium_cents - round(bought.cost * 100)


def record_of_position(p: Position) -> TradeRecord:
    return TradeRecord(p.ticker, p.root, p.opened_on, p.expiry, p.strike_cents / 100, p.contracts,
                       p.price_cents / 100, p.price_source, p.fill_cents / 100, p.premium_cents / 100,
                       round(-p.entry_delta, 4), dollars(p.settlement_cents), p.settlement_source,
                       dollars(p.pnl_cents), p.settled_on, p.exit_reason, dollars(p.exit_fill_cents),
                       id=p.id, fill_source=p.fill_source)


def record_of_stored(t: BacktestTrade, combination: tuple[tuple[str, Any], ...]) -> TradeRecord:
    return TradeRecord(t.ticker, t.root, t.entry_date, t.expiry, t.strike_cents / 100, t.contracts,
                       t.entry_price_cents / 100, t.source, t.fill_cents / 100, t.premium_cents / 100,
                       round(-t.entry_delta, 4), dollars(t.settlement_cents), t.settlement_source,
                       dollars(t.pnl_cents), closed_on(t.exit_date, t.expiry, dollars(t.pnl_cents)), t.exit_reason,
                       dollars(t.exit_fill_cents), combination=combination)
