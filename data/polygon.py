"""A small, strict Polygon.io (Massive) REST client for the endpoints spx-wheel needs.

The key travels only in the Authorization header; every request has a timeout; 429, 5xx, timeouts and broken
bodies are retried with exponential backoff and jitter (honouring Retry-After); a client-side limit keeps a
free key under its requests-per-minute budget; pagination follows next_url on our own base URL and refuses a
repeated cursor. Failures raise PolygonError with the HTTP status and a message a user can act on.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests

from data.contracts import OptionContract, parse_ticker
from data.http import FetchError, HttpClient, Retry
from data.plausible import INDEX_LEVEL, OPTION_PRICE, VOL_INDEX

DEFAULT_BASE_URL = "https://api.polygon.io"
NEW_YORK = ZoneInfo("America/New_York")
OK_STATUSES = {"OK", "DELAYED"}
MAX_PAGES = 500
logger = logging.getLogger(__name__)


class PolygonError(FetchError):
    """A request to Polygon failed; `status` is the HTTP status when there was one."""


@dataclass(frozen=True)
class Bar:
    day: dt.date
    open: float
    close: float


class RateLimiter:
    """At most `per_minute` request starts in any 60-second window (0 = no limit); safe across threads."""

    def __init__(self, per_minute: int, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_minute, self.monotonic, self.sleep = per_minute, monotonic, sleep
        self.starts: deque[float] = deque()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if self.per_minute <= 0:
            return
        with self.lock:
            while True:
                now = self.monotonic()
                while self.starts and now - self.starts[0] >= 60.0:
                    self.starts.popleft()
                if len(self.starts) < self.per_minute:
                    self.starts.append(now)
                    return
                self.sleep(60.0 - (now - self.starts[0]))


MAX_PAGE_BYTES = 32 << 20  # a page of 50,000 day bars is about 5 MB of JSON


class PolygonClient:
    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, *, rate_limit: int = 5, max_tries: int = 5,
                 timeout: tuple[float, float] = (5.0, 30.0), deadline: float = 120.0, backoff: float = 1.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic, jitter: Callable[[], float] = random.random) -> None:
        api_key = api_key.strip()  # a key pasted from a Windows file ends in a carriage return
        if not api_key:
            raise PolygonError("no Polygon API key: set POLYGON_API_KEY")
        if any(c.isspace() or not c.isprintable() for c in api_key):
            raise PolygonError("POLYGON_API_KEY holds spaces or control characters: paste the key again")
        self.limiter = RateLimiter(rate_limit, monotonic, sleep)
        self.requests_made = 0
        self._count_lock = threading.Lock()
        self.http = HttpClient(base_url, "Polygon", "POLYGON_BASE_URL", max_tries=max_tries, timeout=timeout,
                               deadline=deadline, max_bytes=MAX_PAGE_BYTES, backoff=backoff, session=session, sleep=sleep, jitter=jitter,
                               before_request=self._before_request, error=PolygonError)
        self.http.session.headers.update({"Authorization": f"Bearer {api_key}", "Accept-Encoding": "gzip"})
        self.base_url = self.http.base_url

    def _before_request(self) -> None:
        self.limiter.wait()
        with self._count_lock:
            self.requests_made += 1

    # -- transport -------------------------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> dict[str, Any]:
        """One JSON document from `path`, retried as data/http.py says (a malformed body is asked again)."""
        label = what or path

        def parse(response: requests.Response) -> dict[str, Any]:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise Retry("malformed JSON")
            self._check(response.status_code, body, label)
            return body

        return self.http.get(path, params, label, parse)

    @staticmethod
    def _check(status: int, body: dict[str, Any], label: str) -> None:
        text = str(body.get("message") or body.get("error") or body.get("status") or "")
        if status == 401:
            raise PolygonError(f"Polygon rejected the API key (HTTP 401: {text}): check POLYGON_API_KEY", 401)
        if status == 403 or body.get("status") == "NOT_AUTHORIZED":
            raise PolygonError(f"your Polygon plan does not include {label} (HTTP {status}: {text})", 403)
        if status == 404:
            raise PolygonError(f"Polygon has no data for {label} (HTTP 404: {text})", 404)
        if status >= 400 or body.get("status") not in OK_STATUSES:
            raise PolygonError(f"Polygon refused the request for {label} (HTTP {status}: {text})", status)

    def paginate(self, path: str, params: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """Every result of every page, following next_url (its path and query only, on our base URL)."""
        seen: set[str] = set()
        body = self.get(path, params, what)
        for _ in range(MAX_PAGES):
            yield from body.get("results") or []
            next_url = body.get("next_url")
            if not next_url:
                return
            parts = urlsplit(next_url)
            cursor = parse_qs(parts.query).get("cursor", [parts.query])[0]
            if cursor in seen:
                raise PolygonError(f"Polygon repeated a pagination cursor for {what}: stopped")
            seen.add(cursor)
            body = self.get(parts.path + (f"?{parts.query}" if parts.query else ""), None, what)
        raise PolygonError(f"more than {MAX_PAGES} pages for {what}: narrow the request")

    # -- endpoints -------------------------------------------------------------------------------------------
    def daily_bars(self, ticker: str, start: dt.date, end: dt.date) -> list[Bar]:
        """Day bars of an index (I:SPX) or an option contract, dated in New York."""
        path = f"/v2/aggs/ticker/{ticker}/range/1/day/{start.isoformat()}/{end.isoformat()}"
        bars = []
        for item in self.paginate(path, {"sort": "asc", "limit": 50000}, ticker):
            try:
                day = dt.datetime.fromtimestamp(item["t"] / 1000, NEW_YORK).date()
                bar = Bar(day, float(item["o"]), float(item["c"]))
            except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
                raise PolygonError(f"malformed bar from Polygon for {ticker}: {item!r:.120}") from exc
            bound = INDEX_LEVEL if ticker.startswith("I:SPX") or ticker.startswith("I:XSP") else \
                VOL_INDEX if ticker.startswith("I:") else OPTION_PRICE
            if not (bound.holds(bar.open) and bound.holds(bar.close)):
                raise PolygonError(f"Polygon sent a {ticker} bar of {day} outside {bound.text()} (open {bar.open:g}, "
                                   f"close {bar.close:g}): nothing stored")
            bars.append(bar)
        return bars

    def listed_puts(self, as_of: dt.date, expiry_from: dt.date, expiry_to: dt.date, strike_from: float,
                    strike_to: float, expired: bool, underlying: str = "SPX") -> list[OptionContract]:
        """SPX and SPXW (or XSP) puts listed on `as_of` with expirations and strikes in the given ranges;
        `expired` selects contracts that have expired by now (Polygon hides them otherwise) or those still
        trading. Each ticker is parsed here, once; adjusted contracts (a digit after the root) are left out."""
        params = {"underlying_ticker": underlying, "contract_type": "put", "as_of": as_of.isoformat(),
                  "expired": "true" if expired else "false",
                  "expiration_date.gte": expiry_from.isoformat(), "expiration_date.lte": expiry_to.isoformat(),
                  "strike_price.gte": strike_from, "strike_price.lte": strike_to, "limit": 1000}
        puts = []
        for item in self.paginate("/v3/reference/options/contracts", params, f"{underlying} options listed {as_of}"):
            ticker = item.get("ticker") if isinstance(item, dict) else None
            if not isinstance(ticker, str):
                raise PolygonError(f"malformed contract from Polygon: {item!r:.120}")
            try:
                put = parse_ticker(ticker)
            except ValueError:
                logger.debug("left out %s: not a standard SPX, SPXW or XSP put", ticker)
                continue
            if put.underlying.name == underlying:
                puts.append(put)
        return puts
