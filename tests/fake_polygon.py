"""A fake Polygon/Massive REST server for tests and benchmarks, serving the real response shapes.

Index bars come from the bundled history (timestamps at New York midnight, no v/vw/n, as Polygon serves index
bars); SPX and SPXW puts are listed every 25 points on Fridays (both roots on third Fridays), XSP puts (asked
with underlying_ticker=XSP) every 5 points on every Friday, and each has a day bar on four days out of five, its
close a flat-VIX Black-Scholes price rounded to the cent (XSP's on SPX/10): data the estimator does not
reproduce, so real and estimated prices differ. Pages carry a `next_url` on api.massive.com, as the
recorded fixtures do. It answers 401 without the right Bearer key and logs every request.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import threading
import time
import uuid
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Request, Response

from data.calendar import friday_expiry, third_friday
from data.listings import FIRST_PM_WEEKLY
from data.market import load_bundled
from data.pricing import bs_put_price

NEW_YORK = ZoneInfo("America/New_York")
STRIKE_STEP = 25
XSP_STRIKE_STEP = 5
INDEX_SERIES = {"I:SPX": None, "I:VIX": "vix", "I:VIX3M": "vix3m"}


def ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).timestamp() * 1000)


def has_bar(ticker: str, day: dt.date) -> bool:
    return (day.toordinal() + sum(map(ord, ticker))) % 5 != 0


def option_close(strike: float, expiry: dt.date, day: dt.date, scale: float = 1.0) -> float | None:
    """The fake market's close of a put (on SPX, or on SPX x `scale`: XSP), or None when it did not trade."""
    history = load_bundled()
    try:
        i = history.index_of(day)
    except Exception:
        return None
    t = (expiry - day).days / 365
    price = bs_put_price(history.spx_close[i] * scale, strike, t, history.rate[i], 0.015, history.vix[i] / 100)
    return max(round(float(price), 2), 0.05 * scale)


def expirations(as_of: dt.date, last: dt.date, underlying: str = "SPX") -> list[tuple[str, dt.date]]:
    """(root, expiry) listed on `as_of`: SPX on third Fridays (a holiday moves it), SPXW on every Friday; XSP
    on every Friday."""
    found = []
    friday = as_of + dt.timedelta(days=(4 - as_of.weekday()) % 7)
    while friday <= last + dt.timedelta(days=1):  # a holiday Friday's Thursday may still be in range
        expiry = friday_expiry(friday)
        if as_of < expiry <= last and underlying == "XSP":
            found.append(("XSP", expiry))
        elif as_of < expiry <= last:
            if friday == third_friday(friday.year, friday.month):
                found.append(("SPX", expiry))
            if friday >= FIRST_PM_WEEKLY:
                found.append(("SPXW", expiry))
        friday += dt.timedelta(days=7)
    return found


class FakePolygon:
    def __init__(self, api_key: str, page_size: int = 1000, latency: float = 0.0) -> None:
        self.api_key, self.page_size, self.latency = api_key, page_size, latency
        self.requests: list[dict[str, object]] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.requests.append({"path": request.path, "query": request.query_string.decode(),
                                  "authorization": request.headers.get("Authorization")})
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.json({"status": "ERROR", "request_id": uuid.uuid4().hex, "error": "Unknown API Key"}, 401)
        parts = request.path.strip("/").split("/")
        if request.path.startswith("/v2/aggs/ticker/") and len(parts) == 9:
            return self.aggs(parts[3], dt.date.fromisoformat(parts[7]), dt.date.fromisoformat(parts[8]))
        if request.path == "/v3/reference/options/contracts":
            return self.contracts(request.args.to_dict())
        return self.json({"status": "NOT_FOUND", "request_id": uuid.uuid4().hex, "message": "Data not found."}, 404)

    @staticmethod
    def json(body: dict[str, object], status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def aggs(self, ticker: str, start: dt.date, end: dt.date) -> Response:
        history = load_bundled()
        lo, hi = history.window(start, end)
        results: list[dict[str, object]] = []
        if ticker in INDEX_SERIES:
            column = INDEX_SERIES[ticker]
            for i in range(lo, hi):
                day = history.dates[i]
                if column is None:
                    o, c = float(history.spx_open[i]), float(history.spx_close[i])
                else:
                    c = float(getattr(history, column)[i])
                    if math.isnan(c):
                        continue
                    o = c
                results.append({"c": c, "h": max(o, c), "l": min(o, c), "o": o, "t": ms(day)})
        elif ticker.startswith(("O:SPX", "O:XSP")):
            root = ticker[2:6] if ticker.startswith("O:SPXW") else ticker[2:5]
            expiry = dt.datetime.strptime(ticker[len(root) + 2:len(root) + 8], "%y%m%d").date()
            strike = int(ticker[-8:]) / 1000
            for i in range(lo, hi):
                day = history.dates[i]
                if day > expiry or (root == "SPX" and day == expiry) or not has_bar(ticker, day):
                    continue
                close = option_close(strike, expiry, day, 0.1 if root == "XSP" else 1.0)
                if close is not None:
                    results.append({"c": close, "h": close, "l": close, "n": 3, "o": close, "t": ms(day),
                                    "v": 12, "vw": close})
        body: dict[str, object] = {"ticker": ticker, "queryCount": len(results), "resultsCount": len(results),
                                   "status": "OK", "request_id": uuid.uuid4().hex}
        if not ticker.startswith("I:"):
            body["adjusted"] = True
        if results:
            body["results"] = results
        return self.json(body)

    def contracts(self, args: dict[str, str]) -> Response:
        if "cursor" in args:
            state = json.loads(base64.urlsafe_b64decode(args["cursor"]))
            args, offset = state["args"], state["offset"]
        else:
            offset = 0
        as_of = dt.date.fromisoformat(args.get("as_of") or load_bundled().dates[-1].isoformat())
        first = dt.date.fromisoformat(args.get("expiration_date.gte") or as_of.isoformat())
        last = dt.date.fromisoformat(args.get("expiration_date.lte") or (as_of + dt.timedelta(days=60)).isoformat())
        low, high = float(args.get("strike_price.gte", 1000)), float(args.get("strike_price.lte", 9000))
        page_size = min(self.page_size, int(args.get("limit", self.page_size)))
        underlying = args.get("underlying_ticker", "SPX")
        step = XSP_STRIKE_STEP if underlying == "XSP" else STRIKE_STEP
        items = []
        for root, expiry in expirations(as_of, last, underlying):
            if expiry < first:
                continue
            for k in range(math.ceil(low / step) * step, int(high) + 1, step):
                items.append({"cfi": "OPEPCS", "contract_type": "put", "exercise_style": "european",
                              "expiration_date": expiry.isoformat(), "primary_exchange": "XCBO",
                              "shares_per_contract": 100, "strike_price": k,
                              "ticker": f"O:{root}{expiry:%y%m%d}P{k * 1000:08d}", "underlying_ticker": underlying})
        page = items[offset:offset + page_size]
        body: dict[str, object] = {"results": page, "status": "OK", "request_id": uuid.uuid4().hex}
        if offset + page_size < len(items):
            cursor = base64.urlsafe_b64encode(json.dumps({"args": args, "offset": offset + page_size})
                                              .encode()).decode()
            body["next_url"] = "https://api.massive.com/v3/reference/options/contracts?" + urlencode({"cursor": cursor})
        return self.json(body)
