"""Commands of the daily loop: trade, replay, update, settle, fill, resume."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from data.errors import SpxWheelError
from trading.cli.params import (
    DATE,
    ID,
    INDEX,
    PRICE,
    VOL_INDEX,
    alert,
    as_of_option,
    broker_options,
    broker_plan,
    command,
    context,
    db_option,
    fetch_note,
    json_option,
    notify_option,
    source_option,
)

if TYPE_CHECKING:
    from trading.trader import DailyReport


@command("trade")
@as_of_option
@click.option("--spot", type=INDEX, help="The day's SPX close, by hand.")
@click.option("--vix", type=VOL_INDEX, help="The day's VIX close, by hand.")
@click.option("--vix3m", type=VOL_INDEX, help="The day's VIX3M close, by hand.")
@click.option("--price", type=PRICE, help="The put's price (e.g. the broker's mid), used instead of the estimate.")
@click.option("--dry-run", is_flag=True, help="Show the decision and write nothing (with --broker: ask the broker "
                                              "for the orders' previews and nothing else).")
@click.option("--update", "update_first", is_flag=True,
              help="Embedded, chains and cboe sources: first extend the local history from the free daily files "
                   "(as spx-wheel update; a failure there is a warning).")
@source_option
@notify_option
@click.option("--notify-trades", is_flag=True, help="With --notify: also alert on each position opened or closed.")
@broker_options
@db_option
@json_option
def trade_cmd(as_of: dt.date | None, spot: float | None, vix: float | None, vix3m: float | None,
              price: float | None, dry_run: bool, update_first: bool, source: str, offline: bool,
              notify: str | None, notify_trades: bool, db_url: str, as_json: bool, **orders: Any) -> None:
    """Settle expired positions, then open at most one new position with the active parameters.

    Run it once a day after the close; running it again the same day changes nothing. A day after today (in
    New York) is refused. With --broker the sale and the buy-backs become limit orders: previewed, recorded, and
    sent only with --send; positions open and close as the broker fills them (see README, Trading through a
    broker).

    Exit codes: 0 done (opened, ordered, skipped, halted, market closed or already run), 1 a data, network,
    broker or database failure, 2 bad input; each failure is one line on stderr.

    \b
    Example:
      spx-wheel trade
      spx-wheel trade --as-of 2020-03-02
      spx-wheel trade --spot 5782.76 --vix 20.49 --price 15.40 --dry-run
      spx-wheel trade --broker paper --send
    """
    from trading import spx_wheel_system as system
    from trading.cli import render
    from trading.trader import ManualInputs

    ctx, plan, said = context(db_url), broker_plan(**orders), list[str]()
    day = as_of or ctx.today
    choice = None if plan is None else system.BrokerChoice(orders["broker"], plan, said.append)
    try:
        report = system.trade(ctx, source, offline, day, ManualInputs(spot, vix, vix3m, price), dry_run,
                              update_first, lambda text: click.echo(f"Warning: {text}", err=True), choice)
    except SpxWheelError as exc:
        click.echo("\n".join(said), err=True) if said else None
        alert(notify, f"spx-wheel: the daily run for {day} failed", str(exc))
        raise
    lines = render.daily_lines(report, dry_run) + said
    click.echo(render.to_json({**render.daily_json(report, dry_run), "broker": said}) if as_json else "\n".join(lines))
    if dry_run:
        return
    if any(r.exit_reason == "margin call" for r in report.closed) or any(
            o.exit_reason == "margin call" for o in report.orders):
        alert(notify, f"spx-wheel: margin call on {day}", "\n".join(lines))
    elif notify_trades and (report.closed or report.opened or report.orders):
        alert(notify, f"spx-wheel: {day}", "\n".join(lines))


@command("replay")
@click.argument("start", type=DATE)
@click.argument("end", type=DATE)
@source_option
@broker_options
@db_option
@json_option
def replay_cmd(start: dt.date, end: dt.date, source: str, offline: bool, db_url: str, as_json: bool,
               **orders: Any) -> None:
    """Run the daily trade for every trading day from START to END, in order, in one process.

    Each day is exactly what a separate `spx-wheel trade --as-of DAY` does (its own transaction, the same
    decision, through the --broker given); days already run are left as they are. Use a database of its own to
    replay the past.

    \b
    Example:
      spx-wheel replay 2020-01-01 2020-12-31 --db replay.db
      spx-wheel replay 2026-06-01 2026-06-30 --broker paper --send --db paper.db
    """
    from trading import spx_wheel_system as system
    from trading.cli import render

    documents, plan, said = [], broker_plan(**orders), list[str]()
    choice = None if plan is None else system.BrokerChoice(orders["broker"], plan, said.append)

    def show(report: DailyReport) -> None:
        if as_json:
            documents.append({**render.daily_json(report, False), "broker": said[:]})
        else:
            click.echo("\n".join(render.daily_lines(report, False) + said))
        said.clear()

    sessions = system.replay(context(db_url), source, offline, start, end, show, choice)
    if as_json:
        click.echo(render.to_json({"start": start, "end": end, "sessions": sessions, "days": documents}))


@command("update")
@db_option
@json_option
def update_cmd(db_url: str, as_json: bool) -> None:
    """Extend the local market history to the last published close, from Cboe's and FRED's free daily files.

    No key needed. The bundled file stays as it is; the sessions after it are stored in the database and read
    by every command on the embedded source. Cboe publishes no SPX open: an AM settlement on an updated session
    uses the previous close as a stand-in (counted as such), unless you give the value with spx-wheel settle.
    Base URLs: SPX_WHEEL_CBOE_URL, SPX_WHEEL_FRED_URL; tries per request: SPX_WHEEL_MAX_TRIES (5).

    \b
    Example:
      spx-wheel update
    """
    from trading import spx_wheel_system as system
    from trading.cli import render

    report = system.update(context(db_url), fetch_note())
    added = (f"{report.sessions} sessions {report.first} .. {report.last} stored" if report.first
             else "nothing newer than the bundled history")
    click.echo(render.to_json(asdict(report)) if as_json else
               f"Local history now ends {report.last}: {added} ({report.stopped}).")


@command("settle")
@click.option("--expiry", type=DATE, required=True, help="The expiration day whose settlement value you give.")
@click.option("--value", type=INDEX, required=True,
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
    from trading import spx_wheel_system as system
    from trading.cli import render

    again = system.settle(context(db_url), expiry, value)
    if as_json:
        click.echo(render.to_json({"expiry": expiry, "value": value, "source": "manual",
                                   "resettled": [render.trade_row(r) for r in again]}))
        return
    click.echo(f"Recorded the settlement of {expiry} at {value:,.2f} (manual).")
    for record in again:
        click.echo(f"SETTLED AGAIN: {record.ticker} at {value:,.2f}: {render.outcome(record.pnl)}")
    if not again:
        click.echo("The next trade settles the open positions of that expiration at it.")


@command("fill")
@click.argument("position_id", type=ID)
@click.option("--price", type=PRICE, required=True, help="The price per share you actually sold (or bought back) at.")
@click.option("--buy-back", is_flag=True, help="The price is the buy-back's, of a position trade closed early.")
@click.option("--force", is_flag=True, help="Record a price more than 50% away from the put's price that day.")
@db_option
@json_option
def fill_cmd(position_id: int, price: float, buy_back: bool, force: bool, db_url: str, as_json: bool) -> None:
    """Record the broker's fill for a position when it differs from the modelled one (a price far from the
    put's price that day is refused unless --force).

    \b
    Example:
      spx-wheel fill 12 --price 15.35
      spx-wheel fill 12 --price 7.40 --buy-back
    """
    from trading import spx_wheel_system as system
    from trading.cli import render

    record = system.fill(context(db_url), position_id, price, buy_back, force)
    if as_json:
        click.echo(render.to_json(render.trade_row(record)))
    elif buy_back:
        click.echo(f"Position #{record.id} {record.ticker}: bought back at ${price:.2f}, "
                   f"{render.outcome(record.pnl)}")
    else:
        click.echo(f"Position #{record.id} {record.ticker}: fill ${price:.2f}, premium "
                   f"{render.dollars(record.premium)} net")


@command("resume")
@db_option
@json_option
def resume_cmd(db_url: str, as_json: bool) -> None:
    """Lift a trading halt set by check.

    \b
    Example:
      spx-wheel resume
    """
    from trading import ledger
    from trading.cli import render

    cleared = ledger.lift_halt(context(db_url))
    click.echo(render.to_json({"halts_cleared": cleared}) if as_json else
               ("Trading resumed." if cleared else "No halt was active."))


COMMANDS = [trade_cmd, replay_cmd, update_cmd, settle_cmd, fill_cmd, resume_cmd]
