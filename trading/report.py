"""The report a person looks at: one self-contained HTML page for a stored calibration or backtest run (charts
embedded as PNG), built from what the database holds: the run's combinations, its best's equity curve and
trades, the walk-forward folds that belong to it, and Cboe's published PUT returns to set its years against.
Charts by matplotlib (Agg, no display): the plotting library every Python user already has."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from backtest.records import closed_on
from backtest.values import money
from db.models import BacktestTrade, CalibrationRun, CombinationResult, WalkForwardFold
from trading.choices import OBJECTIVES
from trading.strategy import EXIT_DIMENSIONS, combination_label
from trading.ledger import TradeError

OBJECTIVE_COLUMNS = {"sharpe": "sharpe", "return": "total_return", "win_rate": "win_rate",
                     "drawdown": "max_drawdown", "calmar": "calmar"}


@dataclass(frozen=True)
class ReportData:
    run: CalibrationRun
    results: list[CombinationResult]
    best: CombinationResult
    trades: list[BacktestTrade]
    dates: list[dt.date]
    equity: list[float]
    folds: list[WalkForwardFold]
    walk: CalibrationRun | None
    put_returns: dict[int, float]  # Cboe PUT's published calendar-year returns


def load_report(session: Session, run_id: int | None, put_returns: dict[int, float]) -> ReportData:
    """A stored run (the newest calibration or backtest when `run_id` is None) with what its report shows."""
    query = select(CalibrationRun).where(CalibrationRun.kind != "walk-forward")
    run = (session.get(CalibrationRun, run_id) if run_id is not None else
           session.scalars(query.order_by(CalibrationRun.id.desc()).limit(1)).first())
    if run is None or run.kind == "walk-forward":
        raise TradeError(f"no calibration or backtest run #{run_id}" if run_id is not None else
                         "no run stored yet: run spx-wheel calibrate or backtest first")
    results = list(run.results)
    best = next((r for r in results if r.best), results[0])
    trades = list(session.scalars(select(BacktestTrade).where(BacktestTrade.result_id == best.id)
                                  .order_by(BacktestTrade.entry_date, BacktestTrade.id)))
    walks = session.scalars(select(CalibrationRun).where(CalibrationRun.kind == "walk-forward")
                            .order_by(CalibrationRun.id)).all()
    walk = next((w for w in walks if w.settings.get("calibration_run") == run.id), None)
    folds = [] if walk is None else list(session.scalars(select(WalkForwardFold).where(
        WalkForwardFold.run_id == walk.id).order_by(WalkForwardFold.fold)))
    curve: Any = run.settings.get("equity") or {"dates": [], "values": []}
    return ReportData(run, results, best, trades, [dt.date.fromisoformat(d) for d in curve["dates"]],
                      list(curve["values"]), folds, walk, put_returns)


def _png(figure: Any) -> str:
    """A matplotlib figure as an <img> with the PNG inline."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def equity_chart(dates: Sequence[dt.date], equity: Sequence[float], capital: float) -> str:
    """The equity curve, with its drawdown from the running peak underneath."""
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.array(equity)
    drawdown = values / np.maximum.accumulate(np.maximum(values, 1e-9)) - 1
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True, height_ratios=[3, 1])
    top.plot(dates, values, color="#1f4e79", linewidth=1.2)
    top.axhline(capital, color="#999999", linewidth=0.8, linestyle="--")
    top.set_ylabel("equity ($)")
    top.grid(alpha=0.3)
    bottom.fill_between(dates, drawdown * 100, 0, color="#b03a2e", alpha=0.6)
    bottom.set_ylabel("drawdown (%)")
    bottom.grid(alpha=0.3)
    return _png(figure)


def heatmap(results: Sequence[CombinationResult], best: CombinationResult, column: str, title: str) -> str:
    """The delta x DTE grid of one metric, at the best's exits (the other exit settings have their own slices)."""
    import matplotlib.pyplot as plt
    import numpy as np

    same = [r for r in results if all(getattr(r, n) == getattr(best, n) for n in EXIT_DIMENSIONS)]
    deltas = sorted({r.put_delta for r in same})
    dtes = sorted({r.dte_target for r in same})
    grid = np.full((len(deltas), len(dtes)), np.nan)
    for r in same:
        value = getattr(r, column)
        grid[deltas.index(r.put_delta), dtes.index(r.dte_target)] = np.nan if value is None else value
    figure, axes = plt.subplots(figsize=(1.2 * len(dtes) + 2.5, 0.6 * len(deltas) + 1.8))
    image = axes.imshow(grid, cmap="RdYlGn_r" if column == "max_drawdown" else "RdYlGn", aspect="auto")
    axes.set_xticks(range(len(dtes)), [str(d) for d in dtes])
    axes.set_yticks(range(len(deltas)), [f"{d:.2f}" for d in deltas])
    axes.set_xlabel("DTE")
    axes.set_ylabel("delta")
    axes.set_title(title)
    share = column in ("win_rate", "total_return", "max_drawdown")
    ruin = {(r.put_delta, r.dte_target) for r in same if r.ruined is not None}
    for (row, col), value in np.ndenumerate(grid):
        text = "n/a" if np.isnan(value) else f"{value:.1%}" if share else f"{value:.2f}"
        text = "RUIN" if (deltas[row], dtes[col]) in ruin else text
        edge = (deltas[row], dtes[col]) == (best.put_delta, best.dte_target)
        axes.text(col, row, text, ha="center", va="center", fontsize=9, fontweight="bold" if edge else "normal")
    bar = figure.colorbar(image, ax=axes)
    if share:  # the scale in the cells' unit
        from matplotlib.ticker import PercentFormatter

        bar.formatter = PercentFormatter(1.0)
        bar.update_ticks()
    return _png(figure)


def trade_cells(t: BacktestTrade) -> list[Any]:
    """A stored trade as the report's row: how and when it closed (a buy-back's reason and fill, or the
    expiry's settlement value), each price with its source."""
    bought = t.exit_reason is not None
    closed = "open" if t.pnl_cents is None else f"buy-back: {t.exit_reason}" if bought else "settlement"
    at = t.exit_fill_cents if bought else t.settlement_cents
    return [t.ticker, t.entry_date, t.expiry, f"{t.strike_cents / 100:g}", t.contracts,
            f"{t.entry_price_cents / 100:.2f}", t.source, f"{t.fill_cents / 100:.2f}",
            closed_on(t.exit_date, t.expiry, t.pnl_cents), closed, "" if at is None else f"{at / 100:,.2f}",
            (t.exit_source if bought else t.settlement_source) or "",
            "open" if t.pnl_cents is None else money(t.pnl_cents / 100)]


def _years(years: Sequence[int]) -> str:
    return ", ".join(map(str, years)) if len(years) < 4 else f"{years[0]}-{years[-1]}"


def yearly_returns(dates: Sequence[dt.date], equity: Sequence[float], capital: float) -> dict[int, float]:
    """Each calendar year's return of the curve (the first from the capital, a partial last year as it stands)."""
    returns, start = {}, capital
    for i, day in enumerate(dates):
        if i + 1 == len(dates) or dates[i + 1].year != day.year:
            returns[day.year] = equity[i] / start - 1
            start = equity[i]
    return returns


def yearly_chart(years: dict[int, float], put: dict[int, float]) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    labels = sorted(years)
    x = np.arange(len(labels))
    figure, axes = plt.subplots(figsize=(11, 3.8))
    axes.bar(x - 0.2, [years[y] * 100 for y in labels], width=0.4, label="this run", color="#1f4e79")
    axes.bar(x + 0.2, [put.get(y, np.nan) * 100 for y in labels], width=0.4, label="Cboe PUT (published)",
             color="#c9a227")
    axes.set_xticks(x, [str(y) for y in labels], rotation=90 if len(labels) > 12 else 0)
    axes.set_ylabel("return (%)")
    axes.axhline(0, color="black", linewidth=0.6)
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def folds_chart(folds: Sequence[WalkForwardFold]) -> str:
    import matplotlib.pyplot as plt

    returns = [(f.test_start.isoformat()[:7], f.out_of_sample["total_return"] * 100) for f in folds
               if f.out_of_sample is not None]
    figure, axes = plt.subplots(figsize=(11, 3.2))
    axes.bar([label for label, _ in returns], [value for _, value in returns],
             color=["#2e7d32" if value >= 0 else "#b03a2e" for _, value in returns])
    axes.set_ylabel("out-of-sample return (%)")
    axes.tick_params(axis="x", rotation=90)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _e(value: Any) -> str:
    """Any stored value as page text: escaped, whatever it holds (the database is not trusted to hold only
    what spx-wheel wrote)."""
    return html.escape(str(value))


def _pct(value: Any) -> str:
    """A share as a percentage; anything but a number is shown escaped, as it is."""
    return "n/a" if value is None else f"{value:.1%}" if isinstance(value, (int, float)) else _e(value)


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}" if isinstance(value, (int, float)) else _e(value)


def _label(r: CombinationResult) -> str:
    return combination_label(r, only_on=True)


STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.note{color:#666;font-size:.85em}
img{max-width:100%}"""


def render_report(data: ReportData) -> str:
    """The whole page."""
    run, best = data.run, data.best
    settings: dict[str, Any] = run.settings
    capital = float(settings.get("capital", 500_000.0))
    real = sum(1 for t in data.trades if t.source == "real")
    bought = [t for t in data.trades if t.exit_source is not None]
    summary = [("window", f"{run.window_start} .. {run.window_end}"), ("source", run.source),
               ("chosen", _label(best) + (f" ({OBJECTIVES[run.objective][0]})" if run.kind == "calibrate" else "")),
               ("closed trades", best.trades), ("win rate", _pct(best.win_rate)),
               ("total return", _pct(best.total_return)), ("CAGR", _pct(best.cagr)),
               ("max drawdown", _pct(best.max_drawdown)),
               ("Sharpe", "n/a" if best.sharpe is None else f"{best.sharpe:.2f}"),
               ("entries priced real / estimated", f"{real} / {len(data.trades) - real}"),
               ("buy-backs priced real / estimated",
                f"{sum(1 for t in bought if t.exit_source == 'real')} / "
                f"{sum(1 for t in bought if t.exit_source != 'real')}")]
    ruined = [r for r in data.results if r.ruined is not None]
    if best.ruined is not None:
        summary.append(("ruin", f"equity reached zero on {_e(best.ruined)}, the account owing "
                                f"{money(best.deficit_cents / 100)}: the run stops there"))
    if len(data.results) > 1:
        worst = max(ruined, key=lambda r: r.deficit_cents, default=None)
        summary.append(("combinations ruined", f"{len(ruined)} of {len(data.results)}" + (
            "" if worst is None else f" (the worst, {_label(worst)}, owing {money(worst.deficit_cents / 100)})")))
    selection = settings.get("selection")
    if selection:
        summary.append(("deflated Sharpe ratio", _pct(selection["deflated_sharpe"])))
        summary.append(("probability of backtest overfitting", _pct(selection["probability_of_overfitting"])))
    parts = [f"<h1>spx-wheel {_e(run.kind)} run #{_e(run.id)}</h1>",
             f'<p class="note">Made {_e(str(run.created_at)[:16])}. Every price carries its source; '
             "estimated prices come from the Black-Scholes/VIX model, not real quotes.</p>",
             _table(["", ""], summary), "<h2>Equity and drawdown</h2>"]
    parts.append(equity_chart(data.dates, data.equity, capital) if data.dates else
                 '<p class="note">This run was stored before curves were kept: run it again to see one.</p>')
    if len(data.results) > 1:
        column = OBJECTIVE_COLUMNS[run.objective]
        parts += ["<h2>The grid</h2>", heatmap(data.results, best, column, f"{run.objective} by delta x DTE"),
                  heatmap(data.results, best, "win_rate", "win rate by delta x DTE")]
    if data.dates:
        years = yearly_returns(data.dates, data.equity, capital)
        unpublished = sorted(y for y in years if y not in data.put_returns)
        parts += ["<h2>Years against Cboe PUT</h2>", yearly_chart(years, data.put_returns),
                  '<p class="note">PUT: Cboe S&amp;P 500 PutWrite index, published calendar-year total returns '
                  "(at-the-money monthly puts, fully cash-secured). The first and last years of the run may be "
                  "partial." + (f" No PUT return is shipped for {_years(unpublished)}: those years have no PUT "
                                f"bar (the shipped series ends {max(data.put_returns)})." if unpublished else "")
                  + "</p>"]
    if data.walk is not None:
        s: dict[str, Any] = data.walk.settings
        oos = s["out_of_sample"]
        parts += [f"<h2>Walk-forward {_e(s['train'])}:{_e(s['test'])} "
                  f"({'anchored' if s['anchored'] else 'rolling'})</h2>", folds_chart(data.folds),
                  f"<p>Out of sample {_e(oos['start'])} .. {_e(oos['end'])}: return {_pct(oos['total_return'])}, "
                  f"max drawdown {_pct(oos['max_drawdown'])}, Sharpe {_number(oos['sharpe'])}, "
                  f"{_e(oos['closed_trades'])} trades.</p>",
                  _table(["fold", "train", "test", "chosen", "in-sample Sharpe", "return", "Sharpe"],
                         [[f.fold, f"{f.train_start} .. {f.train_end}", f"{f.test_start} .. {f.test_end}",
                           "none eligible" if f.strategy is None else
                           f"delta {_number(f.strategy['put_delta'])}, DTE {f.strategy['dte_target']}",
                           "" if f.in_sample is None else _number(f.in_sample["sharpe"]),
                           "" if f.out_of_sample is None else _pct(f.out_of_sample["total_return"]),
                           "" if f.out_of_sample is None else _number(f.out_of_sample["sharpe"])]
                          for f in data.folds])]
    parts += [f"<h2>Trades ({len(data.trades)})</h2>",
              _table(["ticker", "entry", "expiry", "strike", "n", "price", "source", "fill", "closed",
                      "closed by", "at", "its source", "P&L"], [trade_cells(t) for t in data.trades])]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>spx-wheel run #{_e(run.id)}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
