"""Health checks for `spx-wheel doctor`: each a line saying what is fine or what to do."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import func, select, text

from data.calendar import nyse_sessions
from data.market import load_bundled
from data.polygon import PolygonClient, PolygonError
from db.models import PolygonBar, Position, WheelParameters
from db.session import StorageError, open_database, shown_url, transaction, writable
from trading.history_updates import updated_until
from trading.sources import polygon_settings

LOOK_BACK = 400  # days searched for the newest index bar (one request)


STALE_SESSIONS = 5  # a history more sessions behind than this is a warning: the daily run trades on old closes


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool  # False: a failure (exit 1)
    detail: str
    warning: bool = False  # works, but wants attention

    @property
    def mark(self) -> str:
        return "FAIL" if not self.ok else "warn" if self.warning else "ok  "


def check_key(environ: Mapping[str, str]) -> Check:
    if environ.get("POLYGON_API_KEY", "").strip():
        return Check("API key", True, "POLYGON_API_KEY is set")
    return Check("API key", True, "not set: only --source polygon needs one; the embedded source works without")


def check_indices(client: PolygonClient, today: dt.date) -> Check:
    try:
        bars = client.daily_bars("I:SPX", today - dt.timedelta(days=LOOK_BACK), today)
    except PolygonError as exc:
        return Check("index data", False, str(exc))
    newest = max((b.day for b in bars), default=None)
    return Check("index data", True, f"I:SPX day bars entitled, newest {newest}" if newest else
                 f"I:SPX entitled but no bar in the last {LOOK_BACK} days")


def check_options(client: PolygonClient, today: dt.date) -> Check:
    try:
        body = client.get("/v3/reference/options/contracts",
                          {"underlying_ticker": "SPX", "contract_type": "put", "limit": 1}, "SPX options contracts")
    except PolygonError as exc:
        return Check("options data", False, str(exc))
    found = body.get("results") or []
    return Check("options data", bool(found), "SPX options contracts reference entitled" if found else
                 "the SPX contracts reference answered with no contract: the plan may not include SPX options")


def check_storage(url: str, today: dt.date) -> list[Check]:
    """The database, and how current the local market history in it is."""
    bundled = load_bundled()
    try:
        factory = open_database(url)
        with transaction(factory) as session:
            session.execute(text("select 1"))
            params = session.scalar(select(func.count()).select_from(WheelParameters))
            positions = session.scalar(select(func.count()).select_from(Position))
            bars = session.scalar(select(func.count()).select_from(PolygonBar))
            last = updated_until(session)
        can_write = writable(factory.kw["bind"])
    except StorageError as exc:
        return [Check("database", False, f"{exc}: pass --db or set SPX_WHEEL_DB to a writable place")]
    behind = len(nyse_sessions(last + dt.timedelta(days=1), today)) if last < today else 0
    history = (f"{bundled.dates[0]} .. {last} (bundled to {bundled.dates[-1]}"
               f"{', then spx-wheel update' if last > bundled.dates[-1] else ''})"
               f"{f': {behind} sessions behind, run spx-wheel update' if behind > 1 else ''}")
    contents = f"{params} parameter sets, {positions} positions, {bars} cached Polygon bars"
    database = (Check("database", True, f"{shown_url(url)} opens and is up to date: {contents}") if can_write else
                Check("database", False, f"{shown_url(url)} is read-only ({contents}): params, positions, export, "
                                         "check and dry runs work; trade, calibrate and update need write access"))
    return [Check("market history", True, history, warning=behind > STALE_SESSIONS), database]


def run_checks(environ: Mapping[str, str], db_url: str, today: dt.date) -> list[Check]:
    checks = [check_key(environ)]
    if environ.get("POLYGON_API_KEY", "").strip():
        client = PolygonClient(**polygon_settings(environ)["client"])
        checks += [check_indices(client, today), check_options(client, today)]
    return checks + check_storage(db_url, today)
