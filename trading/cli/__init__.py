"""The spx-wheel command line: the only package that imports click. Each command parses, calls one workflow of
the core (the facade trading/spx_wheel_system.py, imported when the command runs) and renders (render.py)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import click

from data.errors import BadInput, SpxWheelError
from trading.cli.params import new_york_now

CALENDAR_REACH = dt.timedelta(days=183)  # how far past today the exchange calendar must reach


class BadInputExit(click.ClickException):
    """Bad input found past parsing: one line, exit 2 (click's UsageError would add two lines of usage)."""

    exit_code = 2


class SpxWheelGroup(click.Group):
    """Maps the core's exceptions to click's: bad input exits 2, data and storage failures exit 1, one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # one line, without click's two lines of usage
            raise BadInputExit(one_line(exc.format_message())) from None
        except BadInput as exc:
            raise BadInputExit(one_line(str(exc))) from None
        except SpxWheelError as exc:
            raise click.ClickException(one_line(str(exc))) from None


def one_line(message: str) -> str:
    """Every error is one line on stderr, whatever a name or a library's message held (line breaks shown as \\n)."""
    return message.strip().replace("\r", "\\r").replace("\n", "\\n")


@click.group(cls=SpxWheelGroup)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(package_name="spx-wheel", message="spx-wheel %(version)s")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Sell SPX puts with parameters found by backtest, and keep checking live results against it.

    Deltas are shown as positive numbers (a put's delta is negative); rates and shares are percentages in
    text and fractions in JSON; money is in dollars.

    \b
    Example:
      spx-wheel calibrate 2022-01-01
      spx-wheel params
    """
    logging.basicConfig(level=logging.WARNING - 10 * verbose, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    now = new_york_now()  # "today" is decided here, once, in New York
    ctx.obj = {"now": now}
    from data.calendar import reach_until

    reach_until(now.date() + CALENDAR_REACH)


def _register() -> None:
    from trading.cli import calibration, chains, daily, reports

    for module in (calibration, daily, chains, reports):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()
