"""The live book's report: one self-contained HTML page of what `trade` did (realised equity, every position
with its quote and its fill, fills against the modelled price, the orders and their ends) set against the
backtest of the parameters it traded. Built from the database alone, as the run report is."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backtest.values import money
from db.models import Order, Position, WheelParameters
from trading.ledger import required_parameters, strategy_of
from trading.monitor import divergence_status
from trading.report import STYLE, _pct, _table, equity_chart


@dataclass(frozen=True)
class LiveData:
    params: WheelParameters
    positions: list[Position]
    orders: list[Order]


def load_live(session: Session) -> LiveData:
    params = required_parameters(session)
    positions = list(session.scalars(select(Position).order_by(Position.opened_on, Position.id)))
    return LiveData(params, positions, list(session.scalars(select(Order).order_by(Order.id))))


def realised_curve(capital: float, positions: list[Position]) -> tuple[list[dt.date], list[float]]:
    """Capital plus the P&L realised by each day a position closed (open positions are not marked here)."""
    closed = sorted((p.settled_on, p.pnl_cents or 0) for p in positions if p.settled_on is not None)
    dates: list[dt.date] = []
    values: list[float] = []
    total = capital
    for day, cents in closed:
        total += cents / 100
        if dates and dates[-1] == day:
            values[-1] = total
        else:
            dates.append(day)
            values.append(total)
    return dates, values


def slippage(p: Position) -> float:
    """What a sale's fill gave up against the day's price, as a share of it (negative: better)."""
    return (p.price_cents - p.fill_cents) / p.price_cents if p.price_cents else 0.0


def render_live(data: LiveData) -> str:
    params = strategy_of(data.params)
    closed = [p for p in data.positions if p.pnl_cents is not None and p.status == "closed"]
    wins = sum(1 for p in closed if (p.pnl_cents or 0) > 0)
    live_rate = wins / len(closed) if closed else None
    backtest = data.params.backtest_win_rate
    divergence = (live_rate - backtest) * 100 if live_rate is not None and backtest is not None else None
    status = divergence_status(divergence or 0.0, len(closed))
    broker_fills = [p for p in data.positions if p.fill_source == "broker"]
    gave_up = [slippage(p) for p in broker_fills]
    summary = [("parameters", f"#{data.params.id}: delta {params.put_delta:.2f}, DTE {params.dte_target}, calibrated "
                              f"on {data.params.window_start} .. {data.params.window_end} ({data.params.source})"),
               ("positions", f"{len(data.positions)} ({len(data.positions) - len(closed)} open)"),
               ("closed trades", len(closed)), ("live win rate", _pct(live_rate)),
               ("backtest win rate", _pct(backtest)),
               ("divergence", "n/a" if divergence is None else f"{divergence:+.1f} points: {status.name}"),
               ("realised P&L", money(sum(p.pnl_cents or 0 for p in closed) / 100)),
               ("fills from the broker / modelled", f"{len(broker_fills)} / {len(data.positions) - len(broker_fills)}"),
               ("broker fills below the day's price, median",
                "n/a" if not gave_up else f"{statistics.median(gave_up):.1%} (the backtest's slippage: "
                                          f"{params.slippage:.1%})")]
    dates, equity = realised_curve(params.capital, data.positions)
    parts = ["<h1>spx-wheel: the live book</h1>",
             '<p class="note">Every price carries its source: the day\'s price (real, estimated or manual) and '
             "the fill (the broker's, or the fill model's where no broker filled it).</p>",
             _table(["", ""], summary), "<h2>Realised equity</h2>",
             equity_chart(dates, equity, params.capital) if len(dates) > 1 else
             '<p class="note">Fewer than two closed days: no curve yet.</p>',
             f"<h2>Positions ({len(data.positions)})</h2>",
             _table(["#", "ticker", "opened", "expiry", "strike", "n", "price", "its source", "fill", "fill source",
                     "given up", "closed", "how", "P&L"],
                    [[p.id, p.ticker, p.opened_on, p.expiry, f"{p.strike_cents / 100:g}", p.contracts,
                      f"{p.price_cents / 100:.2f}", p.price_source, f"{p.fill_cents / 100:.2f}", p.fill_source,
                      f"{slippage(p):.1%}", p.settled_on or "", p.exit_reason or (f"settled ({p.settlement_source})" if p.settled_on else ""),
                      "open" if p.pnl_cents is None else money(p.pnl_cents / 100)] for p in data.positions]),
             f"<h2>Orders ({len(data.orders)})</h2>",
             _table(["client id", "broker", "day", "action", "ticker", "n", "limit", "status", "filled", "fill",
                     "reprices", "note"],
                    [[o.client_id, o.broker, o.as_of, o.action, o.ticker, o.quantity, f"{o.limit_cents / 100:.2f}",
                      o.status, o.filled, "" if o.fill_cents is None else f"{o.fill_cents / 100:.2f}", o.reprices,
                      o.note or ""] for o in data.orders])]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>spx-wheel live book</title>'
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
