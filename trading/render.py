"""Text and JSON rendering for the CLI: one place for number formats, tables and JSON documents."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Iterable, Sequence

from tabulate import tabulate

from backtest.spx_premium_backtest import BacktestResult, Trade
from backtest.metrics import Metrics

ESTIMATED_WARNING_SHARE = 0.25


def pct(value: float | None, signed: bool = False, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value * 100:+.{digits}f}%" if signed else f"{value * 100:.{digits}f}%"


def number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def money(value: float) -> str:
    return f"{'-' if value < 0 else '+'}${abs(value):,.0f}"


def seed_line(delta: float, dte: int, m: Metrics) -> str:
    """The seed's calibration line: Delta=0.15 DTE=45: Win=81.4%, Return=+14.1%, DD=6.2%, Sharpe=2.3"""
    return (f"Delta={delta:.2f} DTE={dte}: Win={pct(m.win_rate)}, Return={pct(m.total_return, True)}, "
            f"DD={pct(m.max_drawdown)}, Sharpe={number(m.sharpe, 1)}")


def mean_entry_delta(trades: Sequence[Trade]) -> float:
    return sum(-t.entry_delta for t in trades) / len(trades) if trades else math.nan


def data_quality(real: int, estimated: int) -> list[str]:
    total = real + estimated
    share = (lambda n: f"{n / total * 100:.1f}%") if total else (lambda n: "n/a")
    lines = ["DATA QUALITY:", f"  Real Data:    {real} ({share(real)})", f"  Estimated:    {estimated} ({share(estimated)})"]
    if total and estimated / total > ESTIMATED_WARNING_SHARE:
        lines.append(f"WARNING: {share(estimated)} of trade entries were priced by the Black-Scholes/VIX estimate, "
                     "not real option closes: the backtest is less reliable.")
    return lines


def metrics_json(m: Metrics, result: BacktestResult) -> dict[str, Any]:
    return {"trades": m.trades, "wins": m.wins, "win_rate": _num(m.win_rate), "total_return": m.total_return,
            "cagr": _num(m.cagr), "max_drawdown": m.max_drawdown, "sharpe": _num(m.sharpe),
            "sortino": _num(m.sortino), "calmar": _num(m.calmar), "real": result.real,
            "estimated": result.estimated, "mean_entry_delta": _num(mean_entry_delta(result.trades))}


def trade_json(t: Trade) -> dict[str, Any]:
    return {"ticker": t.ticker, "root": t.root, "entry_date": t.entry_date.isoformat(),
            "expiry": t.expiry.isoformat(), "strike": t.strike, "contracts": t.contracts,
            "entry_price": round(t.entry_price, 4), "fill": t.fill, "premium": t.premium, "source": t.source,
            "entry_delta": round(t.entry_delta, 4), "settlement": t.settlement, "pnl": t.pnl,
            "status": "open" if t.pnl is None else ("win" if t.won else "loss")}


def trade_table(trades: Iterable[Trade]) -> str:
    rows = [(t.ticker, t.entry_date, t.expiry, f"{t.strike:g}", t.contracts, f"{t.fill:.2f}", t.source,
             f"{-t.entry_delta:.3f}", "" if t.settlement is None else f"{t.settlement:.2f}",
             "open" if t.pnl is None else f"{t.pnl:,.2f}") for t in trades]
    return tabulate(rows, headers=["ticker", "entry", "expiry", "strike", "n", "fill", "price", "delta",
                                   "settlement", "P&L"], disablenumparse=True)


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


def to_json(document: Any) -> str:
    return json.dumps(document, indent=2, default=_default, allow_nan=False)


def _default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
