"""A fake of Cboe's and FRED's free daily files on 127.0.0.1, serving tests/fixtures/daily_files as the real sites
serve them, with the faults a real network has: server errors, a body cut off mid-transfer, a corrupt gzip body,
a changed layout; and Cboe's delayed quotes of SPX options (tests/fixtures/cboe).
`faults[path]` is a list of faults served in turn before the real answer."""

from __future__ import annotations

import gzip
from pathlib import Path

from werkzeug.wrappers import Request, Response

FIXTURES = Path(__file__).parent / "fixtures" / "daily_files"
QUOTES_PATH = "/api/global/delayed_quotes/options/_SPX.json"
QUOTES = Path(__file__).parent / "fixtures" / "cboe" / "_SPX.json.gz"  # see build_fixture.py there
VIX_PATH = "/api/global/delayed_quotes/options/_VIX.json"
# VIX's answer at the moment of _SPX.json, in the same shape: its level is the fixture's VIX close of 2026-11-20
VIX_QUOTE = (b'{"timestamp": "2026-11-20 16:20:03", "data": {"symbol": "_VIX", "security_type": "index", '
             b'"current_price": 15.25, "prev_day_close": 16.18, "options": []}}')
FILES = {"/api/global/us_indices/daily_prices/SPX_History.csv": "SPX_History.csv",
         "/api/global/us_indices/daily_prices/VIX_History.csv": "VIX_History.csv",
         "/api/global/us_indices/daily_prices/VIX3M_History.csv": "VIX3M_History.csv",
         "/graph/fredgraph.csv": "fredgraph_DTB3.csv"}


def serve_daily_files(httpserver, monkeypatch, server: "FakeDailyFiles", tries: int) -> "FakeDailyFiles":
    """Serve `server` on pytest-httpserver's 127.0.0.1 port as Cboe and FRED, with no Polygon key and the chain
    store beside the database."""
    import re

    httpserver.expect_request(re.compile(".*")).respond_with_handler(server)
    base = httpserver.url_for("/").rstrip("/")
    for setting in ("SPX_WHEEL_CBOE_URL", "SPX_WHEEL_FRED_URL"):
        monkeypatch.setenv(setting, base)
    monkeypatch.setenv("SPX_WHEEL_MAX_TRIES", str(tries))
    monkeypatch.delenv("POLYGON_API_KEY", raising=False)
    monkeypatch.delenv("SPX_WHEEL_CHAINS", raising=False)
    return server


class FakeDailyFiles:
    def __init__(self, until: str | None = None) -> None:
        self.faults: dict[str, list[str]] = {}
        self.requests: list[str] = []
        self.until = until  # serve rows up to this MM/DD/YYYY-or-ISO date only (a close not yet published)

    def body(self, path: str) -> bytes:
        if path == QUOTES_PATH:
            return gzip.decompress(QUOTES.read_bytes())
        if path == VIX_PATH:
            return VIX_QUOTE
        lines = (FIXTURES / FILES[path]).read_text().splitlines(keepends=True)
        if self.until is not None:
            lines = lines[:1] + [line for line in lines[1:] if _iso(line.split(",")[0]) <= self.until]
        return "".join(lines).encode()

    def __call__(self, request: Request) -> Response:
        self.requests.append(request.path)
        known = request.path in FILES or request.path in (QUOTES_PATH, VIX_PATH)
        if not known or (request.path == "/graph/fredgraph.csv" and request.args.get("id") != "DTB3"):
            return Response("not found", status=404)
        pending = self.faults.get(request.path) or []
        fault = pending.pop(0) if pending else None
        if fault == "500":
            return Response("<html>Internal Server Error</html>", status=500)
        if fault == "truncated":  # announces more bytes than it sends: the client sees the body cut off
            response = Response(self.body(request.path)[:40], content_type="text/csv")
            response.headers["Content-Length"] = "5000"
            response.automatically_set_content_length = False
            return response
        if fault == "bad-gzip":
            return Response(b"this is not gzip", headers={"Content-Encoding": "gzip"}, content_type="text/csv")
        if fault == "changed" and request.path == QUOTES_PATH:
            return Response('{"timestamp": "2026-11-20 16:20:03", "data": {"quotes": []}}',
                            content_type="application/json")
        if fault == "changed":
            return Response("Date,Close,Volume\n2026-07-13,1,2\n", content_type="text/csv")
        body = self.body(request.path)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return Response(gzip.compress(body), headers={"Content-Encoding": "gzip"}, content_type="text/csv")
        return Response(body, content_type="text/csv")


def _iso(day: str) -> str:
    if "/" in day:
        month, date, year = day.split("/")
        return f"{year}-{month}-{date}"
    return day
