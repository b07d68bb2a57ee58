"""Text and JSON rendering for the CLI: one place for number formats, tables and JSON documents."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from typing import Any, Iterable, Sequence

from tabulate import tabulate

from backtest.metrics import Metrics, defined
from backtest.spx_premium_backtest import BacktestResult, Trade

ESTIMATED_WARNING_SHARE = 0.25


def pct(value: float | None, signed: bool = False, digits: int = 1) -> str:
    known = defined(value)
    if known is None:
        return "n/a"
    return f"{known * 100:+.{digits}f}%" if signed else f"{known * 100:.{digits}f}%"


def number(value: float | None, digits: int = 2) -> str:
    known = defined(value)
    return "n/a" if known is None else f"{known:.{digits}f}"


def money(value: float) -> str:
    return f"{'-' if value < 0 else '+'}${abs(value):,.0f}"


def seed_line(delta: float, dte: int, m: Metrics) -> str:
    """The seed's calibration line: Delta=0.15 DTE=45: Win=81.4%, Return=+14.1%, DD=6.2%, Sharpe=2.3"""
    return (f"Delta={delta:.2f} DTE={dte}: Win={pct(m.win_rate)}, Return={pct(m.total_return, True)}, "
            f"DD={pct(m.max_drawdown)}, Sharpe={number(m.sharpe, 1)}")


def mean_entry_delta(trades: Sequence[Trade]) -> float:
    return sum(-t.entry_delta for t in trades) / len(trades) if trades else math.nan


def data_quality(real: int, estimated: int, stand_in_settlements: int = 0) -> list[str]:
    total = real + estimated

    def share(n: int) -> str:
        return f"{n / total * 100:.1f}%" if total else "n/a"

    lines = ["DATA QUALITY:", f"  Real Data:    {real} ({share(real)})",
             f"  Estimated:    {estimated} ({share(estimated)})"]
    if stand_in_settlements:
        lines.append(f"  Stand-in settlements: {stand_in_settlements} (AM settlements on a session whose open is "
                     "not known: the previous close was used)")
    if total and estimated / total > ESTIMATED_WARNING_SHARE:
        lines.append(f"WARNING: {share(estimated)} of trade entries were priced by the Black-Scholes/VIX estimate, "
                     "not real option closes: the backtest is less reliable.")
    return lines


def metrics_json(m: Metrics, result: BacktestResult) -> dict[str, Any]:
    return {"closed_trades": m.trades, "wins": m.wins, "win_rate": defined(m.win_rate), "total_return": m.total_return,
            "cagr": defined(m.cagr), "max_drawdown": m.max_drawdown, "sharpe": defined(m.sharpe),
            "sortino": defined(m.sortino), "calmar": defined(m.calmar), "real": result.real,
            "estimated": result.estimated, "mean_entry_delta": defined(mean_entry_delta(result.trades))}


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
                                   "settlement", "P&L"], disable_numparse=True)



def to_json(document: Any) -> str:
    return json.dumps(document, indent=2, default=_default, allow_nan=False)


def _default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def position_rows(positions: Sequence[Any]) -> list[dict[str, Any]]:
    """Live positions as plain rows (for tables, JSON and CSV)."""
    return [position_row(p) for p in positions]


def position_row(p: Any) -> dict[str, Any]:
    return {"id": p.id, "ticker": p.ticker, "opened_on": p.opened_on, "expiry": p.expiry,
            "strike": p.strike_cents / 100, "contracts": p.contracts, "price": p.price_cents / 100,
            "price_source": p.price_source, "fill": p.fill_cents / 100, "fill_source": p.fill_source,
            "premium": p.premium_cents / 100, "entry_delta": round(p.entry_delta, 4), "status": p.status,
            "settled_on": p.settled_on,
            "settlement": None if p.settlement_cents is None else p.settlement_cents / 100,
            "settlement_source": p.settlement_source, "pnl": None if p.pnl_cents is None else p.pnl_cents / 100}


def write_csv(handle: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def settled_line(p: Any) -> str:
    pnl = p.pnl_cents / 100
    return (f"SETTLED: {p.ticker} at {p.settlement_cents / 100:,.2f} ({'AM open' if p.root == 'SPX' else 'PM close'}"
            f" of {p.expiry}): P&L {money(pnl)} {'WIN' if pnl > 0 else 'LOSS'}")


def daily_lines(report: Any, dry_run: bool) -> list[str]:
    lines = [f"{report.as_of}:"]
    lines += [settled_line(p) for p in report.settled]
    lines += [f"WARNING: {text}" for text in report.unsettled]
    if report.entry is not None:
        e, q = report.entry, report.entry.quote
        lines += [f"OPENED: {e.contract.ticker} @ ${e.fill:.2f}",
                  f"        Strike: ${e.contract.strike:g}, Exp: {e.contract.expiry}, Contracts: {e.contracts}",
                  f"        Price {q.price:.2f} ({q.source}) less slippage; premium ${e.premium:,.2f} net of "
                  f"${e.fees:.2f} fees; real delta {-q.delta:.2f} (estimated), IV {q.iv:.1%}"]
    elif report.outcome == "skipped":
        lines.append(f"NO TRADE: {report.message}")
    else:
        lines.append(report.message[0].upper() + report.message[1:])
    if dry_run:
        lines.append("DRY RUN: nothing was written.")
    return lines


def daily_json(report: Any, dry_run: bool) -> dict[str, Any]:
    entry = None
    if report.entry is not None:
        e = report.entry
        entry = {"ticker": e.contract.ticker, "strike": e.contract.strike, "expiry": e.contract.expiry,
                 "contracts": e.contracts, "price": e.quote.price, "price_source": e.quote.source, "fill": e.fill,
                 "premium": e.premium, "delta": e.quote.delta, "iv": e.quote.iv,
                 "position_id": report.opened.id if report.opened is not None and not dry_run else None}
    return {"as_of": report.as_of, "outcome": report.outcome, "message": report.message, "dry_run": dry_run,
            "settled": position_rows(report.settled), "unsettled": report.unsettled, "opened": entry}


def check_lines(report: Any, halted_now: bool) -> list[str]:
    n, p = len(report.closed), report.params
    lines = ["LIVE RESULTS:", f"  Trades: {n}", f"  Winners: {report.wins}", f"  Losers: {n - report.wins}",
             f"  Win Rate: {pct(report.live_win_rate)}", f"  Total P&L: {money(report.total_pnl)}",
             f"  Open positions: {len(report.open)}"]
    for o in report.open:
        mark = "mark n/a (no market data)" if o.mark is None else f"mark {o.mark:.2f}, unrealised {money(o.unrealised)}"
        lines.append(f"    #{o.position.id} {o.position.ticker} x{o.position.contracts}: {mark}")
    status = report.status
    divergence = "n/a" if report.divergence is None else f"{report.divergence:+.1f}%"
    lines += ["", "BACKTEST COMPARISON:", f"  Live Win Rate: {pct(report.live_win_rate)}",
              f"  Backtest Win Rate: {pct(p.backtest_win_rate)}  (WheelParameters #{p.id}: delta {p.put_delta:.2f},"
              f" DTE {p.dte_target}, {p.window_start} .. {p.window_end})",
              f"  Divergence: {divergence} {'✓' if status.exit_code == 0 else '!'} {status.name}",
              f"  Likelihood of a record this far off if the backtest rate were true: {report.likelihood:.1%}",
              f"  Action: {status.action}"]
    if halted_now:
        lines.append("  A trading halt was set: trade will not open positions until a calibration or resume.")
    elif report.halt is not None:
        lines.append(f"  Trading is halted since {report.halt.as_of}: {report.halt.reason}")
    return lines


def check_json(report: Any, halted_now: bool) -> dict[str, Any]:
    return {"as_of": report.as_of, "closed_trades": len(report.closed), "winners": report.wins,
            "losers": len(report.closed) - report.wins, "win_rate": report.live_win_rate,
            "total_pnl": report.total_pnl,
            "open_positions": [{"id": o.position.id, "ticker": o.position.ticker, "mark": o.mark,
                                "unrealised": o.unrealised} for o in report.open],
            "backtest_win_rate": report.params.backtest_win_rate, "parameters_id": report.params.id,
            "divergence_points": report.divergence, "likelihood": report.likelihood,
            "status": report.status.name, "exit_code": report.status.exit_code, "action": report.status.action,
            "halted": halted_now or report.halt is not None}
