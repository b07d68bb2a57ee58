"""Cboe's free delayed quotes for SPX (`/api/global/delayed_quotes/options/_SPX.json` below the Cboe base URL,
about 15 minutes late, no key): the index level and every SPX and SPXW option with bid, ask, IV and greeks.

The answer, as served: `{"timestamp": "2025-07-03 16:20:01", "data": {"current_price": 6279.35, "options":
[{"option": "SPXW250718P06000000", "bid": 12.1, "ask": 12.4, "iv": 0.1532, "delta": -0.1791, "open_interest": 812,
...}, ...], ...}}`, times in New York. Each snapshot taken is kept in the chain store, so that a user without a
data plan builds a history of real quotes day by day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import replace
from typing import Any, Callable

import pandas as pd
import requests

from data.chain_files import CHAIN_COLUMNS, check_rows, session_of
from data.plausible import INDEX_LEVEL, VOL_INDEX
from data.chain_source import ChainQuotes, ChainSource
from data.calendar import nyse_sessions
from data.chain_store import as_table
from data.errors import BadInput, DataError
from data.http import HttpClient, Retry
from data.market import History

OPTIONS_PATH = "/api/global/delayed_quotes/options/_SPX.json"
VIX_PATH = "/api/global/delayed_quotes/options/_VIX.json"  # the same answer for VIX's options: its data.current_price
_SYMBOL = re.compile(r"(SPXW|SPX)(\d{6})([CP])(\d{8})")
SHAPE_HINT = "Cboe's delayed-quotes answer changed shape"


def _number(value: Any, what: str) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{SHAPE_HINT}: {what} is {value!r}, not a number")
    return float(value)


def parse_delayed_quotes(body: dict[str, Any], today: dt.date) -> pd.DataFrame:
    """The snapshot as a chain (CHAIN_COLUMNS); DataError naming what is missing when the shape is not the known
    one, or the first number that cannot be a price (data/plausible.py)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("options"), list):
        raise DataError(f"{SHAPE_HINT}: no data.options list")
    stamp = body.get("timestamp")
    try:
        moment = dt.datetime.strptime(str(stamp), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise DataError(f"{SHAPE_HINT}: timestamp {stamp!r} is not YYYY-MM-DD HH:MM:SS") from None
    spot = _number(data.get("current_price"), "data.current_price")
    if not INDEX_LEVEL.holds(spot):
        raise DataError(f"{SHAPE_HINT}: data.current_price {INDEX_LEVEL.problem(spot)}")
    quote_date, snapshot = session_of(moment)
    rows = []
    for number, option in enumerate(data["options"], start=1):
        symbol = option.get("option") if isinstance(option, dict) else None
        match = _SYMBOL.fullmatch(str(symbol))
        if match is None:
            raise DataError(f"{SHAPE_HINT}: option {number} has the symbol {symbol!r}")
        root, yymmdd, right, strike = match.groups()
        rows.append((quote_date, snapshot, root, dt.datetime.strptime(yymmdd, "%y%m%d").date(), right,
                     int(strike) / 1000, _number(option.get("bid"), f"{symbol} bid"),
                     _number(option.get("ask"), f"{symbol} ask"), _number(option.get("iv"), f"{symbol} iv"),
                     _number(option.get("delta"), f"{symbol} delta"), math.nan, spot, number))
    chain = pd.DataFrame(rows, columns=[*CHAIN_COLUMNS, "line"])
    if chain.empty:
        raise DataError(f"{SHAPE_HINT}: data.options is empty")
    try:
        check_rows(chain, "Cboe's delayed quotes", today, unit="option")
    except BadInput as exc:
        raise DataError(str(exc)) from None
    return chain[CHAIN_COLUMNS]


def _json(response: requests.Response) -> tuple[bytes, dict[str, Any]]:
    if response.status_code == 403 or response.status_code == 404:
        raise DataError(f"Cboe refused the delayed quotes (HTTP {response.status_code}): check SPX_WHEEL_CBOE_URL")
    if response.status_code != 200:
        raise DataError(f"HTTP {response.status_code} from Cboe for the delayed quotes")
    if not response.content:
        raise Retry("an empty answer")
    try:
        return response.content, json.loads(response.content)
    except ValueError:
        raise Retry("an answer that is not JSON") from None


class CboeSource(ChainSource):
    """The daily trade's source without a key: the index history, and today's chain from Cboe's delayed quotes,
    fetched once when the run is prepared and handed to `keep` (which stores it) with the hash of its bytes."""

    fetches = True

    def __init__(self, client: HttpClient, history: History, keep: Callable[[pd.DataFrame, str], None],
                 today: dt.date) -> None:
        super().__init__("cboe", history, lambda start, end, horizon: as_table(), [])
        self.client, self.keep, self.requests, self.today = client, keep, 0, today
        self.snapshot: pd.DataFrame | None = None

    def requests_made(self) -> int:
        return self.requests

    def window_problem(self, start: dt.date, end: dt.date) -> str | None:
        """Not a gap in the data but the wrong source for a window: bad input."""
        raise BadInput("--source cboe prices the daily trade from today's quotes: backtest on the snapshots it "
                       "stored with --source chains")

    def prepare(self, start: dt.date, end: dt.date, listings_from: dt.date | None = None,
                horizon: int | None = None) -> None:
        if self.snapshot is None:
            self.requests += 1
            raw, body = self.client.get(OPTIONS_PATH, None, "the SPX delayed quotes", _json)
            self.snapshot = parse_delayed_quotes(body, self.today)
            self.keep(self.snapshot, hashlib.sha256(raw).hexdigest())
            days = sorted(set(self.snapshot["quote_date"]))
            self.chain_days = days
            self._today_from_snapshot(days[-1], float(self.snapshot["spot"].iloc[0]))
        self.quotes = ChainQuotes(as_table(self.snapshot[self.snapshot["right"] == "P"]))

    def _today_from_snapshot(self, day: dt.date, spot: float) -> None:
        """A session the local history does not hold yet (a run in market hours, or before the day's close is
        published) is taken at the snapshot's index level and VIX's level of the same moment (Cboe's delayed
        quotes of VIX's options; VIX3M has none: unknown), marked provisional: nothing settles on it. Only the
        session right after the history's last: a longer gap is spx-wheel update's to fill."""
        history = self._history
        if nyse_sessions(history.dates[-1], day)[1:] != [day]:  # held already, or a gap the update must fill
            return
        self.requests += 1
        _, body = self.client.get(VIX_PATH, None, "VIX's delayed quote", _json)
        data = body.get("data") if isinstance(body, dict) else None
        vix = _number(data.get("current_price") if isinstance(data, dict) else None, "VIX's data.current_price")
        if not VOL_INDEX.holds(vix):
            raise DataError(f"{SHAPE_HINT}: VIX's data.current_price {VOL_INDEX.problem(vix)}")
        self._history = replace(history.extended([day], [spot], [vix], [math.nan], [float(history.rate[-1])]),
                                provisional=day)
