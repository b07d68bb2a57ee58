"""The market data sources by name (a new source is one module and one line in SOURCES), and their settings:
the one place that reads them from the environment mapping the command line passes in (the core never reads the
environment itself). Light: the command line reads the names; each factory imports its source when called."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from dateutil.relativedelta import relativedelta

from data.contracts import UNDERLYINGS
from data.errors import BadInput, DataError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session, sessionmaker

    from data.http import HttpClient
    from data.market import History, MarketSource

DEFAULT_WINDOW_YEARS = 5
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SourceArgs:
    """What a source is made from: the command's database, clock and settings."""

    offline: bool
    factory: sessionmaker[Session]
    now: dt.datetime  # New York, read once by the command line
    environ: Mapping[str, str]
    db_url: str
    progress: Progress
    underlying: str = "SPX"  # the index whose options a source lists and prices (Polygon: SPX or XSP)

    @property
    def today(self) -> dt.date:
        return self.now.date()


def _stored_history(args: SourceArgs) -> History:
    from db.session import transaction
    from trading.history_updates import stored_history

    with transaction(args.factory) as session:
        return stored_history(session)


def _embedded(args: SourceArgs) -> MarketSource:
    from data.market import EmbeddedSource

    return EmbeddedSource(_stored_history(args))


def _polygon(args: SourceArgs) -> MarketSource:
    from data.polygon import PolygonClient
    from data.polygon_source import PolygonSource
    from db.cache import DbCache

    settings = polygon_settings(args.environ, args.offline)
    return PolygonSource(None if args.offline else PolygonClient(**settings["client"]), DbCache(args.factory),
                         args.today, settings["workers"], args.progress, UNDERLYINGS[args.underlying])


def _chains(args: SourceArgs) -> MarketSource:
    from data.chain_source import ChainSource
    from trading.chain_imports import committed_store

    store = committed_store(args.factory, chain_store_dir(args.db_url, args.environ))
    return ChainSource("chains", _stored_history(args),
                       lambda start, end, horizon: store.puts(start, end, horizon, args.underlying), store.days(),
                       UNDERLYINGS[args.underlying])


def _cboe(args: SourceArgs) -> MarketSource:
    from data.cboe_quotes import CboeSource

    if args.offline:
        raise BadInput("--source cboe takes Cboe's quotes of the moment: it has no --offline (use --source chains "
                       "for the snapshots already taken)")
    from trading.chain_imports import store_chain

    root = chain_store_dir(args.db_url, args.environ)

    def keep(chain: pd.DataFrame, digest: str) -> None:
        store_chain(args.factory, root, chain, digest, f"cboe delayed quotes {digest[:12]}", "Cboe delayed JSON",
                    args.now)

    return CboeSource(free_daily_clients(args.environ)[0], _stored_history(args), keep, args.today)


SOURCES: dict[str, Callable[[SourceArgs], MarketSource]] = {
    "embedded": _embedded, "polygon": _polygon, "chains": _chains, "cboe": _cboe}


def default_source(environ: Mapping[str, str]) -> str:
    """Polygon when a key is set, else the local history."""
    return "polygon" if environ.get("POLYGON_API_KEY", "").strip() else "embedded"


def make_source(name: str, args: SourceArgs) -> MarketSource:
    if name not in SOURCES:
        raise BadInput(f"unknown source {name!r}: choose from {', '.join(SOURCES)}")
    return SOURCES[name](args)


def chain_store_dir(db_url: str, environ: Mapping[str, str]) -> Path:
    """The chain store's folder: SPX_WHEEL_CHAINS, else beside a database file (`<name>-chains`); a database on a
    server needs the setting."""
    from db.session import database_file

    chosen = environ.get("SPX_WHEEL_CHAINS", "").strip()
    if chosen:
        return Path(chosen).expanduser()
    path = database_file(db_url)
    if path is None:
        raise BadInput("the database is not a file, so the chain store has no folder beside it: set "
                       "SPX_WHEEL_CHAINS to a folder")
    return path.parent / f"{path.stem}-chains"


def _whole(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(environ.get(name, str(default)).strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadInput(f"{name} must be a whole number from {low} to {high}")
    return value


def polygon_settings(environ: Mapping[str, str], offline: bool = False) -> dict[str, Any]:
    from data.polygon import DEFAULT_BASE_URL

    key = environ.get("POLYGON_API_KEY", "").strip()
    if not key and not offline:
        raise BadInput("Polygon needs an API key: set POLYGON_API_KEY in the environment (--offline serves "
                       "--source polygon from the cache alone)")
    rate = _whole(environ, "POLYGON_RATE_LIMIT", 5, 0, 100_000)
    workers = _whole(environ, "POLYGON_MAX_WORKERS", 4, 1, 64)
    tries = _whole(environ, "POLYGON_MAX_TRIES", 5, 1, 20)
    base = environ.get("POLYGON_BASE_URL", "").strip() or DEFAULT_BASE_URL
    return {"client": {"api_key": key, "base_url": base, "rate_limit": rate, "max_tries": tries,
                       "deadline": request_deadline(environ)}, "workers": workers}


def request_deadline(environ: Mapping[str, str]) -> float:
    """Seconds one try of a request may take from its start to the body's last byte (SPX_WHEEL_DEADLINE)."""
    return float(_whole(environ, "SPX_WHEEL_DEADLINE", 120, 1, 3600))


def max_tries(environ: Mapping[str, str]) -> int:
    """Tries of a request that may be repeated (SPX_WHEEL_MAX_TRIES)."""
    return _whole(environ, "SPX_WHEEL_MAX_TRIES", 5, 1, 20)


def free_daily_clients(environ: Mapping[str, str]) -> tuple[HttpClient, HttpClient]:
    """Clients for Cboe's and FRED's daily files; base URLs from SPX_WHEEL_CBOE_URL and SPX_WHEEL_FRED_URL."""
    from data.free_daily import CBOE_DEFAULT_URL, FRED_DEFAULT_URL
    from data.http import HttpClient

    tries, deadline = max_tries(environ), request_deadline(environ)
    cboe = HttpClient(environ.get("SPX_WHEEL_CBOE_URL", "").strip() or CBOE_DEFAULT_URL, "Cboe",
                      "SPX_WHEEL_CBOE_URL", max_tries=tries, deadline=deadline)
    fred = HttpClient(environ.get("SPX_WHEEL_FRED_URL", "").strip() or FRED_DEFAULT_URL, "FRED",
                      "SPX_WHEEL_FRED_URL", max_tries=tries, deadline=deadline)
    return cboe, fred


def window_dates(market: MarketSource, start: dt.date | None, end: dt.date | None,
                 today: dt.date) -> tuple[dt.date, dt.date]:
    """Default END to the source's last day and START to five years before it; refuse reversed windows, and
    windows the source can tell it cannot serve, before anything runs."""
    end = end or market.last_day(today)
    start = start or end - relativedelta(years=DEFAULT_WINDOW_YEARS)
    if start > end:
        raise BadInput(f"START {start} is after END {end}")
    problem = market.window_problem(start, end)
    if problem:
        raise DataError(problem)
    return start, end
