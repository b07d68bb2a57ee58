"""The spx-wheel command line: parse, open the database, call one core function, render."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session, sessionmaker
from tabulate import tabulate

from backtest.spx_premium_backtest import estimated_quote
from backtest.types import MarketDay
from data.calendar import is_session, last_calendar_day
from data.errors import BadInput, SpxWheelError
from data.free_daily import fetch_daily_files
from data.market import MarketSource
from data.polygon import PolygonClient
from data.polygon_source import PolygonSource
from db.session import open_database, shown_url, transaction
from trading import render
from trading.doctor import run_checks
from trading.history_updates import UpdateReport, update_history
from trading.monitor import halt_if_stopped, performance
from trading.options import (
    DATE,
    as_of_option,
    db_option,
    fetch_note,
    free_daily_clients,
    grid_options,
    json_option,
    make_source,
    polygon_settings,
    progress_printer,
    source_option,
    strategy_options,
    window_dates,
)
from trading.records import list_positions, run_trade_rows
from trading.rules import StrategyParams, listed_put
from trading.schedule import crontab_text, local_zone
from trading.spx_wheel_system import (
    MIN_CLOSED_TRADES,
    OBJECTIVES,
    Calibration,
    active_parameters,
    grid_base,
    run_grid,
    save_calibration,
)
from trading.trader import (
    ManualInputs,
    plan_daily,
    record_fill,
    record_manual_settlement,
    resume,
    run_daily,
    settlement_window_start,
)

NEW_YORK = ZoneInfo("America/New_York")


def new_york_now() -> dt.datetime:
    return dt.datetime.now(NEW_YORK)


class BadInputExit(click.ClickException):
    """Bad input found past parsing: one line, exit 2 (click's UsageError would add two lines of usage)."""

    exit_code = 2


class SpxWheelGroup(click.Group):
    """Maps the core's exceptions to click's: bad parameters exit 2, data and storage failures exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BadInput as exc:
            raise BadInputExit(str(exc)) from None
        except SpxWheelError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=SpxWheelGroup)
@click.option("-v", "--verbose", count=True, help="More log output on stderr.")
def cli(verbose: int) -> None:
    """Sell SPX puts with parameters found by backtest, and keep checking live results against it.

    \b
    Example:
      spx-wheel calibrate 2022-01-01
      spx-wheel params
    """
    logging.basicConfig(level=logging.WARNING - 10 * verbose, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


@cli.command("calibrate")
@click.argument("start", type=DATE, required=False)
@click.option("--end", type=DATE, help="Last day of the window (default: the source's last day).")
@click.option("--optimize", "objective", type=click.Choice(list(OBJECTIVES)), default="sharpe", show_default=True)
@click.option("--min-trades", type=click.IntRange(min=0), default=MIN_CLOSED_TRADES, show_default=True,
              help="Closed trades a combination needs to be chosen (those with fewer are shown, never saved).")
@grid_options
@source_option
@strategy_options
@db_option
@json_option
def calibrate_cmd(start: dt.date | None, end: dt.date | None, objective: str, min_trades: int,
                  deltas: tuple[float, ...], dtes: tuple[int, ...], source: str, offline: bool, db_url: str,
                  as_json: bool, **knobs: Any) -> None:
    """Backtest every delta x DTE combination and save the best as the active WheelParameters.

    START defaults to five years before END.

    \b
    Example:
      spx-wheel calibrate 2022-01-01 --optimize sharpe
      spx-wheel calibrate 2015-01-01 --end 2019-12-31 --deltas 0.15,0.2 --dtes 30,45 --json
    """
    base = grid_base(deltas, dtes, knobs)
    now = new_york_now()
    factory, _, calibration = backtest_grid(source, offline, db_url, start, end, now.date(), base, deltas, dtes,
                                            objective, min_trades)
    if calibration.best is None:
        if not as_json:
            click.echo("\n".join(calibration_lines(calibration, base)))
        calibration.best_combination  # raises CalibrationError: nothing is saved
    with transaction(factory) as session:
        run, saved = save_calibration(session, calibration, "calibrate", now.date(), now)
        cleared = resume(session, now, "calibrate")
    assert saved is not None
    if cleared:
        click.echo(f"A new calibration clears the trading halt ({cleared}).", err=True)
    if as_json:
        click.echo(render.to_json(calibration_json(calibration, run.id, saved.id)))
        return
    click.echo("\n".join(calibration_lines(calibration, base)))
    best = calibration.best_combination.params
    click.echo(f"\nBEST: Delta={best.put_delta:.2f}, DTE={best.dte_target} ({OBJECTIVES[objective][0]})\n")
    click.echo("\n".join(render.data_quality(calibration.real, calibration.estimated,
                                             calibration.stand_in_settlements)))
    click.echo(f"\nSaved as WheelParameters #{saved.id} (calibration run #{run.id}) in {shown_url(db_url)}. "
               "Show them with: spx-wheel params")


def calibration_lines(calibration: Calibration, base: StrategyParams) -> list[str]:
    lines = [f"Calibrating {calibration.start} .. {calibration.end} on the {calibration.source} source "
             f"(strike rule {base.strike_rule}, optimizing {calibration.objective})"]
    for c in calibration.combinations:
        extra = f"  [{c.result.metrics.trades} trades, real delta ~{render.mean_entry_delta(c.result.trades):.2f}]"
        if not calibration.eligible(c):
            extra += f" not eligible: fewer than {calibration.min_trades} closed trades"
        lines.append(render.seed_line(c.params.put_delta, c.params.dte_target, c.result.metrics) + extra)
    return lines


def backtest_grid(source: str, offline: bool, db_url: str, start: dt.date | None, end: dt.date | None,
                  today: dt.date, base: StrategyParams, deltas: Sequence[float], dtes: Sequence[int],
                  objective: str, min_trades: int = 0) -> tuple[sessionmaker[Session], MarketSource, Calibration]:
    """The data phase and the grid, as calibrate, backtest and fetch all need them: resolve the window, open the
    database, prepare the source, then run the grid to the source's fixed point."""
    factory = open_database(db_url)
    market = make_source(source, offline, factory, today)
    start, end = window_dates(market, start, end, today)
    market.prepare(start, end)
    calibration = market.resolve(lambda: run_grid(market, base, deltas, dtes, start, end, objective, min_trades,
                                                  progress_printer()))
    return factory, market, calibration


def calibration_json(calibration: Calibration, run_id: int, params_id: int | None) -> dict[str, Any]:
    results = [{"put_delta": c.params.put_delta, "dte_target": c.params.dte_target,
                **render.metrics_json(c.result.metrics, c.result), "eligible": calibration.eligible(c)}
               for c in calibration.combinations]
    best = calibration.best_combination
    return {"window": {"start": calibration.start, "end": calibration.end}, "source": calibration.source,
            "objective": calibration.objective, "results": results,
            "best": {"put_delta": best.params.put_delta, "dte_target": best.params.dte_target},
            "data_quality": {"real": calibration.real, "estimated": calibration.estimated,
                             "stand_in_settlements": calibration.stand_in_settlements},
            "min_trades": calibration.min_trades, "run_id": run_id, "parameters_id": params_id}


@cli.command("backtest")
@click.option("--delta", "put_delta", type=float, required=True, help="Put delta, e.g. 0.15.")
@click.option("--dte", "dte_target", type=int, required=True, help="Days-to-expiry target, e.g. 45.")
@click.option("--start", type=DATE, help="First day (default: five years before END).")
@click.option("--end", type=DATE, help="Last day (default: the source's last day).")
@click.option("--show-trades", is_flag=True, help="List every trade.")
@source_option
@strategy_options
@db_option
@json_option
def backtest_cmd(put_delta: float, dte_target: int, start: dt.date | None, end: dt.date | None,
                 show_trades: bool, source: str, offline: bool, db_url: str, as_json: bool, **knobs: Any) -> None:
    """Backtest one delta x DTE combination and store its trades.

    \b
    Example:
      spx-wheel backtest --delta 0.15 --dte 45 --start 2020-01-01 --end 2020-12-31 --show-trades
    """
    params = StrategyParams(put_delta=put_delta, dte_target=dte_target, **knobs)
    now = new_york_now()
    factory, market, calibration = backtest_grid(source, offline, db_url, start, end, now.date(), params,
                                                 [put_delta], [dte_target], "sharpe")
    with transaction(factory) as session:
        run, _ = save_calibration(session, calibration, "backtest", now.date(), now)
    result = calibration.combinations[0].result
    m = result.metrics
    if as_json:
        document = {"run_id": run.id, "window": {"start": result.start, "end": result.end}, "source": market.name,
                    "parameters": asdict(params), **render.metrics_json(m, result),
                    "trades": [render.trade_json(t) for t in result.trades],
                    "equity": [[d, round(float(v), 2)] for d, v in zip(result.dates, result.equity, strict=True)]}
        click.echo(render.to_json(document))
        return
    click.echo(f"Backtest {result.start} .. {result.end} on the {market.name} source (run #{run.id})")
    click.echo(render.seed_line(put_delta, dte_target, m))
    click.echo(tabulate([
        ("closed trades", m.trades), ("open at end", len(result.trades) - m.trades),
        ("CAGR", render.pct(m.cagr, True, 2)), ("Sortino", render.number(m.sortino)),
        ("Calmar", render.number(m.calmar)), ("final equity", f"${result.equity[-1]:,.2f}"),
        ("mean real delta at entry", render.number(render.mean_entry_delta(result.trades), 3)),
    ], tablefmt="plain", disable_numparse=True))
    click.echo("\n".join(["", *render.data_quality(result.real, result.estimated, result.stand_in_settlements)]))
    if show_trades:
        click.echo("\n" + render.trade_table(result.trades))


@cli.command("quote")
@click.option("--date", "day", type=DATE, required=True, help="Trading day whose close prices the put.")
@click.option("--expiry", type=DATE, required=True, help="Expiration date of the put.")
@click.option("--strike", type=click.FloatRange(min=0, min_open=True), required=True, help="Strike, e.g. 5280.")
@source_option
@db_option
@json_option
def quote_cmd(day: dt.date, expiry: dt.date, strike: float, source: str, offline: bool, db_url: str,
              as_json: bool) -> None:
    """Estimate an SPX put's premium, implied vol and delta at a day's close.

    \b
    Example:
      spx-wheel quote --date 2024-11-05 --expiry 2024-12-20 --strike 5280
    """
    if expiry <= day:
        raise click.UsageError(f"expiry {expiry} must be after the date {day}")
    if expiry > last_calendar_day():
        raise click.UsageError(f"expiry {expiry} is beyond the NYSE calendar ({last_calendar_day()})")
    now = new_york_now()
    factory = open_database(db_url)
    market = make_source(source, offline, factory, now.date())
    market.prepare(day - dt.timedelta(days=7), day, listings_from=day)
    history = market.history()
    i = history.index_of(day)
    contract = market.resolve(lambda: listed_put(market, day, expiry, strike))
    q = estimated_quote(MarketDay(day, float(history.spx_close[i]), float(history.vix[i]),
                                  float(history.vix3m[i]), float(history.rate[i])), contract)
    closes = market.resolve(lambda: market.option_closes(contract, (day,)))
    real_close = math.nan if closes is None else float(closes[0])
    document = {"ticker": contract.ticker, "date": day, "spot": float(history.spx_close[i]),
                "vix": float(history.vix[i]), "premium": round(q.price, 4), "iv": round(q.iv, 6),
                "delta": round(q.delta, 6), "source": "estimated",
                "real_close": None if math.isnan(real_close) else real_close}
    if as_json:
        click.echo(render.to_json(document))
        return
    click.echo(tabulate([(k.replace("_", " "), "n/a" if v is None else v) for k, v in document.items()],
                        tablefmt="plain", disable_numparse=True))


@cli.command("params")
@db_option
@json_option
def params_cmd(db_url: str, as_json: bool) -> None:
    """Show the active (newest) WheelParameters.

    \b
    Example:
      spx-wheel params --json
    """
    factory = open_database(db_url)
    with transaction(factory) as session:
        saved = active_parameters(session)
        if saved is None:
            raise click.ClickException("no parameters saved yet: run spx-wheel calibrate first")
        fields = {c.key: getattr(saved, c.key) for c in saved.__table__.columns}
    if as_json:
        click.echo(render.to_json(fields))
        return
    shown = dict(fields)
    for key in ("backtest_win_rate", "backtest_total_return", "backtest_max_drawdown", "max_margin_pct"):
        shown[key] = render.pct(fields[key], key == "backtest_total_return")
    click.echo("WheelParameters (active):")
    click.echo(tabulate(shown.items(), tablefmt="plain", disable_numparse=True))


@cli.command("trade")
@as_of_option
@click.option("--spot", type=click.FloatRange(min=0, min_open=True), help="The day's SPX close, by hand.")
@click.option("--vix", type=click.FloatRange(min=0, min_open=True), help="The day's VIX close, by hand.")
@click.option("--vix3m", type=click.FloatRange(min=0, min_open=True), help="The day's VIX3M close, by hand.")
@click.option("--price", type=click.FloatRange(min=0, min_open=True),
              help="The put's price (e.g. the broker's mid), used instead of the estimate.")
@click.option("--dry-run", is_flag=True, help="Show the decision and write nothing.")
@click.option("--update", "update_first", is_flag=True,
              help="Embedded source: first extend the local history from the free daily files (as spx-wheel "
                   "update; a failure there is a warning).")
@source_option
@db_option
@json_option
def trade_cmd(as_of: dt.date | None, spot: float | None, vix: float | None, vix3m: float | None,
              price: float | None, dry_run: bool, update_first: bool, source: str, offline: bool, db_url: str,
              as_json: bool) -> None:
    """Settle expired positions, then open at most one new position with the active parameters.

    Run it once a day after the close; running it again the same day changes nothing.

    \b
    Example:
      spx-wheel trade
      spx-wheel trade --as-of 2020-03-02
      spx-wheel trade --spot 5782.76 --vix 20.49 --price 15.40 --dry-run
    """
    now = new_york_now()
    day = as_of or now.date()
    factory = open_database(db_url)
    if update_first and source == "embedded":
        try:
            run_update(factory, now)
        except SpxWheelError as exc:
            click.echo(f"Warning: the update failed, trading on the local history as it is: {exc}", err=True)
    market = make_source(source, offline, factory, now.date())
    manual = ManualInputs(spot, vix, vix3m, price)
    if isinstance(market, PolygonSource):
        with transaction(factory) as session:
            first = settlement_window_start(session, day)
        market.prepare(first, day, listings_from=day)
        market.resolve(lambda: plan_daily(factory, market, day, now, manual))
    if dry_run:
        report = plan_daily(factory, market, day, now, manual)
    else:
        with transaction(factory) as session:
            report = run_daily(session, market, day, now, manual)
    if as_json:
        click.echo(render.to_json(render.daily_json(report, dry_run)))
        return
    click.echo("\n".join(render.daily_lines(report, dry_run)))


def run_update(factory: sessionmaker[Session], now: dt.datetime) -> UpdateReport:
    cboe, fred = free_daily_clients(dict(os.environ))
    files = fetch_daily_files(cboe, fred, fetch_note())
    with transaction(factory) as session:
        return update_history(session, files, now)


@cli.command("update")
@db_option
@json_option
def update_cmd(db_url: str, as_json: bool) -> None:
    """Extend the local market history to the last published close, from Cboe's and FRED's free daily files.

    No key needed. The bundled file stays as it is; the sessions after it are stored in the database and read
    by every command on the embedded source. Cboe publishes no SPX open: an AM settlement on an updated session
    uses the previous close as a stand-in (counted as such), unless you give the value with spx-wheel settle.

    \b
    Example:
      spx-wheel update
    """
    factory = open_database(db_url)
    report = run_update(factory, new_york_now())
    if as_json:
        click.echo(render.to_json(asdict(report)))
        return
    added = (f"{report.sessions} sessions {report.first} .. {report.last} stored" if report.first
             else "nothing newer than the bundled history")
    click.echo(f"Local history now ends {report.last}: {added} ({report.stopped}).")


@cli.command("settle")
@click.option("--expiry", type=DATE, required=True, help="The expiration day whose settlement value you give.")
@click.option("--value", type=click.FloatRange(min=0, min_open=True, max=1_000_000), required=True,
              help="The SPX settlement value: the special opening quotation (AM) or the close (PM).")
@db_option
@json_option
def settle_cmd(expiry: dt.date, value: float, db_url: str, as_json: bool) -> None:
    """Give the settlement value of an expiration by hand (read from your broker or Cboe).

    The next trade settles the positions of that expiration at this value (marked manual); positions already
    settled on a stand-in (an AM settlement whose open was not known) are settled again at it now.

    \b
    Example:
      spx-wheel settle --expiry 2026-08-21 --value 6512.30
    """
    if not is_session(expiry):
        raise BadInput(f"{expiry} is not an NYSE trading day, so no SPX option expires on it")
    factory = open_database(db_url)
    with transaction(factory) as session:
        again = [render.position_row(p) for p in record_manual_settlement(session, expiry, value, new_york_now())]
    if as_json:
        click.echo(render.to_json({"expiry": expiry, "value": value, "source": "manual", "resettled": again}))
        return
    click.echo(f"Recorded the settlement of {expiry} at {value:,.2f} (manual).")
    for row in again:
        click.echo(f"SETTLED AGAIN: {row['ticker']} at {value:,.2f}: P&L {render.money(row['pnl'])}")
    if not again:
        click.echo("The next trade settles the open positions of that expiration at it.")


@cli.command("check")
@as_of_option
@click.option("--min-trades", type=click.IntRange(min=1), default=10, show_default=True,
              help="Closed trades needed before divergence triggers any action.")
@source_option
@db_option
@json_option
@click.pass_context
def check_cmd(ctx: click.Context, as_of: dt.date | None, min_trades: int, source: str, offline: bool,
              db_url: str, as_json: bool) -> None:
    """Compare live results with the active parameters' backtest.

    \b
    Exit codes (for cron):
      0  within tolerance (divergence under 5 points)
      10 insufficient sample (fewer than --min-trades closed trades)
      11 monitor (5 to 10 points)
      12 recalibrate (over 10 points)
      13 stop trading (over 20 points; sets a halt that trade obeys)

    \b
    Example:
      spx-wheel check
      spx-wheel check --as-of 2020-12-31 --json
    """
    now = new_york_now()
    day = as_of or now.date()
    factory = open_database(db_url)
    market = make_source(source, offline, factory, now.date())
    market.prepare(day - dt.timedelta(days=7), day, listings_from=day + dt.timedelta(days=1))
    with transaction(factory) as session:
        saved = active_parameters(session)
        if saved is None:
            raise click.ClickException("no parameters saved yet: run spx-wheel calibrate first")
        report = market.resolve(lambda: performance(session, market, day, saved, min_trades))
        halt = halt_if_stopped(session, report, now)
    if as_json:
        click.echo(render.to_json(render.check_json(report, halt is not None)))
    else:
        click.echo("\n".join(render.check_lines(report, halt is not None)))
    ctx.exit(report.status.exit_code)


@cli.command("resume")
@db_option
def resume_cmd(db_url: str) -> None:
    """Lift a trading halt set by check.

    \b
    Example:
      spx-wheel resume
    """
    factory = open_database(db_url)
    with transaction(factory) as session:
        cleared = resume(session, new_york_now(), "resume")
    click.echo("Trading resumed." if cleared else "No halt was active.")


@cli.command("fill")
@click.argument("position_id", type=int)
@click.option("--price", type=click.FloatRange(min=0, min_open=True), required=True,
              help="The price per share you actually sold at.")
@db_option
def fill_cmd(position_id: int, price: float, db_url: str) -> None:
    """Record the broker's fill for a position when it differs from the modelled one.

    \b
    Example:
      spx-wheel fill 12 --price 15.35
    """
    factory = open_database(db_url)
    with transaction(factory) as session:
        position = record_fill(session, position_id, price)
        click.echo(f"Position #{position.id} {position.ticker}: fill ${price:.2f}, premium "
                   f"${position.premium_cents / 100:,.2f} net")


@cli.command("positions")
@click.option("--open", "which", flag_value="open", help="Only open positions.")
@click.option("--closed", "which", flag_value="closed", help="Only settled positions.")
@db_option
@json_option
def positions_cmd(which: str | None, db_url: str, as_json: bool) -> None:
    """List live positions with their tickers, prices, sources and P&L.

    \b
    Example:
      spx-wheel positions --open
    """
    factory = open_database(db_url)
    with transaction(factory) as session:
        rows = render.position_rows(list_positions(session, which))
    if as_json:
        click.echo(render.to_json(rows))
    elif rows:
        click.echo(tabulate(rows, headers="keys", disable_numparse=True))
    else:
        click.echo("No positions.")


@cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@click.option("--run", "run_id", type=int, help="Export this calibration or backtest run's trades instead.")
@db_option
def export_cmd(path: str, run_id: int | None, db_url: str) -> None:
    """Write live positions (or a run's backtest trades) to a CSV file ('-' for stdout).

    \b
    Example:
      spx-wheel export trades.csv
      spx-wheel export backtest.csv --run 3
    """
    factory = open_database(db_url)
    with transaction(factory) as session:
        rows = run_trade_rows(session, run_id) if run_id is not None else render.position_rows(list_positions(session))
    if path == "-":
        render.write_csv(click.get_text_stream("stdout"), rows)
        return
    try:
        with open(path, "w", newline="") as handle:
            render.write_csv(handle, rows)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
    click.echo(f"Wrote {len(rows)} rows to {path}", err=True)


@cli.command("fetch")
@click.argument("start", type=DATE)
@click.argument("end", type=DATE, required=False)
@grid_options
@strategy_options
@db_option
def fetch_cmd(start: dt.date, end: dt.date | None, deltas: tuple[float, ...], dtes: tuple[int, ...], db_url: str,
              **knobs: Any) -> None:
    """Fetch from Polygon everything a calibration of the window needs, into the cache.

    A later calibrate (or --offline) over the window then makes no request.

    \b
    Example:
      spx-wheel fetch 2023-01-01
    """
    base = grid_base(deltas, dtes, knobs)
    _, market, calibration = backtest_grid("polygon", False, db_url, start, end, new_york_now().date(), base,
                                           deltas, dtes, "sharpe")
    assert isinstance(market, PolygonSource) and market.client is not None
    click.echo(f"Cached what {calibration.start} .. {calibration.end} needs "
               f"({market.client.requests_made} requests made).")


@cli.command("doctor")
@db_option
@json_option
def doctor_cmd(db_url: str, as_json: bool) -> None:
    """Check the API key and the Polygon plan (when a key is set), the local market history and the database.

    \b
    Example:
      spx-wheel doctor
    """
    environ = dict(os.environ)
    checks = run_checks(environ, db_url, new_york_now().date(),
                        lambda env: PolygonClient(**polygon_settings(env)["client"]))
    if as_json:
        click.echo(render.to_json([asdict(check) for check in checks]))
    else:
        click.echo("\n".join(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}" for check in checks))
    if not all(check.ok for check in checks):
        sys.exit(1)


@cli.command("cron")
def cron_cmd() -> None:
    """Print crontab lines for this checkout, at New York times whatever this machine's zone.

    \b
    Example:
      spx-wheel cron >> my-crontab && crontab my-crontab
    """
    click.echo(crontab_text(Path(__file__).resolve().parents[1], local_zone()))
