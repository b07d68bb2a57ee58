"""The free, keyless daily files that extend the market history past the bundled file: Cboe's index histories
(SPX, VIX, VIX3M) and FRED's 3-month T-bill (DTB3), fetched as published and parsed strictly.

Layouts, as the sites serve them:
- Cboe `/api/global/us_indices/daily_prices/VIX_History.csv` and `VIX3M_History.csv`: `DATE,OPEN,HIGH,LOW,CLOSE`,
  dates MM/DD/YYYY; `SPX_History.csv`: `DATE,SPX`, the close only (no open: see `History.open_real`).
- FRED `/graph/fredgraph.csv?id=DTB3`: `observation_date,DTB3` (older downloads `DATE,DTB3`), a discount-basis
  yield in percent, empty (or `.`) on holidays.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from typing import Callable

import requests

from data.errors import DataError
from data.http import HttpClient, Retry
from data.plausible import DISCOUNT_RATE, INDEX_LEVEL, VOL_INDEX

CBOE_DEFAULT_URL = "https://cdn.cboe.com"
FRED_DEFAULT_URL = "https://fred.stlouisfed.org"
CBOE_PATH = "/api/global/us_indices/daily_prices/{}_History.csv"
FRED_PATH = "/graph/fredgraph.csv"
MAX_FILE_BYTES = 16 << 20  # the largest of these files (SPX since 1978) is about 0.6 MB
BILL_DAYS = 91


def discount_to_continuous(discount_pct: float, days: int = BILL_DAYS) -> float:
    """A T-bill discount yield in percent -> continuously compounded annual rate (ACT/365)."""
    price = 1.0 - discount_pct / 100.0 * days / 360.0
    return -math.log(price) / (days / 365.0)


@dataclass(frozen=True)
class DailyFiles:
    """Each series by date: SPX, VIX and VIX3M closes, the T-bill as a continuous rate."""

    spx: dict[dt.date, float]
    vix: dict[dt.date, float]
    vix3m: dict[dt.date, float]
    rate: dict[dt.date, float]


def _rows(text: str, name: str, headers: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], list[list[str]]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple(h.strip() for h in next(reader, []))
    if header not in headers:
        raise DataError(f"{name} has an unexpected layout (header {','.join(header)[:80]!r}): the site may have "
                        "changed its files; please report it")
    return header, [row for row in reader if row]


def parse_cboe(text: str, name: str) -> dict[dt.date, float]:
    """Closes by date from a Cboe daily index history (`DATE,<NAME>` or `DATE,OPEN,HIGH,LOW,CLOSE`), each within
    its series' plausible bounds (data/plausible.py)."""
    bound = INDEX_LEVEL if name == "SPX" else VOL_INDEX
    header, rows = _rows(text, f"Cboe's {name}_History.csv", (("DATE", name), ("DATE", "OPEN", "HIGH", "LOW", "CLOSE")))
    column = len(header) - 1
    found = {}
    for line, row in enumerate(rows, start=2):
        try:
            day = dt.datetime.strptime(row[0].strip(), "%m/%d/%Y").date()
            value = float(row[column])
        except (ValueError, IndexError):
            raise DataError(f"Cboe's {name}_History.csv line {line} is malformed: {','.join(row)[:80]!r}") from None
        if not bound.holds(value):
            raise DataError(f"Cboe's {name}_History.csv line {line}: {bound.problem(value)}: nothing stored")
        found[day] = value
    return found


def parse_fred_dtb3(text: str) -> dict[dt.date, float]:
    """DTB3 by date as a continuous rate (holidays, empty or '.', left out)."""
    _, rows = _rows(text, "FRED's DTB3", (("observation_date", "DTB3"), ("DATE", "DTB3")))
    found = {}
    for line, row in enumerate(rows, start=2):
        try:
            day = dt.date.fromisoformat(row[0].strip())
            value = row[1].strip() if len(row) > 1 else ""
            if value in ("", "."):
                continue
            discount = float(value)
        except ValueError:
            raise DataError(f"FRED's DTB3 line {line} is malformed: {','.join(row)[:80]!r}") from None
        if not DISCOUNT_RATE.holds(discount):
            raise DataError(f"FRED's DTB3 line {line}: {DISCOUNT_RATE.problem(discount)}: nothing stored")
        found[day] = discount_to_continuous(discount)
    return found


def _text(response: requests.Response) -> str:
    if response.status_code != 200:
        raise DataError(f"HTTP {response.status_code} for {response.url}")
    if not response.content:
        raise Retry("an empty file")
    return response.content.decode("utf-8", errors="replace")


def fetch_daily_files(cboe: HttpClient, fred: HttpClient,
                      progress: Callable[[str], None] = lambda name: None) -> DailyFiles:
    """Download and parse the four files (a few hundred kB in all)."""
    series = {}
    for name in ("SPX", "VIX", "VIX3M"):
        progress(f"Cboe {name}")
        series[name] = parse_cboe(cboe.get(CBOE_PATH.format(name), None, f"{name}_History.csv", _text,
                                           MAX_FILE_BYTES), name)
    progress("FRED DTB3")
    rate = parse_fred_dtb3(fred.get(FRED_PATH, {"id": "DTB3"}, "DTB3", _text, MAX_FILE_BYTES))
    return DailyFiles(series["SPX"], series["VIX"], series["VIX3M"], rate)
