"""Market data from Polygon behind the MarketSource interface, cached, and fetched before the engine runs.

What a backtest needs from Polygon depends on what it trades, so `resolve` runs it to a fixed point: run on what
is cached (recording what was missing), fetch exactly that, run again, until a run asks for nothing new. Only
the final run's results are used. The engine itself never waits on the network.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, Sequence, TypeVar

import numpy as np

from data.contracts import UNDERLYINGS, OptionContract, Underlying, put_contract
from data.errors import DataError
from data.listings import is_monthly
from data.market import History, load_bundled
from data.polygon import Bar, PolygonClient, PolygonError

INDEXES = ("I:SPX", "I:VIX", "I:VIX3M")
logger = logging.getLogger(__name__)
LISTING_HORIZON = 400  # days of expirations asked for each trading day
MAX_PASSES = 6
T = TypeVar("T")


@dataclass
class CachedBars:
    bars: dict[dt.date, Bar] = field(default_factory=dict)
    ranges: list[tuple[dt.date, dt.date]] = field(default_factory=list)

    def covers(self, start: dt.date, end: dt.date) -> bool:
        """Whether every day from start to end lies in fetched ranges."""
        day = start
        for lo, hi in sorted(self.ranges):
            if lo <= day <= hi:
                day = hi + dt.timedelta(days=1)
            if day > end:
                return True
        return day > end


class Cache(Protocol):
    def load_bars(self) -> dict[str, CachedBars]: ...

    def load_listings(self) -> dict[tuple[str, dt.date, str], list[list[object]]]: ...

    def store_bars(self, ticker: str, start: dt.date, end: dt.date, bars: list[Bar]) -> None: ...

    def store_listing(self, kind: str, as_of: dt.date, key: str, items: list[list[object]]) -> None: ...


@dataclass(frozen=True)
class Need:
    """Something a run missed: a contract's bars (ticker, start, end) or a strike listing (as_of, expiry)."""

    kind: str
    ticker: str = ""
    as_of: dt.date | None = None
    start: dt.date | None = None
    end: dt.date | None = None


class PolygonSource:
    """`client` is None for --offline: then only the cache answers, and what it lacks is estimated or refused."""

    name = "polygon"
    fetches = True

    def __init__(self, client: PolygonClient | None, cache: Cache, today: dt.date, max_workers: int = 4,
                 progress: Callable[[str, int, int], None] = lambda what, done, total: None,
                 underlying: Underlying = UNDERLYINGS["SPX"]) -> None:
        self.client, self.cache, self.today, self.max_workers = client, cache, today, max_workers
        self.progress, self.underlying = progress, underlying
        # the listing cache's kinds: SPX's as they always were, XSP's apart
        self.kinds = {kind: kind if underlying.name == "SPX" else f"xsp-{kind}" for kind in ("expiries", "strikes")}
        self.bars = cache.load_bars()
        self.listings = cache.load_listings()
        self.needs: set[Need] = set()
        self.unserved: set[Need] = set()
        self._history: History | None = None

    # -- the MarketSource interface ------------------------------------------------------------------------
    def requests_made(self) -> int:
        return 0 if self.client is None else self.client.requests_made

    def last_day(self, today: dt.date) -> dt.date:
        return today - dt.timedelta(days=1)  # today's bars are not final until the close

    def window_problem(self, start: dt.date, end: dt.date) -> str | None:
        return None  # known only once the index bars are fetched

    def history(self) -> History:
        if self._history is None:
            raise DataError("the Polygon source has no history yet: prepare a window first")
        return self._history

    def listed_expiries(self, as_of: dt.date, until: dt.date, monthly_only: bool) -> list[dt.date]:
        items = self.listings.get((self.kinds["expiries"], as_of, ""))
        if items is None:
            raise DataError(f"no listed expirations for {as_of}: the window was not prepared for that day")
        expiries = sorted({dt.date.fromisoformat(str(e)) for e, in items})
        return [e for e in expiries if as_of < e <= until and (not monthly_only or is_monthly(e))]

    def partial_listings(self, start: dt.date, end: dt.date, reach: int) -> frozenset[dt.date]:
        return frozenset()  # the contracts reference lists what was listed, whole

    def listed_strikes(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        items = self.listings.get((self.kinds["strikes"], as_of, expiry.isoformat()))
        if items is None:
            self._need(Need("strikes", as_of=as_of, start=expiry))
            return None
        root = put_contract(expiry, 0.0, self.underlying.name).root
        return np.array(sorted(float(str(k)) for r, k in items if r == root))  # empty: nothing listed to sell

    def strike_deltas(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        return None  # day bars carry no greeks

    def quoted(self, contract: OptionContract, day: dt.date) -> tuple[float, float] | None:
        return None  # day bars are trades, not quotes

    def option_closes(self, contract: OptionContract, dates: tuple[dt.date, ...]) -> np.ndarray | None:
        ticker = contract.ticker
        cached = self.bars.get(ticker)
        first, last = dates[0], min(dates[-1], contract.expiry, self.today)
        if cached is None or not cached.covers(first, last):
            # a contract picked from the 5-point grid because its strike list is still missing may not exist:
            # its bars wait until the next pass, which chooses from the listed strikes
            if Need("strikes", as_of=first, start=contract.expiry) not in self.needs:
                self._need(Need("bars", ticker, start=first, end=contract.expiry))
            return None
        return np.array([cached.bars[d].close if d in cached.bars else math.nan for d in dates])

    # -- fetching ------------------------------------------------------------------------------------------
    def prepare(self, start: dt.date, end: dt.date, listings_from: dt.date | None = None,
                horizon: int | None = None) -> None:
        """Fetch (or load) the index series and the listed expirations of each session from `listings_from`
        (default: the whole window); build the history."""
        for ticker in INDEXES:
            self._ensure_bars(ticker, start - dt.timedelta(days=7), end, required=ticker != "I:VIX3M")
        spx = self.bars.get("I:SPX", CachedBars()).bars
        sessions = sorted(d for d in spx if start <= d <= end)
        if len(sessions) < 2:
            raise DataError(f"Polygon has fewer than two I:SPX day bars between {start} and {end}")
        self._history = self._build_history(sessions)
        missing = [d for d in sessions
                   if d >= (listings_from or start) and (self.kinds["expiries"], d, "") not in self.listings]
        self._fetch_all("listed expirations", missing, self._fetch_expiries)

    def resolve(self, run: Callable[[], T]) -> T:
        """Run, fetch what the run missed, and run again until nothing new is missing."""
        for _ in range(MAX_PASSES):
            self.needs = set()
            result = run()
            todo = self.needs - self.unserved
            if not todo or self.client is None:
                self.unserved |= todo
                return result
            strikes = sorted((n for n in todo if n.kind == "strikes"), key=_order)
            self._fetch_all("strike lists", strikes, self._fetch_need)
            self._fetch_all("option bars", _one_per_ticker(n for n in todo if n.kind == "bars"), self._fetch_need)
        logger.warning("data still missing after %d passes: the missing prices were estimated", MAX_PASSES)
        return result

    def _need(self, need: Need) -> None:
        self.needs.add(need)

    def _fetch_all(self, what: str, items: Sequence[Any], fetch: Callable[[Any], Callable[[], None]]) -> None:
        if not items:
            return
        if self.client is None:
            raise DataError(f"--offline: {len(items)} {what} are not in the cache: run spx-wheel fetch first")
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            futures = [pool.submit(fetch, item) for item in items]
            try:
                for done, future in enumerate(futures, start=1):
                    future.result()()  # the answer is stored here, in this thread
                    self.progress(what, done, len(items))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _ensure_bars(self, ticker: str, start: dt.date, end: dt.date, required: bool) -> None:
        cached = self.bars.get(ticker)
        stored_until = min(end, self.today - dt.timedelta(days=1))
        if cached is not None and cached.covers(start, stored_until) and end < self.today:
            return
        if self.client is None:
            if required:
                raise DataError(f"--offline: {ticker} bars for {start} .. {end} are not in the cache")
            return
        try:
            self._fetch_need(Need("bars", ticker, start=start, end=end))()
        except PolygonError as exc:
            if required or exc.status != 403:
                raise
            self.bars[ticker] = CachedBars()  # VIX3M not in the plan: the estimate uses VIX alone

    def _fetch_need(self, need: Need) -> Callable[[], None]:
        """Ask Polygon (in a worker thread); return what stores the answer (run in the calling thread)."""
        start, end, as_of = need.start, need.end, need.as_of
        assert self.client is not None and start is not None
        if need.kind == "strikes":
            assert as_of is not None and self._history is not None
            spot = self._spot(as_of)
            puts = self._listed(as_of, start, start, 0.5 * spot, 1.02 * spot)
            items: list[list[object]] = [[p.root, p.strike] for p in puts]
            return lambda: self._store_listing(self.kinds["strikes"], as_of, start.isoformat(), items)
        assert end is not None
        bars = self.client.daily_bars(need.ticker, start, end)
        return lambda: self._store_bars(need.ticker, start, end, bars)

    def _fetch_expiries(self, as_of: dt.date) -> Callable[[], None]:
        band = 100 * self.underlying.scale  # a narrow band of strikes: every expiration lists some there
        anchor = math.floor(0.95 * self._spot(as_of) / band) * band
        puts = self._listed(as_of, as_of + dt.timedelta(days=1), as_of + dt.timedelta(days=LISTING_HORIZON),
                            anchor - band / 2, anchor)
        items: list[list[object]] = [[e.isoformat()] for e in sorted({p.expiry for p in puts})]
        return lambda: self._store_listing(self.kinds["expiries"], as_of, "", items)

    def _spot(self, as_of: dt.date) -> float:
        """The underlying's level at the day's close (XSP: a tenth of SPX)."""
        assert self._history is not None
        return float(self._history.spx_close[self._history.index_of(as_of)]) * self.underlying.scale

    def _listed(self, as_of: dt.date, first: dt.date, last: dt.date, low: float,
                high: float) -> list[OptionContract]:
        """Both halves when the expirations straddle today: Polygon hides expired contracts unless asked."""
        assert self.client is not None
        found = []
        if first < self.today:
            found += self.client.listed_puts(as_of, first, min(last, self.today - dt.timedelta(days=1)), low, high,
                                             True, self.underlying.name)
        if last >= self.today:
            found += self.client.listed_puts(as_of, max(first, self.today), last, low, high, False,
                                             self.underlying.name)
        return found

    def _store_bars(self, ticker: str, start: dt.date, end: dt.date, bars: list[Bar]) -> None:
        stored_until = min(end, self.today - dt.timedelta(days=1))
        if start <= stored_until:
            self.cache.store_bars(ticker, start, stored_until, bars)
        entry = self.bars.setdefault(ticker, CachedBars())
        entry.bars.update({b.day: b for b in bars if start <= b.day <= end})
        entry.ranges.append((start, end))

    def _store_listing(self, kind: str, as_of: dt.date, key: str, items: list[list[object]]) -> None:
        if as_of < self.today:
            self.cache.store_listing(kind, as_of, key, items)
        self.listings[(kind, as_of, key)] = items

    def _build_history(self, sessions: list[dt.date]) -> History:
        def series(ticker: str, pick: Callable[[Bar], float]) -> np.ndarray:
            bars = self.bars.get(ticker, CachedBars()).bars
            values = np.array([pick(bars[d]) if d in bars else math.nan for d in sessions])
            filled = np.maximum.accumulate(np.where(np.isnan(values), -1, np.arange(len(values))))
            return np.where(filled >= 0, values[np.maximum(filled, 0)], math.nan)

        spx = self.bars["I:SPX"].bars
        bundled = load_bundled()
        rate_index = np.clip(np.searchsorted(bundled.ordinals, [d.toordinal() for d in sessions], side="right") - 1,
                             0, len(bundled.dates) - 1)
        vix = series("I:VIX", lambda b: b.close)
        if np.isnan(vix).any():
            raise DataError("Polygon has no I:VIX bar on or before some sessions of the window")
        return History(dates=tuple(sessions), spx_open=np.array([spx[d].open for d in sessions]),
                       spx_close=np.array([spx[d].close for d in sessions]), vix=vix,
                       vix3m=series("I:VIX3M", lambda b: b.close), rate=bundled.rate[rate_index])


def _one_per_ticker(needs: Iterable[Need]) -> list[Need]:
    """One request per contract, from the earliest day any run entered it to its expiry."""
    merged: dict[str, Need] = {}
    for need in needs:
        seen = merged.get(need.ticker)
        if seen is None or (need.start and seen.start and need.start < seen.start):
            merged[need.ticker] = need
    return [merged[t] for t in sorted(merged)]


def _order(need: Need) -> tuple[str, str, str]:
    return need.ticker, str(need.as_of), str(need.start)

