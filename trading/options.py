"""The command line's building blocks: parameter types, shared options, and the choice of data source (the one
place that reads the Polygon settings from the environment)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click
from dateutil.relativedelta import relativedelta

from data.errors import BadInput
from data.free_daily import CBOE_DEFAULT_URL, FRED_DEFAULT_URL
from data.http import HttpClient
from data.market import EmbeddedSource, MarketSource
from data.polygon import DEFAULT_BASE_URL, PolygonClient
from data.polygon_source import PolygonSource
from db.cache import DbCache
from db.session import transaction
from trading.history_updates import stored_history
from trading.spx_wheel_system import DEFAULT_DELTAS, DEFAULT_DTES

DEFAULT_WINDOW_YEARS = 5


def default_db_path(environ: dict[str, str]) -> Path:
    """$XDG_DATA_HOME/spx-wheel/spx-wheel.db, else ~/.local/share/spx-wheel/spx-wheel.db."""
    base = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "spx-wheel" / "spx-wheel.db"


def _database(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """An explicit --db or SPX_WHEEL_DB is used as given (a missing folder stays an error); the default's folder
    is created on first use, readable by its owner only."""
    if value:
        return value
    path = default_db_path(dict(os.environ))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create the data folder {path.parent}: {exc.strerror}") from None
    return str(path)


class DateType(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.datetime.strptime(value, "%Y-%m-%d").date()
        except ValueError:
            self.fail(f"{value!r} is not a date in YYYY-MM-DD form", param, ctx)


class NumberList(click.ParamType):
    """A comma-separated list of numbers, e.g. 0.15,0.20."""

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.name = "LIST"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[Any, ...]:
        if isinstance(value, tuple):
            return value
        try:
            items = tuple(self.kind(v) for v in str(value).split(",") if v.strip())
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of {self.kind.__name__} values", param, ctx)
        if not items:
            self.fail("the list is empty", param, ctx)
        return items


DATE = DateType()


def db_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--db", "db_url", envvar="SPX_WHEEL_DB", callback=_database,
                        show_default="~/.local/share/spx-wheel/spx-wheel.db",
                        help="Database file or SQLAlchemy URL (env SPX_WHEEL_DB).")(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")(f)


def source_option(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--offline", is_flag=True, help="Polygon source: use the cache only, make no request.")(f)
    return click.option("--source", type=click.Choice(["embedded", "polygon"]),
                        default=lambda: "polygon" if os.environ.get("POLYGON_API_KEY") else "embedded",
                        show_default="polygon when POLYGON_API_KEY is set, else embedded",
                        help="Market data: the bundled history (option prices estimated) or Polygon.")(f)


STRATEGY_OPTIONS = [
    click.option("--strike-rule", type=click.Choice(["seed", "bs-delta"]), default="seed", show_default=True,
                 help="seed: spot*(1-(0.04+delta*0.15)) to $5; bs-delta: strike with that Black-Scholes delta."),
    click.option("--expiries", type=click.Choice(["all", "monthly"]), default="all", show_default=True,
                 help="Expirations to choose from: every listed Friday, or third-Friday monthlies only."),
    click.option("--margin", type=click.Choice(["regt", "cash"]), default="regt", show_default=True,
                 help="Margin model: Reg-T exchange minimum, or fully cash-secured (100 x strike)."),
    click.option("--capital", type=click.FloatRange(min=0, min_open=True), default=500_000.0, show_default=True,
                 help="Starting capital in dollars."),
    click.option("--contracts-per-trade", type=click.IntRange(min=1), default=1, show_default=True),
    click.option("--max-open", "max_open_positions", type=click.IntRange(min=1), default=3, show_default=True,
                 help="Most positions open at once."),
    click.option("--max-margin-pct", type=click.FloatRange(0, 1, min_open=True), default=0.50, show_default=True,
                 help="Largest share of equity committed to margin."),
    click.option("--min-vix", type=click.FloatRange(min=0), default=12.0, show_default=True),
    click.option("--max-vix", type=click.FloatRange(min=0), default=35.0, show_default=True),
    click.option("--slippage", type=click.FloatRange(0, 1, max_open=True), default=0.05, show_default=True,
                 help="Share of the option price given up on entry (at least $0.05)."),
    click.option("--fee", type=click.FloatRange(min=0), default=1.50, show_default=True,
                 help="All-in cost per contract in dollars."),
]


def strategy_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(STRATEGY_OPTIONS):
        f = option(f)
    return f


def grid_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--dtes", type=NumberList(int), default=",".join(map(str, DEFAULT_DTES)), show_default=True,
                     help="Days-to-expiry targets to test, comma-separated.")(f)
    return click.option("--deltas", type=NumberList(float), default=",".join(map(str, DEFAULT_DELTAS)),
                        show_default=True, help="Put deltas to test, comma-separated.")(f)


def make_source(name: str, offline: bool, factory: Any, today: dt.date) -> MarketSource:
    """The chosen source; Polygon's settings come from the environment, read here and nowhere else."""
    if name == "embedded":
        with transaction(factory) as session:
            return EmbeddedSource(stored_history(session))
    settings = polygon_settings(dict(os.environ), offline)
    return PolygonSource(None if offline else PolygonClient(**settings["client"]), DbCache(factory), today,
                         settings["workers"], fetch_progress())


def polygon_settings(environ: dict[str, str], offline: bool = False) -> dict[str, Any]:
    key = environ.get("POLYGON_API_KEY", "")
    if not key and not offline:
        raise click.UsageError("--source polygon needs POLYGON_API_KEY in the environment (or use --offline)")
    try:
        rate = int(environ.get("POLYGON_RATE_LIMIT", "5"))
        workers = int(environ.get("POLYGON_MAX_WORKERS", "4"))
        tries = int(environ.get("POLYGON_MAX_TRIES", "5"))
    except ValueError:
        raise click.UsageError("POLYGON_RATE_LIMIT, POLYGON_MAX_WORKERS and POLYGON_MAX_TRIES must be whole "
                               "numbers") from None
    if rate < 0 or workers < 1 or tries < 1:
        raise click.UsageError("POLYGON_RATE_LIMIT must be 0 or more, POLYGON_MAX_WORKERS and POLYGON_MAX_TRIES "
                               "at least 1")
    base = environ.get("POLYGON_BASE_URL") or DEFAULT_BASE_URL
    return {"client": {"api_key": key, "base_url": base, "rate_limit": rate, "max_tries": tries},
            "workers": workers}


def free_daily_clients(environ: dict[str, str]) -> tuple[HttpClient, HttpClient]:
    """Clients for Cboe's and FRED's daily files; base URLs from SPX_WHEEL_CBOE_URL and SPX_WHEEL_FRED_URL."""
    try:
        tries = int(environ.get("SPX_WHEEL_MAX_TRIES", "5"))
    except ValueError:
        tries = 0
    if not 1 <= tries <= 20:
        raise BadInput("SPX_WHEEL_MAX_TRIES must be a whole number from 1 to 20")
    cboe = HttpClient(environ.get("SPX_WHEEL_CBOE_URL") or CBOE_DEFAULT_URL, "Cboe", "SPX_WHEEL_CBOE_URL",
                      max_tries=tries)
    fred = HttpClient(environ.get("SPX_WHEEL_FRED_URL") or FRED_DEFAULT_URL, "FRED", "SPX_WHEEL_FRED_URL",
                      max_tries=tries)
    return cboe, fred


def window_dates(market: MarketSource, start: dt.date | None, end: dt.date | None,
                 today: dt.date) -> tuple[dt.date, dt.date]:
    """Default END to the source's last day (Polygon: yesterday) and START to five years before it; refuse
    reversed windows, and for the local history windows without data, before anything runs."""
    local = market.history() if isinstance(market, EmbeddedSource) else None
    end = end or (local.dates[-1] if local is not None else today - dt.timedelta(days=1))
    start = start or end - relativedelta(years=DEFAULT_WINDOW_YEARS)
    if start > end:
        raise BadInput(f"START {start} is after END {end}")
    if local is not None and local.window(start, end)[1] - local.window(start, end)[0] < 2:
        raise BadInput(f"no market data between {start} and {end}: the embedded source covers "
                       f"{local.dates[0]} .. {local.dates[-1]} (spx-wheel update extends it)")
    return start, end


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


def as_of_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as-of", type=DATE, help="The day to act for (default: today in New York).")(f)
