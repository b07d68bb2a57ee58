"""Commands that backtest: calibrate, backtest, quote, fetch."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict, fields
from typing import Any

import click

from data.errors import BadInput
from trading.choices import MIN_CLOSED_TRADES, OBJECTIVES, walk_forward_spans
from trading.cli.params import (
    DATE,
    INDEX,
    Patterned,
    Whole,
    combination_options,
    command,
    context,
    db_named,
    db_option,
    grid_of,
    grid_options,
    json_option,
    knob_option,
    progress_printer,
    source_option,
    strategy_options,
    window_options,
)
from trading.cli.reports import check_writable
from trading.strategy import StrategyParams

UNDERLYING = next(f for f in fields(StrategyParams) if f.name == "underlying")


def idle_cores() -> int:
    """The cores the machine has idle (its core count less the last minute's load, at least one): more
    processes than that only wait for each other."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not measured here
        load = 0.0
    return max(1, min(cores, round(cores - load)))


def _start(positional: dt.date | None, option: dt.date | None) -> dt.date | None:
    if positional and option and positional != option:
        raise BadInput(f"START is given twice ({positional} and --start {option})")
    return positional or option


@command("calibrate")
@click.argument("start", type=DATE, required=False)
@window_options
@click.option("--optimize", "objective", type=click.Choice(list(OBJECTIVES)), default="sharpe", show_default=True)
@click.option("--min-trades", type=Whole(0, 100_000), default=MIN_CLOSED_TRADES, show_default=True,
              help="Closed trades a combination needs to be chosen (those with fewer are shown, never saved).")
@click.option("--walk-forward", "walk", type=Patterned(walk_forward_spans), metavar="TRAIN:TEST",
              help="Also walk forward: choose on each TRAIN window (e.g. 5y), trade the winner on the TEST window "
                   "after it (e.g. 1y), and show the stitched out-of-sample record beside the in-sample promise.")
@click.option("--anchored", is_flag=True, help="With --walk-forward: every training window starts at START.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="Also write the run's HTML report (spx-wheel report) to this file.")
@click.option("--workers", type=Whole(1, 256), default=lambda: idle_cores(), show_default="the idle cores",
              callback=lambda ctx, param, value: min(value, idle_cores()),  # busy cores: processes only wait
              help="Processes to run walk-forward folds in, and on a source other than embedded the "
                   "combinations (the embedded source's grid engine runs them in one, and a walk-forward too "
                   "small to gain from more). Never more than the cores the machine has idle.")
@grid_options
@source_option
@strategy_options
@db_option
@json_option
def calibrate_cmd(start: dt.date | None, start_option: dt.date | None, end: dt.date | None, objective: str,
                  min_trades: int, walk: str | None, anchored: bool, report_path: str | None, workers: int,
                  source: str, offline: bool, db_url: str, as_json: bool, **knobs: Any) -> None:
    """Backtest every combination of the grid (delta x DTE x the exits) and save the best as the active
    WheelParameters.

    START (or --start) defaults to five years before END.

    \b
    Example:
      spx-wheel calibrate 2022-01-01 --optimize sharpe
      spx-wheel calibrate --start 2015-01-01 --end 2019-12-31 --deltas 0.15,0.2 --dtes 30,45 --json
      spx-wheel calibrate 2015-01-01 --take-profits 0,0.5 --stop-losses 0,2 --close-dtes 0,7
      spx-wheel calibrate 1990-01-02 --walk-forward 5y:1y
    """
    from trading import spx_wheel_system as system
    from trading.cli import render
    from trading.optimizer import grid_combinations

    if anchored and not walk:
        raise BadInput("--anchored goes with --walk-forward TRAIN:TEST")
    if report_path:
        check_writable(report_path, "--report")
    combinations, ctx = grid_combinations(grid_of(knobs), knobs), context(db_url)
    spans = None if walk is None else (*walk_forward_spans(walk), anchored)
    done = system.calibrate(ctx, source, offline, _start(start, start_option), end, combinations, objective,
                            min_trades, progress_printer(), spans, workers)
    if done.cleared:
        click.echo(f"A new calibration clears the trading halt ({done.cleared}).", err=True)
    if as_json and done.run_id is not None:
        click.echo(render.to_json(render.calibrated_json(done)))
    elif not as_json:
        click.echo("\n".join(render.calibrated_lines(done, combinations[0].strike_rule, ctx.shown_db,
                                                     db_named(db_url))))
    done.calibration.best_combination  # raises CalibrationError (exit 1) when no combination was eligible
    if report_path:
        from trading.cli.reports import write_report

        path, size, _ = write_report(ctx, done.run_id, report_path)
        click.echo(f"Wrote the report to {path} ({size / 1024:,.0f} KB).", err=True)


@command("backtest")
@combination_options
@window_options
@click.option("--show-trades", is_flag=True, help="List every trade.")
@source_option
@strategy_options
@db_option
@json_option
def backtest_cmd(start_option: dt.date | None, end: dt.date | None, show_trades: bool, source: str, offline: bool,
                 db_url: str, as_json: bool, **knobs: Any) -> None:
    """Backtest one combination and store its trades.

    \b
    Example:
      spx-wheel backtest --delta 0.15 --dte 45 --start 2020-01-01 --end 2020-12-31 --show-trades
      spx-wheel backtest --delta 0.2 --dte 45 --take-profit 0.5 --stop-loss 2 --start 2020-01-01
    """
    from trading import spx_wheel_system as system
    from trading.cli import render
    from trading.strategy import StrategyParams

    params = StrategyParams(**knobs)
    calibration, run_id = system.backtest(context(db_url), source, offline, start_option, end, params)
    if as_json:
        click.echo(render.to_json(render.backtest_json(calibration, run_id, asdict(params))))
    else:
        click.echo("\n".join(render.backtest_lines(calibration, run_id, show_trades)))


@command("quote")
@click.option("--as-of", "--date", "day", type=DATE, required=True, help="Trading day whose close prices the put.")
@click.option("--expiry", type=DATE, required=True, help="Expiration date of the put.")
@click.option("--strike", type=INDEX, required=True, help="Strike, e.g. 5280.")
@knob_option(UNDERLYING)
@source_option
@db_option
@json_option
def quote_cmd(day: dt.date, expiry: dt.date, strike: float, underlying: str, source: str, offline: bool,
              db_url: str, as_json: bool) -> None:
    """Estimate a listed SPX (or XSP) put's premium, implied vol and delta at a day's close.

    \b
    Example:
      spx-wheel quote --as-of 2024-11-05 --expiry 2024-12-20 --strike 5280
      spx-wheel quote --as-of 2024-11-05 --expiry 2024-12-20 --strike 528 --underlying XSP
    """
    from trading import spx_wheel_system as system
    from trading.cli import render

    document = system.quote(context(db_url), source, offline, day, expiry, strike, underlying)
    if as_json:
        click.echo(render.to_json(document))
    else:
        click.echo(render.quote_text(document))


@command("fetch")
@click.argument("start", type=DATE, required=False)
@click.argument("end_day", metavar="[END]", type=DATE, required=False)
@window_options
@grid_options
@strategy_options
@db_option
@json_option
def fetch_cmd(start: dt.date | None, end_day: dt.date | None, start_option: dt.date | None, end: dt.date | None,
              db_url: str, as_json: bool, **knobs: Any) -> None:
    """Fetch from Polygon everything a calibration of the window needs, into the cache.

    A later calibrate (or --offline) over the window then makes no request. START and END may also be given
    as --start and --end.

    \b
    Example:
      spx-wheel fetch --start 2023-01-01
    """
    from trading import spx_wheel_system as system
    from trading.cli import render
    from trading.optimizer import grid_combinations

    if end and end_day and end != end_day:
        raise BadInput(f"END is given twice ({end_day} and --end {end})")
    calibration, requests = system.fetch(context(db_url), _start(start, start_option), end or end_day,
                                         grid_combinations(grid_of(knobs), knobs))
    document = {"window": {"start": calibration.start, "end": calibration.end}, "requests": requests}
    click.echo(render.to_json(document) if as_json else
               f"Cached what {calibration.start} .. {calibration.end} needs ({requests} requests made).")


COMMANDS = [calibrate_cmd, backtest_cmd, quote_cmd, fetch_cmd]
