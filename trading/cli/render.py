"""Text and JSON rendering for the CLI: one place for number formats, tables and JSON documents.

One way to show each quantity: deltas as positive numbers (a put's delta is negative; every output shows its
size), volatilities, rates and shares as percentages in text and as fractions in JSON, money in dollars. A trade
is one row shape, live or backtest, in JSON and CSV alike (`trade_row` and `position_row`); `trades` in a JSON
document is always a list of such rows, and counts are `closed_trades`, `wins`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import shlex
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Sequence

from backtest.records import TradeRecord
from backtest.values import defined, money

if TYPE_CHECKING:  # the types rendered, for mypy only: a command imports only what it shows
    from pathlib import Path

    from backtest.metrics import Metrics
    from backtest.spx_premium_backtest import BacktestResult
    from data.model_check import ModelCheck
    from db.models import ChainImport, CombinationResult, WheelParameters
    from trading.account import AccountView
    from trading.chain_imports import ImportResult
    from trading.monitor import Performance
    from trading.optimizer import Calibration
    from trading.selection import SelectionCheck
    from trading.run_check import PriceErrors, RunCheck
    from trading.spx_wheel_system import Calibrated, Reconciled
    from trading.strategy import StrategyParams
    from trading.trader import DailyReport
    from trading.validation import Validation
    from trading.walk_forward import WalkForward

ESTIMATED_WARNING_SHARE = 0.25
NUMERIC = {"id", "strike", "n", "contracts", "price", "fill", "premium", "delta", "settled at", "bought", "P&L",
           "pnl", "entry_delta", "value", "year", "engine", "PUT", "gap", "fold", "in-sample Sharpe", "Sharpe", "return",
           "trades", "open at end"}


def pct(value: float | None, signed: bool = False, digits: int = 1) -> str:
    known = defined(value)
    if known is None:
        return "n/a"
    return f"{known * 100:+.{digits}f}%" if signed else f"{known * 100:.{digits}f}%"


def number(value: float | None, digits: int = 2) -> str:
    known = defined(value)
    return "n/a" if known is None else f"{known:.{digits}f}"


def dollars(value: float) -> str:
    return f"${value:,.2f}"


def likelihood(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "<0.1%" if value < 0.001 else f"{value:.1%}"


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A table with numbers right-aligned (every cell already formatted as text)."""
    import tabulate  # 20 ms to import: not for the commands that print no table

    tabulate.MIN_PADDING = 0  # columns as wide as their widest cell, two spaces apart
    headers = list(rows[0])
    return tabulate.tabulate([[row[h] for h in headers] for row in rows], headers=headers, disable_numparse=True,
                    colalign=["right" if h in NUMERIC else "left" for h in headers])


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    """Name-value lines, values right-aligned."""
    from tabulate import tabulate

    return tabulate([(k, "n/a" if v is None else v) for k, v in items], tablefmt="plain", disable_numparse=True,
                    colalign=["left", "right"])


def exits_used(combinations: Sequence[StrategyParams]) -> list[str]:
    """The exit knobs that any of the parameter sets turns on (the ones a label shows)."""
    from trading.strategy import EXIT_DIMENSIONS

    return [name for name in EXIT_DIMENSIONS if any(getattr(p, name) for p in combinations)]


def combination_label(params: StrategyParams | CombinationResult, exits: Sequence[str]) -> str:
    """Delta=0.15 DTE=45, then each exit of `exits` (TP=50% SL=2x close=7d, or off)."""
    from trading.strategy import combination_label as label

    return label(params, list(exits))


def seed_line(label: str, m: Metrics) -> str:
    """The seed's calibration line: Delta=0.15 DTE=45: Win=81.4%, Return=+14.1%, DD=6.2%, Sharpe=2.3"""
    return (f"{label}: Win={pct(m.win_rate)}, Return={pct(m.total_return, True)}, DD={pct(m.max_drawdown)}, "
            f"Sharpe={number(m.sharpe, 1)}")


def data_quality(real: int, estimated: int, stand_in_settlements: int = 0, vix3m_missing: int = 0,
                 buy_backs: tuple[int, int] = (0, 0), partial_entries: int = 0) -> list[str]:
    """Where the prices came from: entries real or estimated, and (when any) buy-backs (real, estimated)."""
    total = real + estimated

    def share(n: int) -> str:
        return f"{n / total * 100:.1f}%" if total else "n/a"

    lines = ["DATA QUALITY:", f"  Real Data:    {real} ({share(real)})",
             f"  Estimated:    {estimated} ({share(estimated)})"]
    if sum(buy_backs):
        lines.append(f"  Buy-backs:    {sum(buy_backs)} ({buy_backs[0]} real, {buy_backs[1]} estimated)")
    if stand_in_settlements:
        lines.append(f"  Stand-in settlements: {stand_in_settlements} (AM settlements on a session whose open is "
                     "not known: the previous close was used)")
    if vix3m_missing:
        lines.append(f"  VIX3M missing: {vix3m_missing} sessions (the estimate used VIX alone there)")
    if partial_entries:
        lines.append(f"  Partial listings: {partial_entries} entries on chain days that hold fewer expirations than "
                     "were listed (a file with only some): they chose among fewer")
    if total and estimated / total > ESTIMATED_WARNING_SHARE:
        lines.append(f"WARNING: {share(estimated)} of entries priced by the Black-Scholes/VIX estimate, not real "
                     "option closes: less reliable.")
    return lines


def metrics_json(m: Metrics, result: BacktestResult) -> dict[str, Any]:
    return {"closed_trades": m.trades, "wins": m.wins, "win_rate": defined(m.win_rate),
            "total_return": m.total_return, "cagr": defined(m.cagr), "max_drawdown": m.max_drawdown,
            "sharpe": defined(m.sharpe), "sortino": defined(m.sortino), "calmar": defined(m.calmar),
            "real": result.real, "estimated": result.estimated,
            "stand_in_settlements": result.stand_in_settlements,
            "mean_entry_delta": defined(result.tally.entry_delta), "ruined": result.ruined,
            "deficit": result.deficit,
            "vix3m_missing": result.vix3m_missing, "average_exposure": result.exposure[0],
            "peak_exposure": result.exposure[1], "buy_backs": result.tally.buy_backs,
            "real_buy_backs": result.tally.real_buy_backs}


def buy_backs(result: BacktestResult) -> tuple[int, int]:
    """The result's buy-backs: (priced real, estimated)."""
    return result.tally.real_buy_backs, result.tally.buy_backs - result.tally.real_buy_backs


def trade_row(record: TradeRecord) -> dict[str, Any]:
    """A TradeRecord as a row for JSON and CSV, with the same names live and backtest: a live position adds its
    id and the fill's source; a stored run's trade, its combination."""
    live = {"id": record.id} if record.id is not None else {}
    run = dict(record.combination or {})
    row = {**live, **run, "ticker": record.ticker, "root": record.root, "entry_date": record.entry_date,
           "expiry": record.expiry, "strike": record.strike, "contracts": record.contracts, "price": record.price,
           "price_source": record.price_source, "fill": record.fill, "premium": record.premium,
           "entry_delta": record.entry_delta, "status": record.status, "settlement": record.settlement,
           "settlement_source": record.settlement_source, "closed_on": record.closed_on,
           "exit_reason": record.exit_reason, "exit_fill": record.exit_fill, "pnl": record.pnl}
    if live:
        row.update(fill_source=record.fill_source)
    return row


def trade_table(records: Sequence[TradeRecord]) -> str:
    """Trades (TradeRecords) as a table that fits 120 columns (the expiry is in the ticker, and in JSON and CSV)."""
    def cells(r: TradeRecord) -> dict[str, Any]:
        shown = {"id": str(r.id)} if r.id is not None else {}
        return {**shown, "ticker": r.ticker, "entry": r.entry_date, "strike": f"{r.strike:g}",
                "n": str(r.contracts), "source": "broker" if r.fill_source == "broker" else r.price_source,
                "fill": f"{r.fill:.2f}", "delta": f"{r.entry_delta:.3f}", "closed": r.closed_on or "",
                "settled at": "" if r.settlement is None else f"{r.settlement:,.2f}",
                "bought": "" if r.exit_fill is None else f"{r.exit_fill:.2f}",
                "P&L": "open" if r.pnl is None else money(r.pnl)}

    return table([cells(r) for r in records])


def to_json(document: Any) -> str:
    return json.dumps(document, indent=2, default=_default, allow_nan=False)


def _default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def write_csv(handle: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def settled_line(r: TradeRecord) -> str:
    how = {"manual": "given by hand", "stand-in": "previous close, a stand-in for the unknown open"}.get(
        r.settlement_source or "", "AM open" if r.root == "SPX" else "PM close")
    line = f"SETTLED: {r.ticker} at {r.settlement or 0.0:,.2f} ({how} of {r.expiry}): {outcome(r.pnl)}"
    if r.settlement_source == "stand-in":
        line += f"\n         give the real opening value with: spx-wheel settle --expiry {r.expiry} --value V"
    return line


def close_line(r: TradeRecord) -> str:
    return f"CLOSE: {r.ticker} @ ${r.exit_fill or 0.0:.2f} ({r.exit_reason}): {outcome(r.pnl)}"


def outcome(pnl: float | None) -> str:
    """A closed trade's P&L and what it was: `P&L +$1,138.50 WIN`."""
    return f"P&L {money(pnl or 0.0)} {'WIN' if (pnl or 0.0) > 0 else 'LOSS'}"


def daily_lines(report: DailyReport, dry_run: bool) -> list[str]:
    lines = ["DRY RUN: nothing will be written."] if dry_run else []
    lines.append(f"{report.as_of}:")
    lines += [settled_line(p) for p in report.settled]
    lines += [f"WARNING: {text}" for text in report.unsettled]
    lines += [close_line(p) for p in report.closed]
    lines += [f"TO BUY BACK: {o.ticker} x{o.quantity} limit ${o.limit_cents / 100:.2f} ({o.exit_reason})"
              for o in report.orders if o.exit_reason is not None]
    if report.entry is not None:
        e, q = report.entry, report.entry.quote
        head = f"OPENED: {e.contract.ticker} @" if report.outcome == "opened" else f"TO SELL: {e.contract.ticker} limit"
        lines += [f"{head} ${e.fill:.2f}",
                  f"        Strike: ${e.contract.strike:g}, Exp: {e.contract.expiry}, Contracts: {e.contracts}",
                  f"        Price {q.price:.2f} ({q.source}"
                  + (f", bid {q.bid:.2f} ask {q.ask:.2f})" if q.two_sided else ") less slippage")
                  + f"; premium {dollars(e.premium)} net of "
                  f"{dollars(e.fees)} fees; real delta {-q.delta:.2f} (estimated), IV {q.iv:.1%}"]
    elif report.outcome == "skipped":
        lines.append(f"NO TRADE: {report.message}")
    else:
        lines.append(report.message[0].upper() + report.message[1:])
    return lines


def daily_json(report: DailyReport, dry_run: bool) -> dict[str, Any]:
    entry = None
    if report.entry is not None:
        e = report.entry
        entry = {"ticker": e.contract.ticker, "strike": e.contract.strike, "expiry": e.contract.expiry,
                 "contracts": e.contracts, "price": e.quote.price, "price_source": e.quote.source, "fill": e.fill,
                 "premium": e.premium, "delta": -e.quote.delta, "iv": e.quote.iv,
                 "position_id": report.opened.id if report.opened is not None and not dry_run else None}
    return {"as_of": report.as_of, "outcome": report.outcome, "message": report.message, "dry_run": dry_run,
            "settled": [trade_row(r) for r in report.settled], "unsettled": report.unsettled,
            "closed": [trade_row(r) for r in report.closed], "opened": entry}


def check_lines(report: Performance, halted_now: bool) -> list[str]:
    n, p = len(report.closed), report.params
    lines = ["LIVE RESULTS:", f"  Trades: {n}", f"  Winners: {report.wins}", f"  Losers: {n - report.wins}",
             f"  Win Rate: {pct(report.live_win_rate)}", f"  Total P&L: {money(report.total_pnl)}",
             f"  Open positions: {len(report.open)}"]
    for o in report.open:
        mark = ("mark n/a (no market data)" if o.mark is None or o.unrealised is None else
                f"mark {o.mark:.2f}, unrealised {money(o.unrealised)}")
        lines.append(f"    #{o.position.id} {o.position.ticker} x{o.position.contracts}: {mark}")
    lines += account_lines(report.account)
    state = report.status
    divergence = "n/a" if report.divergence is None else f"{report.divergence:+.1f} pp"
    lines += ["", "BACKTEST COMPARISON:", f"  Live Win Rate: {pct(report.live_win_rate)}",
              f"  Backtest Win Rate: {pct(p.backtest_win_rate)}  (WheelParameters #{p.id}: delta "
              f"{p.strategy['put_delta']:.2f}, DTE {p.strategy['dte_target']}, {p.window_start} .. {p.window_end})",
              f"  Divergence: {divergence} {state.mark} {state.name}"]
    if report.likelihood is not None:
        lines.append("  Likelihood of a record this far off if the backtest rate were true: "
                     f"{likelihood(report.likelihood)}")
    lines.append(f"  Action: {state.action}")
    if halted_now:
        lines.append("  A trading halt was set: trade will not open positions until a calibration or resume.")
    elif report.halt is not None:
        lines.append(f"  Trading is halted since {report.halt.as_of}: {report.halt.reason}")
    return lines


def account_lines(shown: AccountView | None) -> list[str]:
    if shown is None:
        return ["", "ACCOUNT: n/a (an open put has no mark that day)"]
    a = shown.account
    return ["", f"ACCOUNT ({shown.source}):", f"  Net liquidation: {dollars(a.net_liquidation)}",
            f"  Cash: {dollars(a.cash)}", f"  Margin in use: {dollars(a.maintenance)}",
            f"  Buying power: {dollars(a.buying_power)}", f"  Notional (strike x 100 x contracts): "
            f"{dollars(shown.notional)}"] + [f"  WARNING: {w}" for w in shown.warnings]


def account_json(shown: AccountView | None) -> dict[str, Any] | None:
    return None if shown is None else {"source": shown.source, **asdict(shown.account), "notional": shown.notional,
                                       "warnings": list(shown.warnings)}


def run_check_lines(done: RunCheck) -> list[str]:
    def errors(what: str, e: PriceErrors, against: str) -> str:
        if not e.count:
            return f"  {what}: none on a day with a real two-sided quote"
        return (f"  {what}: {e.count}: median error {pct(e.median)}, p90 {pct(e.p90)}, median bias "
                f"{'+' if (e.bias or 0) >= 0 else ''}{pct(e.bias)} ({against})")
    return [f"RUN #{done.run_id} ({done.combination}) against real quotes: {done.trades} trades over {done.days} "
            f"sessions, {done.days_quoted} of them in the chains imported",
            errors("entries re-priced", done.entries, "the run's price against the real mid"),
            errors("buy-backs re-priced", done.exits, "the run's fill against the fill model on the real quote"),
            f"  P&L difference: {money(done.pnl_difference)} over the {done.repriced} trades re-priced (real fills "
            "less the run's)"]


def reconciled_lines(done: Reconciled) -> list[str]:
    lines = [f"Asked {done.broker} about {done.asked} order(s) whose end the book did not know."] if done.asked else []
    lines += [str(d) for d in done.differences] + [f"ADOPTED {line}" for line in done.adopted]
    if not done.differences:
        lines.append(f"The book and {done.broker} agree: {done.agreeing} open position(s).")
    elif not done.adopted:
        lines.append(f"{len(done.differences)} difference(s): check them at the broker, then run spx-wheel reconcile "
                     f"--broker {done.broker} --adopt to take its side.")
    return lines


def reconciled_json(done: Reconciled) -> dict[str, Any]:
    return {"broker": done.broker, "asked": done.asked, "agreeing": done.agreeing,
            "differences": [asdict(d) for d in done.differences], "adopted": done.adopted}


def check_json(report: Performance, halted_now: bool) -> dict[str, Any]:
    return {"as_of": report.as_of, "closed_trades": len(report.closed), "winners": report.wins,
            "losers": len(report.closed) - report.wins, "win_rate": report.live_win_rate,
            "total_pnl": report.total_pnl,
            "open_positions": [{"id": o.position.id, "ticker": o.position.ticker, "mark": o.mark,
                                "unrealised": o.unrealised} for o in report.open],
            "backtest_win_rate": report.params.backtest_win_rate, "parameters_id": report.params.id,
            "divergence_points": report.divergence, "likelihood": report.likelihood,
            "status": report.status.name, "exit_code": report.status.exit_code, "action": report.status.action,
            "halted": halted_now or report.halt is not None, "account": account_json(report.account)}


def calibrated_json(done: Calibrated) -> dict[str, Any]:
    """What calibrate did, as one document: the grid, the checks of its choice, the walk-forward."""
    from trading.selection import selection_summary

    assert done.run_id is not None, "a calibration stored"
    document = calibration_json(done.calibration, done.run_id, done.params_id)
    document["selection"] = selection_summary(done.check)
    if done.walk is not None and done.walk_run_id is not None:
        document["walk_forward"] = walk_forward_json(done.walk, done.walk_run_id)
    return document


def walk_forward_json(walked: WalkForward, run_id: int) -> dict[str, Any]:
    from trading.strategy import GRID_DIMENSIONS
    from trading.walk_forward import metrics_summary

    folds = [{"fold": index, "train_start": r.fold.train_start, "train_end": r.fold.train_end,
              "test_start": r.fold.test_start, "test_end": r.fold.test_end,
              "chosen": None if r.winner is None else {k: getattr(r.winner.params, k) for k in GRID_DIMENSIONS},
              "in_sample": None if r.winner is None else metrics_summary(r.winner.result.metrics),
              "out_of_sample": None if r.test is None else metrics_summary(r.test.metrics),
              "open_at_end": r.open_at_end}
             for index, r in enumerate(walked.results, start=1)]
    return {"run_id": run_id, "train": walked.train, "test": walked.test, "anchored": walked.anchored,
            "folds": folds, "out_of_sample": {"start": walked.dates[0], "end": walked.dates[-1],
                                              **metrics_summary(walked.metrics)}}


def calibration_json(calibration: Calibration, run_id: int, params_id: int | None) -> dict[str, Any]:
    from trading.strategy import GRID_DIMENSIONS

    def dimensions(params: StrategyParams) -> dict[str, Any]:
        return {name: getattr(params, name) for name in GRID_DIMENSIONS}

    results = [{**dimensions(c.params), **metrics_json(c.result.metrics, c.result), "eligible": calibration.eligible(c)}
               for c in calibration.combinations]
    best = calibration.best_combination
    return {"window": {"start": calibration.start, "end": calibration.end}, "source": calibration.source,
            "objective": calibration.objective, "results": results, "best": dimensions(best.params),
            "data_quality": {"real": calibration.real, "estimated": calibration.estimated,
                             "buy_backs": sum(c.result.tally.buy_backs for c in calibration.combinations),
                             "stand_in_settlements": calibration.stand_in_settlements,
                             "vix3m_missing": calibration.vix3m_missing},
            "min_trades": calibration.min_trades, "run_id": run_id, "parameters_id": params_id}


def calibrated_lines(done: Calibrated, strike_rule: str, shown_db: str, db_named: str | None = None) -> list[str]:
    """The seed's calibration output: every combination, BEST (with the checks of the choice), the walk-forward
    when asked, DATA QUALITY, where it was saved."""
    from trading.choices import OBJECTIVES

    calibration, run_id = done.calibration, done.run_id
    lines = [f"Calibrating {calibration.start} .. {calibration.end} on the {calibration.source} source "
             f"(strike rule {strike_rule}, optimizing {calibration.objective})"]
    exits = exits_used([c.params for c in calibration.combinations])
    for c in calibration.combinations:
        extra = f"  [{c.result.metrics.trades} trades, real delta ~{c.result.tally.entry_delta:.2f}]"
        if c.result.ruined is not None:
            extra += f" RUIN on {c.result.ruined}, owing {dollars(c.result.deficit)}: never chosen"
        elif not calibration.eligible(c):
            extra += f" not eligible: fewer than {calibration.min_trades} closed trades"
        lines.append(seed_line(combination_label(c.params, exits), c.result.metrics) + extra)
    if run_id is None:
        return lines
    best = calibration.best_combination.params
    bought = [buy_backs(c.result) for c in calibration.combinations]
    lines += [f"\nBEST: {combination_label(best, exits).replace(' DTE', ', DTE')} "
              f"({OBJECTIVES[calibration.objective][0]})",
              *(selection_lines(done.check, exits) if done.check is not None else [])]
    if done.walk is not None:
        lines += ["", *walk_forward_lines(done.walk, calibration, exits)]
    lines += ["", *data_quality(calibration.real, calibration.estimated, calibration.stand_in_settlements,
                                calibration.vix3m_missing, (sum(b[0] for b in bought), sum(b[1] for b in bought)),
                                calibration.partial_entries),
              f"\nSaved as WheelParameters #{done.params_id} (calibration run #{run_id}"
              + ("" if done.walk_run_id is None else f", walk-forward run #{done.walk_run_id}") + ") in "
              f"{shown_db}.", "Show them with: spx-wheel params" + ("" if db_named is None else
                                                                    f" --db {shell_word(shown_db)}")]
    return lines


def shell_word(shown: str) -> str:
    """A shown path or URL as one word to paste into a shell (a leading ~/ left for the shell to expand)."""
    return "~/" + shlex.quote(shown[2:]) if shown.startswith("~/") else shlex.quote(shown)


def selection_lines(check: SelectionCheck, exits: Sequence[str]) -> list[str]:
    """How far to trust BEST: its deflated Sharpe, the probability of overfitting, and a warning when a neighbour
    in the grid is as good within noise."""
    from trading.selection import PBO_BLOCKS, SIGNIFICANCE

    lines = [f"  Deflated Sharpe ratio: {check.deflated_sharpe:.1%} (the chance it beats the best of {check.trials} "
             "tries by luck alone)"]
    if check.overfitting is not None:
        lines.append(f"  Backtest overfitting: {check.overfitting:.1%} (CSCV, {PBO_BLOCKS} blocks: how often the "
                     "in-sample best ranks at or below the median out of sample)")
    if check.weak:
        others = ", ".join(f"{combination_label(n.params, exits)} (p {n.p_value:.2f})" for n in check.weak)
        lines.append(f"WARNING: BEST is not significantly better than {others} (Sharpe ratios by Memmel's test at "
                     f"{SIGNIFICANCE:.0%}): the choice among them is noise.")
    return lines


def walk_forward_lines(walked: WalkForward, calibration: Calibration, exits: Sequence[str]) -> list[str]:
    """Each fold's choice and how it did, then the stitched out-of-sample record beside the in-sample promise."""
    rows = [{"fold": str(index), "train": f"{r.fold.train_start} .. {r.fold.train_end}",
             "test": f"{r.fold.test_start} .. {r.fold.test_end}",
             "chosen": "none eligible" if r.winner is None else combination_label(r.winner.params, exits),
             "in-sample Sharpe": "" if r.winner is None else number(r.winner.result.metrics.sharpe),
             "Sharpe": "" if r.test is None else number(r.test.metrics.sharpe),
             "return": "" if r.test is None else pct(r.test.metrics.total_return, True),
             "trades": "" if r.test is None else str(r.test.metrics.trades), "open at end": str(r.open_at_end)}
            for index, r in enumerate(walked.results, start=1)]
    m, best = walked.metrics, calibration.best_combination
    promised = [r.winner.result.metrics.sharpe for r in walked.traded if r.winner is not None]
    return [f"WALK-FORWARD {walked.train}:{walked.test} ({'anchored' if walked.anchored else 'rolling'}): "
            f"{len(walked.results)} folds, each trading the winner of its training window",
            table(rows),
            f"OUT OF SAMPLE {walked.dates[0]} .. {walked.dates[-1]}, stitched: "
            f"{seed_line('', m)[2:]}, CAGR {pct(m.cagr, True)} [{m.trades} trades]",
            f"IN-SAMPLE PROMISE of BEST on {calibration.start} .. {calibration.end}: "
            f"{seed_line('', best.result.metrics)[2:]}, CAGR {pct(best.result.metrics.cagr, True)}",
            f"The folds' winners promised a median Sharpe of {number(_median(promised))} in training; traded "
            f"after it, they delivered {number(m.sharpe)}."]


def _median(values: Sequence[float]) -> float:
    from statistics import median

    finite = [v for v in values if math.isfinite(v)]
    return median(finite) if finite else math.nan


def backtest_json(calibration: Calibration, run_id: int, parameters: dict[str, Any]) -> dict[str, Any]:
    result = calibration.combinations[0].result
    return {"run_id": run_id, "window": {"start": result.start, "end": result.end}, "source": calibration.source,
            "parameters": parameters, **metrics_json(result.metrics, result),
            "partial_listing_entries": calibration.partial_entries,
            "trades": [trade_row(TradeRecord.of_trade(t)) for t in result.trades],
            "equity": [[d, round(float(v), 2)] for d, v in zip(result.dates, result.equity, strict=True)]}


def backtest_lines(calibration: Calibration, run_id: int, show_trades: bool) -> list[str]:
    combination = calibration.combinations[0]
    result, m = combination.result, combination.result.metrics
    lines = [f"Backtest {result.start} .. {result.end} on the {calibration.source} source (run #{run_id})",
             seed_line(combination_label(combination.params, exits_used([combination.params])), m),
             pairs([("closed trades", m.trades), ("open at end", len(result.trades) - m.trades),
                    ("CAGR", pct(m.cagr, True, 2)), ("Sortino", number(m.sortino)), ("Calmar", number(m.calmar)),
                    ("final equity", dollars(float(result.equity[-1]))),
                    ("notional exposure, average / peak", f"{pct(result.exposure[0])} / {pct(result.exposure[1])}"),
                    ("mean real delta at entry", number(result.tally.entry_delta, 3))]),
             "", *data_quality(result.real, result.estimated, result.stand_in_settlements, result.vix3m_missing,
                               buy_backs(result), calibration.partial_entries)]
    if show_trades:
        lines += ["", trade_table([TradeRecord.of_trade(t) for t in result.trades])]
    return lines


def quote_text(document: dict[str, Any]) -> str:
    shown: dict[str, Any] = {**document, "spot": f"{document['spot']:,.2f}", "vix": f"{document['vix']:.2f}",
             "premium": f"{document['premium']:.2f}", "iv": pct(document["iv"]), "delta": f"{document['delta']:.4f}",
             "real_close": None if document["real_close"] is None else f"{document['real_close']:.2f}",
             **{k: None if document[k] is None else f"{document[k]:.2f}" for k in ("bid", "ask", "mid")
                if k in document}}
    return pairs([(k.replace("_", " "), v) for k, v in shown.items()])


def parameters_json(saved: WheelParameters) -> dict[str, Any]:
    """A saved parameter set: its record, then its strategy (money in dollars, shares as fractions), every knob
    shown (a set saved before a knob existed has its default: what that version did)."""
    from trading.strategy import StrategyParams

    record = {c.key: getattr(saved, c.key) for c in saved.__table__.columns if c.key != "strategy"}
    return {**record, **StrategyParams(**saved.strategy).stored()}


def parameters_text(saved: WheelParameters) -> str:
    """The same as name-value lines, each strategy field shown by its declared unit."""
    from dataclasses import fields

    from trading.strategy import StrategyParams

    shown = parameters_json(saved)
    for f in fields(StrategyParams):
        shown[f.name] = knob_text(shown[f.name], f.metadata["unit"], f.metadata["off"])
    for key in ("backtest_win_rate", "backtest_max_drawdown"):
        shown[key] = pct(shown[key])
    shown["backtest_total_return"] = pct(shown["backtest_total_return"], True)
    shown["backtest_sharpe"] = number(shown["backtest_sharpe"])
    return "WheelParameters (active):\n" + pairs(list(shown.items()))


def knob_text(value: Any, unit: str, off: bool = False) -> str:
    """A strategy knob in its declared unit: $1.50, 50.0%, 2x, 7 days; a rule that 0 turns off, `off`."""
    if off and value == 0:
        return "off"
    if unit == "dollars":
        return dollars(value)
    if unit == "share":
        return pct(value)
    return f"{value:g}x" if unit == "multiple" else f"{value} days" if unit == "days" else str(value)


def validation_lines(v: Validation) -> list[str]:
    """The PUT comparison: each year, then CAGR, correlation, 2008 and the largest gaps against the targets."""
    rows = [{"year": str(year), "engine": pct(engine), "PUT": pct(put), "gap": pct(engine - put, True)}
            for year, engine, put in v.years]
    gaps = sorted(v.years, key=lambda r: -abs(r[1] - r[2]))[:3]
    by_year = {year: (engine, put) for year, engine, put in v.years}
    crisis = by_year.get(2008)
    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    cagr_gap = abs(v.cagr[0] - v.cagr[1]) * 100
    lines = ["The engine as Cboe's PutWrite index (estimated premiums) against the published PUT returns:", "",
             table(rows), "",
             f"CAGR {pct(v.cagr[0], digits=2)} against {pct(v.cagr[1], digits=2)}: "
             f"{cagr_gap:.2f} points apart (target 0.5): {verdict(cagr_gap <= 0.5)}",
             f"yearly correlation {v.correlation:.3f} (target 0.97): {verdict(v.correlation >= 0.97)}"]
    if crisis:
        lines.append(f"2008: {pct(crisis[0])} against {pct(crisis[1])} (target within 3 points): "
                     f"{verdict(abs(crisis[0] - crisis[1]) * 100 <= 3)}")
    lines.append("largest gaps: " + ", ".join(f"{y} {pct(e - p, True)}" for y, e, p in gaps))
    return lines


def model_check_lines(check: ModelCheck) -> list[str]:
    """The estimate's premium error against real prices: each set of prices by source, delta and days."""
    m = check.model
    lines = [f"The option-price estimate (ATM vol = term vol x {1 - m.premium:.3f} - {m.gap * 100:.1f} points; skew "
             f"{m.psi_1m:.3f} at 30 days, as T^-{m.alpha:.3f})",
             "against real puts of 5-40 delta and 14-70 days. Error = estimate / real mid - 1: the median over days",
             "of each day's median."]
    for title, tables in (("Shipped chains 2008-2024 (the quotes the model was fitted on):", check.shipped),
                          ("Shipped chains, each day priced by a fit without it:", check.left_out),
                          ("Option closes in your Polygon cache (last trades, out of sample):", check.cached),
                          ("Chains you imported (spx-wheel import; out of sample):", check.imported)):
        if tables is None:
            continue
        rows = [{"group": group, "set": r.label, "days": r.days, "puts": r.puts, "median error": pct(r.median_error),
                 "bias": pct(r.bias, True)} for group, table_rows in tables.items() for r in table_rows]
        lines += ["", title, "", table(rows)]
    if check.left_out is None:
        lines += ["", "spx-wheel model-check --leave-one-day-out refits without each shipped day (a few seconds)."]
    return lines


def import_lines(results: Sequence[ImportResult], refused: Sequence[str]) -> list[str]:
    """One row per file imported or already held, then the count (the refused ones are on stderr)."""
    rows = [{"file": r.file, "layout": r.layout, "days": f"{r.first_day} .. {r.last_day} ({r.days})",
             "expirations": r.expiries, "rows": f"{r.rows:,}", "": "imported" if r.new else "already held"}
            for r in results]
    new = [r for r in results if r.new]
    held = len(results) - len(new)
    total = (f"{len(new)} file{'s' if len(new) != 1 else ''} imported ({sum(r.rows for r in new):,} rows), "
             f"{held} already held, {len(refused)} refused")
    partial = [f"PARTIAL: {r.file}: {r.partial_days} of its {r.days} days hold fewer expirations than were listed "
               "(a --source chains run chooses among fewer there, and says so)" for r in new if r.partial_days]
    return [table(rows), "", total, *partial] if rows else [total]


def imports_json(results: Sequence[ImportResult], refused: Sequence[str]) -> dict[str, Any]:
    return {"files": [asdict(r) for r in results], "refused": list(refused)}


def _by_layout(imports: Sequence[ChainImport]) -> list[dict[str, Any]]:
    layouts: dict[str, list[Any]] = {}
    for row in imports:
        layouts.setdefault(row.layout, []).append(row)
    return [{"layout": name, "files": len(rows), "days": sum(r.days for r in rows),
             "expirations": sum(r.expiries for r in rows), "rows": sum(r.rows for r in rows),
             "first": min(r.first_day for r in rows), "last": max(r.last_day for r in rows)}
            for name, rows in layouts.items()]


def chains_json(folder: Path, imports: Sequence[ChainImport], days: int) -> dict[str, Any]:
    return {"store": str(folder), "quote_dates": days, "layouts": _by_layout(imports),
            "files": [{"file": r.file, "layout": r.layout, "rows": r.rows, "days": r.days, "expirations": r.expiries,
                       "first_day": r.first_day, "last_day": r.last_day, "imported_at": r.imported_at}
                      for r in imports]}


def chains_lines(folder: Path, imports: Sequence[ChainImport], days: int) -> list[str]:
    """The store by layout (days and expirations add up each file's), then its folder."""
    if not imports:
        return [f"The chain store {folder} is empty: spx-wheel import FILE... adds chain files to it."]
    rows = [{**row, "rows": f"{row['rows']:,}"} for row in _by_layout(imports)]
    return [table(rows), "", f"{len(imports)} files, {days} quote dates, in {folder}"]
