"""Real SPX (and XSP) option chains as their vendors publish them, read into one table.

Each layout is recognised from its header lines, never from the file name: the Cboe delayed-quotes download (every
layout it has had since 2017: the old `SPX1821L1325` rows, the 2019 `^SPX` header, the 2022+ `Last:` header with
English or Spanish dates, with or without IV and greeks), DeltaNeutral / historicaloptiondata "L2" end-of-day files,
iVolatility "RawIV" files, OptionsDX end-of-day files (bracketed headers, a call and a put on each line), Cboe
DataShop "Option EOD Summary" files (with or without Calcs) and Polygon flat-file option day aggregates. Every reader
returns the same columns (CHAIN_COLUMNS), one row per option:

- `quote_date` the session the quotes belong to; `snapshot` says when they were taken: `close` (after the close or on
  a later non-session day), `intraday` (09:30-16:00 ET) or `overnight` (before 09:30: Cboe's global trading hours).
  For intraday and overnight snapshots the stated index level is not the options' underlying: price them off the
  put-call-parity forward (`parity_forwards`).
- `expiry` the last session of the option: vendors that date AM monthlies on the Saturday after the third Friday
  (all expirations before 2015-02-15) are moved to the Friday, when the settlement value is set.
- `root` as printed (SPX, SPXW, SPXPM, JXA, SPQ..., XSP; OptionsDX prints none: the root listed for the expiration),
  `right` "P" or "C", `strike`, `bid`, `ask` (0 or NaN: no bid, no offer), the vendor's `iv` and `delta` (NaN where
  the file has none), `last` (the day's last trade where the file says it traded that day, else NaN) and the `spot`
  the file states.

A file is read whole or not at all: a row that fails the sanity checks (a price below zero, an ask below the bid,
a strike off the grid: 5 points for SPX, half a point for XSP) is reported with its file and line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import stat
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.calendar import is_session
from data.errors import BadInput
from data.plausible import DELTA, IMPLIED_VOL, INDEX_LEVEL, OPTION_PRICE, FIRST_QUOTE_DAY
from data.locale_dates import UnreadableDate, written_moment, written_time

CHAIN_COLUMNS = ["quote_date", "snapshot", "root", "expiry", "right", "strike", "bid", "ask", "iv", "delta", "last",
                 "spot"]
STRIKE_GRID = 5.0  # every SPX strike of every era is a multiple of five points
XSP_STRIKE_GRID = 0.5  # XSP: dollars, and half-dollars on weeklies
# DeltaNeutral's roots of the PM-settled quarterlies (SPXQ's strike ranges, expiring on quarter ends: the 2008-11
# file lists them for 2008-12-31 .. 2009-09-30)
QUARTERLY_ROOTS = frozenset({"QSE", "QSZ", "QZQ", "SAQ", "SKQ", "SLQ", "SQP", "SZQ"})
# every other root of the eras covered settles at the open
PM_ROOTS = frozenset({"SPXW", "SPXPM", "SPXQ", "XSP"}) | QUARTERLY_ROOTS

_OLD_CBOE_TICKER = re.compile(r"\(([A-Z]+?)(\d{2})(\d{2})([A-X])\d+")  # (SPX1821L1325): year 18, day 21, L = Dec call


MAX_FILE_BYTES = 4 << 30  # a file as stored (a year of OptionsDX quotes is about 2 GB as text)
MAX_TEXT_BYTES = 8 << 30  # and decompressed: a gzip bomb stops here
READ_ERRORS = (ValueError, KeyError, IndexError, TypeError, AttributeError, OverflowError, csv.Error)


class LayoutError(ValueError):
    """A reader's own finding, worded without the file's text."""


def _reason(exc: BaseException) -> str:
    """Why a file did not read, in words that never repeat its content (a library's message may quote it)."""
    if isinstance(exc, (LayoutError, UnreadableDate)):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"no column {exc}"  # the name the reader asked for
    if isinstance(exc, csv.Error):
        return "a field past the size limit or an unclosed quote"
    return "a date, number or symbol that does not parse as the layout's"


def read_chain(path: Path) -> pd.DataFrame:
    """Every option quote of one file, in CHAIN_COLUMNS; BadInput naming the file when no layout matches."""
    return load_chain(path)[1]


def load_chain(path: Path, quote_date: dt.date | None = None, today: dt.date | None = None,
               ) -> tuple[str, pd.DataFrame]:
    """(the layout's name, every option quote of the file in CHAIN_COLUMNS), as parse_chain reads it."""
    return parse_chain(file_bytes(path), shown_path(path), quote_date, today)


def parse_chain(data: bytes, name: str, quote_date: dt.date | None = None, today: dt.date | None = None,
                ) -> tuple[str, pd.DataFrame]:
    """(the layout's name, every option quote of a file's bytes in CHAIN_COLUMNS). `quote_date`: the day the user
    says the file's quotes are of, for a Cboe download whose date line cannot be read; a file dated otherwise is
    refused. `today`: no quote may be dated after it. Every refusal is one line naming the file `name` (and the
    line), never quoting its content."""
    try:
        text = (_gunzip(data, name) if data[:2] == b"\x1f\x8b" else data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"{name}: not a text file (nor gzip-compressed text)") from None
    head = text[:8192].splitlines()
    found = _reader_for(head)
    if found is None:
        raise BadInput(f"{name}: not a chain layout spx-wheel reads (OptionsDX, Cboe DataShop, DeltaNeutral, "
                       "iVolatility, the Cboe quotes page, Polygon flat files)")
    try:
        chain = _read_cboe(text, quote_date) if found[1] is _read_cboe else found[1](text)
    except READ_ERRORS as exc:
        hint = ": give the day with --quote-date" if found[1] is _read_cboe and quote_date is None else ""
        raise BadInput(f"{name}: malformed, read as {found[0]} ({_reason(exc)}){hint}") from None
    if chain.empty:
        raise BadInput(f"{name}: no SPX or XSP option in it, read as {found[0]}")
    check_rows(chain, name, today)
    chain = chain[~(chain["expiry"] < chain["quote_date"])]  # expired, never tradable: Cboe's page shows Friday's
    if chain.empty:                                        # series until Monday's open
        raise BadInput(f"{name}: only expired options in it, read as {found[0]}")
    dated = sorted(set(chain["quote_date"]))
    if quote_date is not None and dated != [quote_date]:
        raise BadInput(f"{name}: its quotes are of {', '.join(map(str, dated[:3]))}, not --quote-date {quote_date}")
    return found[0], chain[CHAIN_COLUMNS].reset_index(drop=True)


def file_bytes(path: Path) -> bytes:
    """A chain file's bytes: a regular file only (a FIFO, a device or a folder is refused without waiting on it),
    at most MAX_FILE_BYTES."""
    name = shown_path(path)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise BadInput(f"{name}: cannot read it ({exc.strerror or 'error'})") from None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise BadInput(f"{name}: not a regular file")
        with os.fdopen(handle, "rb", closefd=False) as raw:
            data = raw.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"{name}: cannot read it ({exc.strerror or 'error'})") from None
    finally:
        os.close(handle)
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"{name}: larger than {MAX_FILE_BYTES >> 20:,} MB")
    return data


def _gunzip(data: bytes, name: str) -> bytes:
    """Every gzip member of `data`, decompressed, refused past MAX_TEXT_BYTES before it is held."""
    parts, size, rest = [], 0, data
    try:
        while rest:
            member = zlib.decompressobj(wbits=31)
            while True:
                part = member.decompress(rest, MAX_TEXT_BYTES + 1 - size)
                parts.append(part)
                size += len(part)
                if size > MAX_TEXT_BYTES:
                    raise BadInput(f"{name}: decompresses to more than {MAX_TEXT_BYTES >> 20:,} MB")
                rest = member.unconsumed_tail
                if member.eof or not rest:
                    break
            if not member.eof:
                raise BadInput(f"{name}: a truncated gzip file")
            rest = member.unused_data.lstrip(b"\0")
    except zlib.error:
        raise BadInput(f"{name}: a broken gzip file") from None
    return b"".join(parts)


def shown_path(path: Path) -> str:
    """A path as an error shows it: on one line, control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


def _reader_for(lines: list[str]) -> tuple[str, Callable[[str], pd.DataFrame]] | None:
    first = [line for line in lines[:5] if line.strip()]
    if not first:
        return None
    head = first[0].replace(" ", "").lower()
    if head.startswith("underlying,underlying_last,exchange,optionroot"):
        return "DeltaNeutral L2", _read_deltaneutral
    if head.startswith("symbol,exchange,company_name,date,stock_price_close,option_symbol"):
        return "iVolatility RawIV", _read_ivolatility
    if head.startswith("[quote_unixtime],[quote_readtime],[quote_date]"):
        return "OptionsDX EOD", _read_optionsdx
    if head.startswith("underlying_symbol,quote_date,root,expiration,strike,option_type"):
        return "Cboe DataShop EOD", _read_datashop
    if head.startswith("ticker,volume,open,close,high,low,window_start"):
        return "Polygon flat file", _read_polygon_flat
    if "index" in head and len(first) >= 3 and ("@" in first[1] or first[1].startswith(("Date:", '"Date:'))):
        return "Cboe delayed quotes", _read_cboe
    return None


def _frame(rows: Mapping[str, object]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if "last" not in frame:
        frame["last"] = np.nan
    for column in ("strike", "bid", "ask", "iv", "delta", "last", "spot"):
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype(float)
    return frame


def _csv(text: str, **options: object) -> pd.DataFrame:
    """A CSV layout read by pandas with each row's line number in the file (`line`); blank lines dropped."""
    raw = pd.read_csv(io.StringIO(text), skip_blank_lines=False, skipinitialspace=True,
                      **options)  # type: ignore[call-overload]
    raw.columns = [str(c).strip() for c in raw.columns]
    raw["line"] = np.arange(len(raw)) + 2
    kept: pd.DataFrame = raw.dropna(how="all", subset=[c for c in raw.columns if c != "line"])
    return kept


ROOT = re.compile(r"[A-Z]{1,6}")  # SPX, SPXW, SPXPM, JXA, QSE...
ROW_KEY = ["quote_date", "snapshot", "root", "expiry", "right", "strike"]


def _sanity(today: dt.date | None) -> list[tuple[Callable[[pd.DataFrame], Any], str]]:
    """(which rows fail, what to say of the first): every row of every file is checked before anything is
    stored. The texts name numbers the checks parsed, never the file's own text."""
    last_day = today or dt.date.max
    return [
        (lambda c: ~c["root"].map(lambda r: isinstance(r, str) and ROOT.fullmatch(r) is not None),
         "a root that is not 1 to 6 capital letters"),
        (lambda c: ~c["right"].isin(["C", "P"]), "neither a call nor a put"),
        (lambda c: INDEX_LEVEL.failing(c["strike"]), f"strike {{strike:g}} outside {INDEX_LEVEL.text()}"),
        (lambda c: c["strike"] % np.where(c["root"] == "XSP", XSP_STRIKE_GRID, STRIKE_GRID) != 0,
         "strike {strike:g} is off the {root} grid (SPX 5 points, XSP 0.5)"),
        (lambda c: (c["bid"] < 0) | (c["ask"] < 0) | (c["last"] < 0), "a price below zero (bid {bid:g}, ask {ask:g})"),
        (lambda c: OPTION_PRICE.failing(c["bid"], True) | OPTION_PRICE.failing(c["ask"], True) |
         OPTION_PRICE.failing(c["last"], True),
         f"a price outside {OPTION_PRICE.text()} (bid {{bid:g}}, ask {{ask:g}}, last {{last:g}})"),
        (lambda c: (c["ask"] > 0) & (c["ask"] < c["bid"]), "the ask {ask:g} is below the bid {bid:g}"),
        (lambda c: IMPLIED_VOL.failing(c["iv"], True), f"implied volatility {{iv:g}} outside {IMPLIED_VOL.text()}"),
        (lambda c: DELTA.failing(c["delta"], True), f"delta {{delta:g}} outside {DELTA.text()}"),
        (lambda c: INDEX_LEVEL.failing(c["spot"], True), f"index level {{spot:g}} outside {INDEX_LEVEL.text()}"),
        (lambda c: ~c["quote_date"].map(lambda d: FIRST_QUOTE_DAY <= d <= last_day and is_session(d)),
         f"quote date {{quote_date}} is not an NYSE session from {FIRST_QUOTE_DAY} to "
         f"{'today' if today else 'now'}"),
        (lambda c: c.duplicated(ROW_KEY, keep=False), "the same option ({root} {expiry} {right} {strike:g}) is "
                                                       "quoted twice that day"),
    ]


def check_rows(chain: pd.DataFrame, where: str, today: dt.date | None = None, unit: str = "line") -> None:
    """BadInput for the first row (by its `line`) that fails a sanity check; nothing is kept from the chain."""
    for failing, template in _sanity(today):
        mask = np.asarray(failing(chain), dtype=bool)
        if mask.any():
            row = chain[mask].iloc[0]
            raise BadInput(f"{where}, {unit} {int(row['line'])}: {template.format(**row)}; nothing imported from it")


def _friday_of(day: dt.date) -> dt.date:
    """AM monthlies were dated on the Saturday after their last trading Friday until 2015-02-15."""
    return day - dt.timedelta(days=1) if day.weekday() == 5 else day


def _dates(values: pd.Series, fmt: str) -> list[dt.date]:
    return [_friday_of(d) for d in pd.to_datetime(values.str.strip(), format=fmt).dt.date]


def _read_deltaneutral(text: str) -> pd.DataFrame:
    raw = _csv(text, dtype={"optionroot": str})
    return _frame({"line": raw["line"],
        "quote_date": _dates(raw["quotedate"], "%m/%d/%Y"), "snapshot": "close",
        "root": raw["optionroot"].str.strip().str[:-15], "expiry": _dates(raw["expiration"], "%m/%d/%Y"),
        "right": raw["type"].str.strip().str[0].str.upper(), "strike": raw["strike"], "bid": raw["bid"],
        "ask": raw["ask"], "iv": raw["impliedvol"], "delta": raw["delta"], "spot": raw["underlying_last"]})


def _read_ivolatility(text: str) -> pd.DataFrame:
    raw = _csv(text, dtype={"option_symbol": str})
    return _frame({"line": raw["line"],
        "quote_date": _dates(raw["date"], "%m/%d/%Y"), "snapshot": "close",
        "root": raw["option_symbol"].str.split().str[0], "expiry": _dates(raw["option_expiration"], "%m/%d/%Y"),
        "right": raw["call/put"].str.strip().str.upper(), "strike": raw["strike"], "bid": raw["bid"],
        "ask": raw["ask"], "iv": raw["iv"].where(raw["iv"] != -1),  # -1: no IV computed
        "delta": raw["delta"], "spot": raw["stock_price_close"]})


def _iso_or_us_dates(values: pd.Series) -> list[dt.date]:
    """Dates as 2023-01-03 or 01/03/2023 (vendors' files of different years use either)."""
    text = values.astype(str).str.strip()
    fmt = "%Y-%m-%d" if text.str[4:5].eq("-").all() else "%m/%d/%Y"
    return [_friday_of(d) for d in pd.to_datetime(text, format=fmt).dt.date]


def _by_value(values: pd.Series, convert: Callable[[Any], object]) -> pd.Series:
    """`convert` applied once per distinct value (dates repeat on every line of a chain)."""
    return values.map({v: convert(v) for v in values.unique()})


def _read_optionsdx(text: str) -> pd.DataFrame:
    """OptionsDX: `[QUOTE_DATE], [QUOTE_TIME_HOURS], ..., [C_BID], [C_ASK], [STRIKE], [P_BID], [P_ASK], ...` with a
    call and a put on each line, and no option root: the root listed for the expiration is taken."""
    from data.listings import root_for_expiry

    raw = _csv(text)
    raw.columns = [c.strip("[]") for c in raw.columns[:-1]] + ["line"]
    quote_date = _by_value(raw["QUOTE_DATE"], lambda v: _iso_or_us_dates(pd.Series([v]))[0])
    hours = raw["QUOTE_TIME_HOURS"].astype(float)
    moments = quote_date.map(lambda d: dt.datetime(d.year, d.month, d.day)) + pd.to_timedelta(hours, unit="h")
    sessions = _by_value(moments, lambda m: session_of(pd.Timestamp(m).to_pydatetime()))
    expiry = _by_value(raw["EXPIRE_DATE"], lambda v: _iso_or_us_dates(pd.Series([v]))[0])
    common = {"line": raw["line"], "quote_date": sessions.str[0], "snapshot": sessions.str[1],
              "root": _by_value(expiry, root_for_expiry), "expiry": expiry, "strike": raw["STRIKE"],
              "spot": raw["UNDERLYING_LAST"]}
    sides = [_frame({**common, "right": right, "bid": raw[f"{right}_BID"].fillna(0.0),
                     "ask": raw[f"{right}_ASK"].fillna(0.0), "iv": raw[f"{right}_IV"], "delta": raw[f"{right}_DELTA"]})
             for right in ("C", "P")]
    return pd.concat(sides, ignore_index=True)


def _read_datashop(text: str) -> pd.DataFrame:
    """Cboe DataShop Option EOD Summary: the end-of-day bid and ask (the 15:45 ones where the EOD pair is empty),
    the 15:45 implied vol and delta of the Calcs edition, the day's close where it traded."""
    raw = _csv(text, dtype={"root": str, "option_type": str})
    eod_missing = raw["bid_eod"].isna() & raw["ask_eod"].isna()
    bid = raw["bid_eod"].where(~eod_missing, raw["bid_1545"]).fillna(0.0)
    ask = raw["ask_eod"].where(~eod_missing, raw["ask_1545"]).fillna(0.0)
    spot = (raw["underlying_bid_eod"] + raw["underlying_ask_eod"]) / 2
    if "active_underlying_price_1545" in raw:
        spot = spot.where(spot > 0, raw["active_underlying_price_1545"])
    traded = raw["trade_volume"].fillna(0) > 0
    return _frame({
        "line": raw["line"], "quote_date": _iso_or_us_dates(raw["quote_date"]), "snapshot": "close",
        "root": raw["root"].str.strip().str.upper(), "expiry": _iso_or_us_dates(raw["expiration"]),
        "right": raw["option_type"].str.strip().str[0].str.upper(), "strike": raw["strike"], "bid": bid, "ask": ask,
        "iv": raw.get("implied_volatility_1545", np.nan), "delta": raw.get("delta_1545", np.nan),
        "last": raw["close"].where(traded), "spot": spot})


_FLAT_TICKER = r"^O:(SPXW|SPXQ|SPXPM|SPX|XSP)(\d{6})([CP])(\d{8})$"


def _read_polygon_flat(text: str) -> pd.DataFrame:
    """Polygon flat-file option day aggregates (every underlying in one file): the SPX and XSP rows, whose close is the
    day's last trade; the files carry no bid, ask or index level."""
    raw = _csv(text, dtype={"ticker": str})
    parts = raw["ticker"].str.extract(_FLAT_TICKER)
    raw, parts = raw[parts[0].notna()], parts[parts[0].notna()]
    stamps = pd.to_datetime(raw["window_start"].astype("int64"), unit="ns", utc=True).dt.tz_convert("America/New_York")
    return _frame({
        "line": raw["line"], "quote_date": list(stamps.dt.date), "snapshot": "close", "root": parts[0],
        "expiry": _iso_or_us_dates(pd.to_datetime(parts[1], format="%y%m%d").dt.strftime("%Y-%m-%d")),
        "right": parts[2], "strike": parts[3].astype("int64") / 1000, "bid": np.nan, "ask": np.nan, "iv": np.nan,
        "delta": np.nan, "last": raw["close"], "spot": np.nan})


def _snapshot_session(line: str, given: dt.date | None) -> tuple[dt.date, str]:
    """The session of a Cboe download's date line, or of the day given where the line's date cannot be read (its
    time of day, where readable, still tells a close from an intraday snapshot; without one, the close)."""
    try:
        return session_of(written_moment(line))
    except ValueError:
        if given is None:
            raise
    try:
        return session_of(dt.datetime.combine(given, written_time(line)))
    except ValueError:
        return given, "close"


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
        raise LayoutError("no index level on the first line")
    return float(match.group())


_CBOE_NAMES = {"CBid": "Bid", "CAsk": "Ask", "PBid": "Bid", "PAsk": "Ask", "Open Interest": "Open Int",
               "Volume": "Vol"}


def _read_cboe(text: str, given: dt.date | None = None) -> pd.DataFrame:
    lines = text.splitlines()
    first = [i for i, line in enumerate(lines) if line.strip()][:3]
    spot = _stated_level(lines[first[0]])
    quote_date, snapshot = _snapshot_session(lines[first[1]], given)
    header = [_CBOE_NAMES.get(h.strip(), h.strip()) for h in next(csv.reader([lines[first[2]]]))]
    split = header.index("Puts")
    calls, puts = header[:split], header[split:]
    columns = [c for c in CHAIN_COLUMNS if c != "last"] + ["line"]
    rows: dict[str, list[object]] = {c: [] for c in columns}
    for number, line in enumerate(csv.reader(lines[first[2] + 1:]), start=first[2] + 2):
        if not any(field.strip() for field in line):
            continue
        cells = dict(zip(calls, line[:split], strict=False))
        put_cells = dict(zip(puts, line[split:], strict=False))
        for right, side, name in (("C", cells, cells.get("Calls", "")), ("P", put_cells, put_cells.get("Puts", ""))):
            root, expiry, strike = _cboe_contract(cells, name)
            values = [quote_date, snapshot, root, expiry, right, strike, side["Bid"], side["Ask"],
                      side.get("IV", np.nan), side.get("Delta", np.nan), spot, number]
            for column, value in zip(columns, values, strict=True):
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
        raise LayoutError("an option symbol of no known form")
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
    pairs = (two_sided.pivot_table(index=keys, columns="right", values="mid", aggfunc="mean")
             .reindex(columns=["C", "P"]).dropna().reset_index())
    if pairs.empty:  # a puts-only file: no pair, no forward
        return pd.DataFrame({"quote_date": [], "expiry": [], "am": pd.Series([], dtype=bool), "forward": []})
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
