"""The command line's parameter types and shared options. Every number is checked once, here, where its option
is declared: plain ASCII digits, finite, within a documented range. Light on purpose (click only): the core is
imported by each command when it runs, so that --help and the daily commands start fast."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
from dataclasses import Field, fields
from pathlib import Path
from typing import Any, Callable

import click

from trading.choices import DEFAULT_DELTAS, DEFAULT_DTES
from trading.sources import SOURCES, default_source
from trading.strategy import StrategyParams, knobs

GRID = {f.name: f for f in fields(StrategyParams) if f.metadata["grid"]}

NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # ASCII digits: no 'inf', 'nan', '٣'
WHOLE = re.compile(r"[+-]?[0-9]+")
FIRST_DATE, LAST_DATE = dt.date(1970, 1, 1), dt.date(2199, 12, 31)
MAX_ID = 2**63 - 1  # the largest integer a database column holds


def _verbosity(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value:
        logging.getLogger().setLevel(logging.WARNING - 10 * value)
    return value


class SpxWheelCommand(click.Command):
    """Every command also takes -v (more log output), after its name as before it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_verbosity,
                                        help="More log output on stderr (-vv for debug)."))


def command(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    """A command of spx-wheel (with -v)."""
    return click.command(name, cls=SpxWheelCommand)


class Checked(click.ParamType):  # type: ignore[type-arg]  # generic in the click installed, which types no argument
    """A parameter type whose `check` turns text into a value or raises ValueError with the reason."""

    def check(self, text: str) -> Any:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # a default, already a value
        try:
            return self.check(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Number(Checked):
    """A finite decimal number within [low, high] (`low_open`: above low)."""

    name = "NUMBER"

    def __init__(self, low: float, high: float, low_open: bool = False, high_open: bool = False) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def check(self, text: str) -> float:
        """The number, or ValueError with the reason."""
        if not NUMBER.fullmatch(text.strip()):
            raise ValueError(f"{text!r} is not a number")
        value = float(text)
        below = value <= self.low if self.low_open else value < self.low
        above = value >= self.high if self.high_open else value > self.high
        if below or above:
            lo, hi = "(" if self.low_open else "[", ")" if self.high_open else "]"
            raise ValueError(f"{text} is outside {lo}{self.low:g}, {self.high:g}{hi}")
        return value


class Share(Number):
    """A share as a fraction or a percentage: 0.5 and 50% are the same."""

    name = "SHARE"

    def check(self, text: str) -> float:
        stripped = text.strip()
        if not stripped.endswith("%"):
            return super().check(stripped)
        if not NUMBER.fullmatch(stripped[:-1].strip()):
            raise ValueError(f"{text!r} is not a percentage")
        return super().check(repr(float(stripped[:-1]) / 100))


class Whole(Checked):
    """A whole number within [low, high], in ASCII digits."""

    name = "INTEGER"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def check(self, text: str) -> int:
        if not WHOLE.fullmatch(text.strip()):
            raise ValueError(f"{text!r} is not a whole number")
        value = int(text)
        if not self.low <= value <= self.high:
            raise ValueError(f"{text} is outside [{self.low}, {self.high}]")
        return value


class Patterned(Checked):
    """Text a knob's `parse` accepts (e.g. mid-spread:0.25)."""

    name = "TEXT"

    def __init__(self, parse: Callable[[str], object]) -> None:
        self.parse = parse

    def check(self, text: str) -> str:
        self.parse(text.strip())
        return text.strip()


class DateType(click.ParamType):  # type: ignore[type-arg]
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            day = dt.datetime.strptime(value, "%Y-%m-%d").date()
        except ValueError:
            self.fail(f"{value!r} is not a date in YYYY-MM-DD form", param, ctx)
        if not FIRST_DATE <= day <= LAST_DATE:
            self.fail(f"{value} is outside {FIRST_DATE} .. {LAST_DATE}", param, ctx)
        return day


class NumberList(click.ParamType):  # type: ignore[type-arg]
    """A comma-separated list of distinct numbers of one type, e.g. 0.15,0.20."""

    name = "LIST"

    def __init__(self, item: Checked) -> None:
        self.item = item

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[Any, ...]:
        if isinstance(value, tuple):
            return value
        try:
            items = tuple(self.item.check(v) for v in str(value).split(",") if v.strip())
        except ValueError as exc:
            self.fail(f"in {value!r}: {exc}", param, ctx)
        if not items:
            self.fail("the list is empty", param, ctx)
        if len(set(items)) < len(items):
            self.fail(f"{value!r} repeats a value", param, ctx)
        return items


DATE = DateType()
PRICE = Number(0.01, 100_000)  # a put's price per share, at least a cent
INDEX = Number(1, 1_000_000)  # an index level (SPX, a settlement value, a strike)
VOL_INDEX = Number(1, 1_000)  # VIX, VIX3M
ID = Whole(1, MAX_ID)


def new_york_now() -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("America/New_York"))


def default_db_path(environ: dict[str, str]) -> Path:
    """$XDG_DATA_HOME/spx-wheel/spx-wheel.db, else ~/.local/share/spx-wheel/spx-wheel.db."""
    base = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "spx-wheel" / "spx-wheel.db"


def _database(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """An explicit --db or SPX_WHEEL_DB is used as given (a missing folder stays an error); the default's folder
    is created on first use, readable by its owner only."""
    if value is not None:
        if not value.strip():
            raise click.BadParameter("is empty: give a database file or a SQLAlchemy URL", ctx, param)
        return value
    path = default_db_path(dict(os.environ))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create the data folder {path.parent}: {exc.strerror}") from None
    return str(path)


def context(db_url: str) -> Any:
    """The core's Context: the database, the clock read once by the group, the environment."""
    from trading.context import Context

    root = click.get_current_context().find_root()
    return Context(db_url, root.obj["now"], dict(os.environ), fetch_progress())


def db_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--db", "db_url", envvar="SPX_WHEEL_DB", callback=_database,
                        show_default="~/.local/share/spx-wheel/spx-wheel.db",
                        help="Database file or SQLAlchemy URL (env SPX_WHEEL_DB).")(f)


def db_named(db_url: str) -> str | None:
    """The database as the user named it (--db or SPX_WHEEL_DB), None for the default: what a hint or a crontab
    line must repeat for a later command to find the same database."""
    source = click.get_current_context().get_parameter_source("db_url")
    return db_url if source in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT) \
        else None


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")(f)


def source_option(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--offline", is_flag=True, help="Polygon source: use the cache only, make no request.")(f)
    return click.option("--source", type=click.Choice(list(SOURCES)), default=lambda: default_source(os.environ),
                        show_default="polygon when POLYGON_API_KEY is set, else embedded",
                        help="Market data: embedded (the bundled history, option prices estimated), polygon (real "
                             "prices, needs POLYGON_API_KEY), chains (the chain files imported) or cboe (Cboe's "
                             "delayed quotes, for the daily trade).")(f)


def notify_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--notify", "notify", envvar="SPX_WHEEL_NOTIFY", metavar="URL",
                        help="Send alerts to these Apprise URLs (comma-separated; env SPX_WHEEL_NOTIFY): e.g. "
                             "ntfy://topic, mailto://user:pass@example.com, tgram://token/chat, json://host/path.")(f)


def alert(notify: str | None, title: str, body: str) -> None:
    """Send an alert to the --notify URLs; a notifier that fails is one warning line, never a failure."""
    from trading.alerts import notifier_urls, send

    for problem in send(notifier_urls(notify), title, body):
        click.echo(f"Warning: {problem}", err=True)


def window_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--end", type=DATE, help="Last day of the window (default: the source's last day).")(f)
    return click.option("--start", "start_option", type=DATE,
                        help="First day of the window (default: five years before END).")(f)


def as_of_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as-of", "--date", "as_of", type=DATE,
                        help="The day to act for (default: today in New York).")(f)


def value_type(f: Field[Any]) -> Checked | click.Choice[str]:
    """The click type of a StrategyParams field, from its declaration."""
    meta = f.metadata
    if meta["parse"]:
        return Patterned(meta["parse"])
    if meta["choices"]:
        return click.Choice(meta["choices"])
    if f.type == "int":
        return Whole(int(meta["low"]), int(meta["high"]))
    kind = Share if meta["unit"] == "share" else Number
    return kind(meta["low"], meta["high"], meta["low_open"], meta["high_open"])


def knob_option(f: Field[Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The option of a StrategyParams field: --field-name (or its declared flag), type, default, help."""
    flags = [f.metadata["option"] or "--" + f.name.replace("_", "-")] + [a for a in [f.metadata["alias"]] if a]
    if f.default is None:  # a grid dimension: no default
        return click.option(*flags, f.name, type=value_type(f), required=True, help=f.metadata["help"])
    return click.option(*flags, f.name, type=value_type(f), default=f.default, show_default=True,
                        help=f.metadata["help"])


def strategy_options_of(declaration: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Every rule knob of a strategy declaration as an option."""
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for knob in reversed(knobs(declaration)):
            f = knob_option(knob)(f)
        return f

    return decorate


strategy_options = strategy_options_of(StrategyParams)


def grid_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The grid's dimensions (put delta, DTE, the exits) as comma-separated lists, passed as grid_<field>."""
    defaults = {"put_delta": DEFAULT_DELTAS, "dte_target": DEFAULT_DTES}  # an exit's: off
    for name, dimension in reversed(GRID.items()):
        values = defaults.get(name, (dimension.default,))
        item = value_type(dimension)
        assert isinstance(item, Checked), name  # a grid dimension is a number
        f = click.option(dimension.metadata["grid"], "grid_" + name, type=NumberList(item),
                         default=",".join(f"{v:g}" for v in values), show_default=True,
                         help=f"{dimension.metadata['help']} Values to test, comma-separated.")(f)
    return f


def grid_of(options: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Take the grid's lists out of a command's options: {field: values}."""
    return {name: options.pop("grid_" + name) for name in GRID}


def combination_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """One value of each grid dimension (--delta, --dte, --take-profit, ...), as backtest takes them."""
    for dimension in reversed(GRID.values()):
        f = knob_option(dimension)(f)
    return f


def fetch_progress() -> Callable[[str, int, int], None]:
    if not sys.stderr.isatty():
        return lambda what, done, total: None
    return lambda what, done, total: click.echo(f"\rfetching {what}: {done}/{total}", err=True, nl=done == total)


def fetch_note() -> Callable[[str], None]:
    if not sys.stderr.isatty():
        return lambda what: None
    return lambda what: click.echo(f"fetching {what} ...", err=True)


def progress_printer() -> Callable[[int, int], None]:
    if not sys.stderr.isatty():
        return lambda done, total: None
    return lambda done, total: click.echo(f"\rbacktesting {done}/{total}", err=True, nl=done == total)


def broker_option(f: Callable[..., Any]) -> Callable[..., Any]:
    from trading.brokers import BROKERS  # the names only: each broker is imported when made

    return click.option("--broker", envvar="SPX_WHEEL_BROKER", type=click.Choice(list(BROKERS)),
                        help="Send the day's orders through this broker (env SPX_WHEEL_BROKER): paper (kept in "
                             "the database, fills on the day's quote) or tastytrade.")(f)


def broker_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--broker and how its orders are treated; the command gets them as one `broker_plan` (None: no broker)."""
    options = [
        broker_option,
        click.option("--send", is_flag=True, envvar="SPX_WHEEL_SEND",
                     help="With --broker: send the orders (env SPX_WHEEL_SEND=1); without it they are previewed "
                          "and recorded, and a later run of the day sends them."),
        click.option("--max-reprices", type=Whole(0, 50), default=3, show_default=True,
                     help="Times an unfilled order's limit is walked a step toward the far side (the bid for a "
                          "sale, the ask for a buy-back), never past it."),
        click.option("--reprice-step", type=Number(0.01, 100), default=0.05, show_default=True,
                     help="Dollars a share each reprice moves the limit (then put on the tick grid)."),
        click.option("--reprice-wait", type=Number(0, 3600), default=20.0, show_default=True,
                     help="Seconds an order works before each reprice (the paper broker fills at once)."),
        click.option("--leave-working", is_flag=True,
                     help="Leave an order still unfilled at the run's end working (the next run asks about it); "
                          "else it is cancelled."),
        click.option("--max-contracts", type=Whole(1, 10_000), default=10, show_default=True,
                     envvar="SPX_WHEEL_MAX_CONTRACTS", help="Refuse a sale of more contracts in one order."),
        click.option("--max-notional", type=Number(1, 1e12), envvar="SPX_WHEEL_MAX_NOTIONAL",
                     help="Refuse a sale whose notional (strike x 100 x contracts) is over this many dollars."),
        click.option("--rest-take-profit", is_flag=True,
                     help="Once a sale fills, leave its take-profit resting at the broker as a GTC buy-back (with "
                          "--take-profit set in the parameters); another exit cancels it first."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def broker_plan(broker: str | None, send: bool, max_reprices: int, reprice_step: float, reprice_wait: float,
                leave_working: bool, max_contracts: int, max_notional: float | None, rest_take_profit: bool) -> Any:
    """The order plan the options give, or None without --broker (then the order options are refused)."""
    from trading.order_flow import OrderPlan

    if broker is None:
        if send:
            raise click.UsageError("--send sends orders through a broker: give --broker (or SPX_WHEEL_BROKER)")
        return None
    return OrderPlan(send, max_reprices, reprice_step, reprice_wait, leave_working, max_contracts, max_notional,
                     rest_take_profit)
