"""The storage mapping: the core's types to rows and rows back to them, in one place. Money and index levels
are stored in integer cents; deltas as the put's (negative) delta."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Callable, Sequence, overload

from backtest.records import TradeRecord, closed_on
from data.provenance import SettlementSource
from db.models import BacktestTrade, Position, PositionStatus

if TYPE_CHECKING:  # the engine's types: the book-only commands read positions without loading it
    from backtest.spx_premium_backtest import Trade
    from backtest.types import Entry, Exit


@overload
def cents(value: float) -> int: ...
@overload
def cents(value: float | None) -> int | None: ...
def cents(value: float | None) -> int | None:
    return None if value is None else round(value * 100)


def dollars(value: int | None) -> float | None:
    return None if value is None else value / 100


# backtest_trades' columns, in the order of backtest_trade_rows
TRADE_COLUMNS = ("result_id", "ticker", "root", "entry_date", "expiry", "strike_cents", "contracts",
                 "entry_price_cents", "fill_cents", "premium_cents", "source", "entry_delta", "settlement_cents",
                 "settlement_source", "pnl_cents", "exit_reason", "exit_date", "exit_fill_cents", "exit_source")


TradeColumns = dict[str, list[Any]]  # each field of Trade: its values, one per trade (None where it has none)
TEXT_FIELDS = ("source", "settlement_source", "exit_source")


def trade_columns(trades: Sequence[Trade]) -> TradeColumns:
    """Trades as columns, the form backtest_trade_rows takes (the grid engine builds the same from its log)."""
    names = ("ticker", "root", "entry_date", "expiry", "strike", "contracts", "entry_price", "fill", "premium",
             "source", "entry_delta", "settlement", "settlement_source", "pnl", "exit_reason", "exit_date",
             "exit_fill", "exit_source")
    return {name: [getattr(t, name) for t in trades] for name in names}


def backtest_trade_rows(result_id: int, c: TradeColumns,
                        day: Callable[[dt.date], object] = lambda d: d) -> list[tuple[object, ...]]:
    """A combination's trades (as columns) as rows of backtest_trades, values in TRADE_COLUMNS' order (`day`:
    how the driver takes a date)."""
    import numpy as np  # the engine's dependency already; a million rows are converted a column at a time

    def money(values: Sequence[Any]) -> list[Any]:
        dollars = np.asarray(values, dtype=float)  # None reads as NaN: none
        shown = np.rint(dollars * 100).astype(object)
        shown[np.isnan(dollars)] = None
        return [None if v is None else int(v) for v in shown.tolist()]

    def each(values: Sequence[Any], convert: Callable[[Any], object]) -> list[object]:
        done = {v: None if v is None else convert(v) for v in set(values)}  # few distinct: dates, sources
        return [done[v] for v in values]

    def text(values: Sequence[Any]) -> list[object]:
        return each(values, str)

    def days(values: Sequence[Any]) -> list[object]:
        return each(values, day)

    return list(zip([result_id] * len(c["ticker"]), c["ticker"], c["root"], days(c["entry_date"]),
                    days(c["expiry"]), money(c["strike"]), c["contracts"], money(c["entry_price"]), money(c["fill"]),
                    money(c["premium"]), text(c["source"]), c["entry_delta"], money(c["settlement"]),
                    text(c["settlement_source"]), money(c["pnl"]), c["exit_reason"], days(c["exit_date"]),
                    money(c["exit_fill"]), text(c["exit_source"]), strict=True))


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
