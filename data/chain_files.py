"""Real SPX option chains as their vendors publish them, read into one table.

Each layout is recognised from its header lines, never from the file name: the Cboe delayed-quotes download (every
layout it has had since 2017: the old `SPX1821L1325` rows, the 2019 `^SPX` header, the 2022+ `Last:` header with
English or Spanish dates, with or without IV and greeks), DeltaNeutral / historicaloptiondata "L2" end-of-day files
and iVolatility "RawIV" files. Every reader returns the same columns (CHAIN_COLUMNS), one row per option:

- `quote_date` the session the quotes belong to; `snapshot` says when they were taken: `close` (after the close or on
  a later non-session day), `intraday` (09:30-16:00 ET) or `overnight` (before 09:30: Cboe's global trading hours).
  For intraday and overnight snapshots the stated index level is not the options' underlying: price them off the
  put-call-parity forward (`parity_forwards`).
- `expiry` the last session of the option: vendors that date AM monthlies on the Saturday after the third Friday
  (all expirations before 2015-02-15) are moved to the Friday, when the settlement value is set.
- `root` as printed (SPX, SPXW, SPXPM, JXA, SPQ...), `right` "P" or "C", `strike`, `bid`, `ask`, the vendor's `iv`
  and `delta` (NaN where the file has none) and the `spot` the file states.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from data.calendar import is_session
from data.errors import BadInput

CHAIN_COLUMNS = ["quote_date", "snapshot", "root", "expiry", "right", "strike", "bid", "ask", "iv", "delta", "spot"]
PM_ROOTS = frozenset({"SPXW", "SPXPM", "SPXQ"})  # every other SPX root of the eras covered settles at the open

MONTHS = {name: i + 1 for i, names in enumerate([
    ("jan", "january", "enero"), ("feb", "february", "febrero"), ("mar", "march", "marzo"), ("apr", "april", "abril"),
    ("may", "mayo"), ("jun", "june", "junio"), ("jul", "july", "julio"), ("aug", "august", "agosto"),
    ("sep", "sept", "september", "septiembre"), ("oct", "october", "octubre"), ("nov", "november", "noviembre"),
    ("dec", "december", "diciembre")]) for name in names}
_OLD_CBOE_TICKER = re.compile(r"\(([A-Z]+?)(\d{2})(\d{2})([A-X])\d+")  # (SPX1821L1325): year 18, day 21, L = Dec call


def read_chain(path: Path) -> pd.DataFrame:
    """Every option quote of one file, in CHAIN_COLUMNS; BadInput naming the file when no layout matches."""
    try:
        with open(path, "rb") as raw:
            data = raw.read()
        text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise BadInput(f"{path}: cannot read it as a text chain file ({exc})") from None
    lines = text.splitlines()
    reader = _reader_for(lines)
    if reader is None:
        raise BadInput(f"{path}: not a chain layout spx-wheel reads (first line: {lines[0][:60] if lines else ''!r})")
    try:
        chain = reader(lines)
    except (ValueError, KeyError, IndexError) as exc:
        raise BadInput(f"{path}: malformed chain file ({exc})") from None
    return chain[CHAIN_COLUMNS].reset_index(drop=True)


def _reader_for(lines: list[str]) -> Callable[[list[str]], pd.DataFrame] | None:
    first = [line for line in lines[:5] if line.strip()]
    if not first:
        return None
    head = first[0].replace(" ", "").lower()
    if head.startswith("underlying,underlying_last,exchange,optionroot"):
        return _read_deltaneutral
    if head.startswith("symbol,exchange,company_name,date,stock_price_close,option_symbol"):
        return _read_ivolatility
    if "index" in head and len(first) >= 3 and ("@" in first[1] or first[1].startswith(("Date:", '"Date:'))):
        return _read_cboe
    return None


def _frame(rows: Mapping[str, object]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in ("strike", "bid", "ask", "iv", "delta", "spot"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
    return frame


def _friday_of(day: dt.date) -> dt.date:
    """AM monthlies were dated on the Saturday after their last trading Friday until 2015-02-15."""
    return day - dt.timedelta(days=1) if day.weekday() == 5 else day


def _dates(values: pd.Series, fmt: str) -> list[dt.date]:
    return [_friday_of(d) for d in pd.to_datetime(values.str.strip(), format=fmt).dt.date]


def _read_deltaneutral(lines: list[str]) -> pd.DataFrame:
    raw = pd.read_csv(io.StringIO("\n".join(lines)), skipinitialspace=True, dtype={"optionroot": str})
    raw.columns = [c.strip() for c in raw.columns]
    return _frame({
        "quote_date": _dates(raw["quotedate"], "%m/%d/%Y"), "snapshot": "close",
        "root": raw["optionroot"].str.strip().str[:-15], "expiry": _dates(raw["expiration"], "%m/%d/%Y"),
        "right": raw["type"].str.strip().str[0].str.upper(), "strike": raw["strike"], "bid": raw["bid"],
        "ask": raw["ask"], "iv": raw["impliedvol"], "delta": raw["delta"], "spot": raw["underlying_last"]})


def _read_ivolatility(lines: list[str]) -> pd.DataFrame:
    raw = pd.read_csv(io.StringIO("\n".join(lines)), dtype={"option_symbol": str})
    return _frame({
        "quote_date": _dates(raw["date"], "%m/%d/%Y"), "snapshot": "close",
        "root": raw["option_symbol"].str.split().str[0], "expiry": _dates(raw["option_expiration"], "%m/%d/%Y"),
        "right": raw["call/put"].str.strip().str.upper(), "strike": raw["strike"], "bid": raw["bid"],
        "ask": raw["ask"], "iv": raw["iv"], "delta": raw["delta"], "spot": raw["stock_price_close"]})


def capture_time(text: str) -> dt.datetime:
    """The snapshot time of a Cboe download's second line, in any of its formats ("Dec 28 2017 @ 11:12 ET",
    "Date: February 13, 2024 at 6:40 AM EST", "Date: 23 de marzo de 2022, 10:11 GMT-4"...), as ET wall time."""
    clock = re.search(r"(\d{1,2}):(\d{2})\s*([AP]M)?", text, re.IGNORECASE)
    if clock is None:
        raise ValueError(f"no time of day in {text!r}")
    hour = int(clock.group(1)) % 12 if clock.group(3) else int(clock.group(1))
    hour += 12 if (clock.group(3) or "").upper() == "PM" else 0
    rest = text[:clock.start()]
    year = re.search(r"\b(\d{4})\b", rest)
    month = next((MONTHS[w.lower()] for w in re.findall(r"[A-Za-z]+", rest) if w.lower() in MONTHS), None)
    day = re.search(r"\b(\d{1,2})\b", rest)
    if year is None or month is None or day is None:
        raise ValueError(f"no date in {text!r}")
    return dt.datetime(int(year.group(1)), month, int(day.group(1)), hour, int(clock.group(2)))


def session_of(moment: dt.datetime) -> tuple[dt.date, str]:
    """The session a snapshot's quotes belong to, and whether they were taken at its close, during it or before it."""
    day, minutes = moment.date(), moment.hour * 60 + moment.minute
    if is_session(day) and minutes < 16 * 60:
        return day, ("overnight" if minutes < 9 * 60 + 30 else "intraday")
    while not is_session(day):
        day -= dt.timedelta(days=1)
    return day, "close"


def _stated_level(line: str) -> float:
    fields = next(csv.reader([line]))
    match = re.search(r"-?\d+(?:\.\d+)?", fields[1])
    if match is None:
        raise ValueError(f"no index level in {line[:60]!r}")
    return float(match.group())


_CBOE_NAMES = {"CBid": "Bid", "CAsk": "Ask", "PBid": "Bid", "PAsk": "Ask", "Open Interest": "Open Int",
               "Volume": "Vol"}


def _read_cboe(lines: list[str]) -> pd.DataFrame:
    first = [i for i, line in enumerate(lines) if line.strip()][:3]
    spot = _stated_level(lines[first[0]])
    quote_date, snapshot = session_of(capture_time(lines[first[1]]))
    header = [_CBOE_NAMES.get(h.strip(), h.strip()) for h in next(csv.reader([lines[first[2]]]))]
    split = header.index("Puts")
    calls, puts = header[:split], header[split:]
    rows: dict[str, list[object]] = {c: [] for c in CHAIN_COLUMNS}
    for line in csv.reader(lines[first[2] + 1:]):
        if not any(field.strip() for field in line):
            continue
        cells = dict(zip(calls, line[:split], strict=False))
        put_cells = dict(zip(puts, line[split:], strict=False))
        for right, side, name in (("C", cells, cells.get("Calls", "")), ("P", put_cells, put_cells.get("Puts", ""))):
            root, expiry, strike = _cboe_contract(cells, name)
            values = [quote_date, snapshot, root, expiry, right, strike, side["Bid"], side["Ask"],
                      side.get("IV", np.nan), side.get("Delta", np.nan), spot]
            for column, value in zip(CHAIN_COLUMNS, values, strict=True):
                rows[column].append(value)
    return _frame(rows)


def _cboe_contract(cells: dict[str, str], name: str) -> tuple[str, dt.date, str]:
    """(root, expiry, strike) from the OCC symbol (`SPXW220207P02400000`) or the old `18 Dec 1325.00 (SPX1821L1325)`."""
    name = name.strip()
    occ = re.fullmatch(r"([A-Z]+)(\d{6})([CP])(\d{8})", name)
    if occ:
        return occ.group(1), dt.datetime.strptime(occ.group(2), "%y%m%d").date(), str(int(occ.group(4)) / 1000)
    old = _OLD_CBOE_TICKER.search(name)
    if old is None:
        raise ValueError(f"unrecognised option symbol {name!r}")
    month = (ord(old.group(4)) - ord("A")) % 12 + 1
    strike = name.split("(")[0].split()[-1]
    return old.group(1), dt.date(2000 + int(old.group(2)), month, int(old.group(3))), strike


def parity_forwards(chain: pd.DataFrame, rates: Mapping[dt.date, float] | pd.Series) -> pd.DataFrame:
    """The forward each (quote date, expiry, settlement) implies by put-call parity, F = K + (C - P) / D, from the
    two-sided call and put mids of the strikes nearest the money (median of the five with the smallest |C - P|).
    `rates` maps quote date to the continuous rate used for the discount D = exp(-r T)."""
    two_sided = chain[(chain["bid"] > 0) & (chain["ask"] >= chain["bid"])].copy()
    two_sided["mid"] = (two_sided["bid"] + two_sided["ask"]) / 2
    two_sided["am"] = ~two_sided["root"].isin(PM_ROOTS)
    keys = ["quote_date", "expiry", "am", "strike"]
    pairs = two_sided.pivot_table(index=keys, columns="right", values="mid", aggfunc="mean").dropna().reset_index()
    pairs = pairs[[e > q for e, q in zip(pairs["expiry"], pairs["quote_date"], strict=True)]]
    days = np.array([(e - q).days for e, q in zip(pairs["expiry"], pairs["quote_date"], strict=True)], dtype=float)
    discount = np.exp(-pairs["quote_date"].map(rates).to_numpy(float) * days / 365.0)
    pairs["forward"] = pairs["strike"] + (pairs["C"] - pairs["P"]) / discount
    pairs["gap"] = (pairs["C"] - pairs["P"]).abs()
    nearest = pairs.sort_values("gap").groupby(["quote_date", "expiry", "am"]).head(5)
    return nearest.groupby(["quote_date", "expiry", "am"])["forward"].median().reset_index()


REAL_CHAINS = Path(__file__).parent / "raw" / "real_chains"
SHIPPED_CHAINS = (Path(__file__).parent / "raw" / "SPX_2018.csv.gz", *sorted(REAL_CHAINS.glob("*.gz")))


def read_chains(paths: tuple[Path, ...] = SHIPPED_CHAINS) -> pd.DataFrame:
    """Every quote of several files, in CHAIN_COLUMNS plus `file` (the name it came from)."""
    frames = [read_chain(path).assign(file=path.name) for path in paths]
    return pd.concat(frames, ignore_index=True)
