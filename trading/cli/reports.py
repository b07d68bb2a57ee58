"""Commands that report: check, positions, export, params, doctor, cron."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, TextIO

import click

from data.errors import BadInput
from trading.choices import MIN_CLOSED_TRADES
from trading.cli.params import (
    ID,
    Whole,
    alert,
    as_of_option,
    broker_option,
    command,
    context,
    db_option,
    json_option,
    notify_option,
    source_option,
)

ALERTING_STATUS = (12, 13)  # RECALIBRATE, STOP TRADING: the statuses a person must hear about at once


@command("check")
@as_of_option
@click.option("--min-trades", type=Whole(1, 100_000), default=MIN_CLOSED_TRADES, show_default=True,
              help="Closed trades needed before divergence triggers any action.")
@source_option
@notify_option
@broker_option
@db_option
@json_option
@click.pass_context
def check_cmd(ctx: click.Context, as_of: dt.date | None, min_trades: int, source: str, offline: bool,
              notify: str | None, broker: str | None, db_url: str, as_json: bool) -> None:
    """Compare live results with the active parameters' backtest (as the book stood on --as-of), and show the
    account: net liquidation, cash, margin in use, buying power and notional (the broker's with --broker, else
    the book's by the rules), warning where it holds more than the backtest ever could.

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
    from trading import spx_wheel_system as system
    from trading.cli import render

    context_ = context(db_url)
    report, halt = system.check(context_, source, offline, as_of or context_.today, min_trades, broker)
    lines = render.check_lines(report, halt is not None)
    click.echo(render.to_json(render.check_json(report, halt is not None)) if as_json else "\n".join(lines))
    if report.status.exit_code in ALERTING_STATUS:
        alert(notify, f"spx-wheel: {report.status.name} ({report.as_of})", "\n".join(lines))
    ctx.exit(report.status.exit_code)


@command("positions")
@click.option("--open", "only_open", is_flag=True, help="Only open positions.")
@click.option("--closed", "only_closed", is_flag=True, help="Only settled positions.")
@broker_option
@db_option
@json_option
def positions_cmd(only_open: bool, only_closed: bool, broker: str | None, db_url: str, as_json: bool) -> None:
    """List live positions with their tickers, prices, sources and P&L; with a broker (--broker or
    SPX_WHEEL_BROKER) the account as the broker reports it too (check shows the book's, and each open put's
    mark).

    \b
    Example:
      spx-wheel positions --open
    """
    from trading import records
    from trading.cli import render

    if only_open and only_closed:
        raise BadInput("--open and --closed exclude each other: give neither to list every position")
    ctx = context(db_url)
    trades = records.positions(ctx, "open" if only_open else "closed" if only_closed else None)
    shown = None if broker is None else broker_account(ctx, broker)
    if as_json:
        rows = [render.trade_row(r) for r in trades]
        click.echo(render.to_json(rows if broker is None else {"positions": rows,
                                                                "account": render.account_json(shown)}))
    else:
        click.echo("\n".join([render.trade_table(trades) if trades else "No positions."]
                             + (render.account_lines(shown) if broker else [])))


def broker_account(ctx: Any, broker: str) -> Any:
    """The broker's account, priced on the default source (the one place positions needs the market)."""
    from trading import spx_wheel_system as system
    from trading.sources import default_source

    return system.account_of(ctx, default_source(ctx.environ), broker)


@command("reconcile")
@broker_option
@click.option("--adopt", is_flag=True, help="Take the broker's side of every difference (each change is listed).")
@as_of_option
@source_option
@db_option
@json_option
def reconcile_cmd(broker: str | None, adopt: bool, as_of: dt.date | None, source: str, offline: bool,
                  db_url: str, as_json: bool) -> None:
    """Compare the broker's positions with the book (after asking it about every order whose end the book does
    not know) and list each difference: MISSING at the broker, EXTRA there, another QUANTITY or PRICE. Exit 0
    when they agree, 1 when they differ (and nothing was adopted).

    \b
    Example:
      spx-wheel reconcile --broker paper
      spx-wheel reconcile --broker tastytrade --adopt
    """
    from trading import spx_wheel_system as system
    from trading.cli import render

    if broker is None:
        raise BadInput("reconcile compares the book with a broker: give --broker (or SPX_WHEEL_BROKER)")
    ctx = context(db_url)
    done = system.reconcile(ctx, source, offline, as_of or ctx.today, broker, adopt)
    click.echo(render.to_json(render.reconciled_json(done)) if as_json else "\n".join(render.reconciled_lines(done)))
    if done.differences and not done.adopted:
        raise SystemExit(1)


@command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--run", "run_id", type=ID, help="Export this calibration or backtest run's trades instead.")
@db_option
@json_option
def export_cmd(path: str, run_id: int | None, db_url: str, as_json: bool) -> None:
    """Write live positions (or a run's backtest trades) to a CSV file ('-' for stdout), one column set for both.
    With --json: the file's path and row count; to '-', the rows themselves as JSON.

    \b
    Example:
      spx-wheel export trades.csv
      spx-wheel export backtest.csv --run 3
    """
    from trading import records
    from trading.cli import render

    ctx = context(db_url)
    trades = records.run_trades(ctx, run_id) if run_id is not None else records.positions(ctx, None)
    rows = [render.trade_row(r) for r in trades]
    if path == "-":
        if as_json:
            click.echo(render.to_json({"path": path, "rows": len(rows), "trades": rows}))
        else:
            render.write_csv(sys.stdout, rows)
        return
    with private_file(path, newline="") as handle:
        render.write_csv(handle, rows)
    click.echo(render.to_json({"path": path, "rows": len(rows)}) if as_json else f"Wrote {len(rows)} rows to {path}",
               err=not as_json)


@contextmanager
def private_file(path: str, **options: Any) -> Iterator[TextIO]:
    """A file written for its owner only (0600, like the database: it holds the book), or one line saying why
    it cannot be."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(handle, 0o600)  # a file that was there keeps no wider mode
        with open(handle, "w", **options) as text:
            yield text
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None


def check_writable(path: str, option: str) -> None:
    """Refuse, before anything runs, a path a command could not write at its end."""
    folder = Path(path).parent
    problem = ("is a folder" if Path(path).is_dir() else f"{folder} does not exist" if not folder.is_dir() else
               f"{folder} is not writable" if not os.access(folder, os.W_OK) else "")
    if problem:
        raise BadInput(f"{option} {path}: {problem}")


def write_report(ctx: object, run_id: int | None, out: str | None, live: bool = False) -> tuple[str, int, int]:
    """Render a stored run's HTML report (or the live book's) and write it: (the path as shown, its size in
    bytes, the run's id, 0 for the live book)."""
    from trading import spx_wheel_system as system

    page, shown = (system.live_report(ctx), 0) if live else system.report(ctx, run_id)  # type: ignore[arg-type]
    path = out or ("spx-wheel-live.html" if live else f"spx-wheel-run-{shown}.html")
    with private_file(path, encoding="utf-8") as handle:
        handle.write(page)
    resolved, home = str(Path(path).resolve()), str(Path.home())
    shown_path = "~" + resolved[len(home):] if resolved.startswith(home + "/") else path
    return shown_path, len(page.encode()), shown


@command("report")
@click.option("--run", "run_id", type=ID, help="The calibration or backtest run to show (default: the newest).")
@click.option("--out", type=click.Path(dir_okay=False), help="The HTML file to write (default: spx-wheel-run-N.html "
                                                                "in the current folder).")
@click.option("--live", is_flag=True, help="The live book instead: realised equity, positions with their quotes "
                                           "and fills, the orders, and the live-versus-backtest comparison.")
@db_option
@json_option
def report_cmd(run_id: int | None, out: str | None, live: bool, db_url: str, as_json: bool) -> None:
    """Write one self-contained HTML page for a run: equity and drawdown, the delta x DTE heatmaps, the years
    against Cboe PUT, the walk-forward folds and every trade with its price's source (--live: the live book).

    \b
    Example:
      spx-wheel report --out report.html
      spx-wheel report --run 3
      spx-wheel report --live --out live.html
    """
    if live and run_id is not None:
        raise BadInput("--live shows the live book, --run a stored run: give one of them")
    path, size, shown = write_report(context(db_url), run_id, out, live)
    what = "the live book" if live else f"run #{shown}"
    click.echo(json.dumps({"path": path, "bytes": size, "run_id": None if live else shown}) if as_json else
               f"Wrote {path} ({size / 1024:,.0f} KB): {what}; open it in a browser.")


@command("params")
@db_option
@json_option
def params_cmd(db_url: str, as_json: bool) -> None:
    """Show the active (newest) WheelParameters.

    \b
    Example:
      spx-wheel params --json
    """
    from trading import ledger
    from trading.cli import render

    saved = ledger.active(context(db_url))
    click.echo(render.to_json(render.parameters_json(saved)) if as_json else render.parameters_text(saved))


@command("doctor")
@db_option
@json_option
def doctor_cmd(db_url: str, as_json: bool) -> None:
    """Check the API key and the Polygon plan (when a key is set), the local market history and the database.

    \b
    Example:
      spx-wheel doctor
    """
    from dataclasses import asdict

    from trading.cli import render
    from trading.doctor import run_checks

    checks = run_checks(dict(os.environ), db_url, context(db_url).today)
    if as_json:
        click.echo(render.to_json([asdict(check) for check in checks]))
    else:
        click.echo("\n".join(f"{check.mark} {check.name}: {check.detail}" for check in checks))
    if not all(check.ok for check in checks):
        sys.exit(1)


@command("cron")
@broker_option
@click.option("--at", "at_text", default="15:30", show_default=True, metavar="HH:MM",
              help="With --broker: the New York time of the daily run, inside market hours (orders need a market).")
@db_option
def cron_cmd(broker: str | None, at_text: str, db_url: str) -> None:
    """Print crontab lines at New York times, whatever this machine's zone: for this checkout's scripts, or,
    when spx-wheel is installed without a checkout, for the installed command. With --broker the daily run is
    placed inside market hours (--at), on Cboe's delayed quotes, sending its orders.

    \b
    Example:
      spx-wheel cron >> my-crontab && crontab my-crontab
      spx-wheel cron --db ~/xsp.db    # every job on that database
      spx-wheel cron --broker tastytrade --at 15:30
    """
    from trading.cli.params import db_named, default_db_path
    from trading.schedule import broker_time, crontab_text, local_zone

    from urllib.parse import urlsplit

    root, db = Path(__file__).resolve().parents[2], db_named(db_url)
    if db is not None and "://" in db and (urlsplit(db).password or urlsplit(db).query):
        raise BadInput("the database URL may hold a password, which spx-wheel never prints: put SPX_WHEEL_DB=<url> "
                       "on a line of the crontab yourself and run spx-wheel cron without --db")
    at = broker_time(at_text) if broker is not None else None
    if (root / "scripts" / "run_spx_daily.sh").is_file():
        click.echo(crontab_text(root, local_zone(), db=db, broker=broker, at=at))
        return
    installed = Path(shutil.which("spx-wheel") or Path(sys.executable).with_name("spx-wheel"))
    click.echo(crontab_text(default_db_path(dict(os.environ)).parent / "logs", local_zone(), installed=installed,
                            db=db, broker=broker, at=at))


@command("validate")
@db_option
@json_option
def validate_cmd(db_url: str, as_json: bool) -> None:
    """Run the engine as Cboe's S&P 500 PutWrite index (PUT) over 1990-2021 and compare it, year by year, with
    the published returns: how far to trust the estimated option prices.

    At-the-money monthly puts sold on each expiry, as many as the cash secures, collateral at the T-bill rate, no
    costs; every premium is estimated. Targets: CAGR within 0.5 points, yearly correlation at least 0.97, 2008
    within 3 points.

    \b
    Example:
      spx-wheel validate
    """
    from dataclasses import asdict

    from trading import spx_wheel_system as system
    from trading.cli import render

    validation = system.validate(context(db_url))
    click.echo(render.to_json(asdict(validation)) if as_json else "\n".join(render.validation_lines(validation)))


@command("model-check")
@db_option
@json_option
@click.option("--leave-one-day-out", "left_out", is_flag=True,
              help="Also price each shipped day with a model fitted without it (the out-of-sample error).")
@click.option("--run", "run_id", type=ID, help="Instead: re-price this stored run's own trades (its chosen "
                                               "combination) on the real quotes of the chains imported.")
def model_check_cmd(db_url: str, as_json: bool, left_out: bool, run_id: int | None) -> None:
    """How far to trust an estimated price: the estimator's premium error against real SPX put quotes.

    Prints the error on the real chains shipped with spx-wheel (2008-2024: a crash, calm and volatile years) and
    on the option closes in your Polygon cache and the chains you imported, by source, delta and days to expiry.
    With --run: how far a stored backtest's entries, buy-backs and P&L are from the real quotes of the days it
    traded, wherever the chains you imported hold them.

    \b
    Example:
      spx-wheel model-check --leave-one-day-out
      spx-wheel model-check --run 3
    """
    from dataclasses import asdict

    from trading import spx_wheel_system as system
    from trading.cli import render

    if run_id is not None:
        done = system.check_run_prices(context(db_url), run_id)
        click.echo(render.to_json(asdict(done)) if as_json else "\n".join(render.run_check_lines(done)))
        return
    check = system.model_check(context(db_url), left_out)
    click.echo(render.to_json(asdict(check)) if as_json else "\n".join(render.model_check_lines(check)))


COMMANDS = [check_cmd, report_cmd, validate_cmd, model_check_cmd, positions_cmd, reconcile_cmd, export_cmd, params_cmd,
            doctor_cmd, cron_cmd]
