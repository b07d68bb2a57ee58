"""Rebuild the bundled daily history (data/history/market.csv.gz) from the vendored raw files in data/raw/.

Run: python -m data.build_history [RAW_DIR]. The output is byte-for-byte reproducible (gzip mtime 0).

Cleaning, per data/raw/SOURCES.md:
- SPX: Yahoo ^GSPC OHLC, 1990-01-02 .. 2026-07-10 (the 2026-07-13 row was captured intraday and is dropped).
  Its dates must equal the NYSE (XNYS) sessions exactly.
- VIX: close only (bad opens in the raw file); rows on NYSE holidays dropped; the four missing sessions
  forward-filled from the previous close.
- VIX3M: close, from 2009-09-18; missing sessions inside its range forward-filled, empty before and after it.
- Rate: FRED DTB3 (two downloads joined), a discount-basis yield, converted to a continuously compounded rate for a
  91-day bill; holidays forward-filled, and held at the last observation after 2026-01-29.
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pandas as pd

from data.calendar import nyse_sessions
from data.free_daily import discount_to_continuous

FIRST_DAY = "1990-01-02"
LAST_DAY = "2026-07-10"
OUTPUT = Path(__file__).parent / "history" / "market.csv.gz"
RAW = Path(__file__).parent / "raw"  # each file gzip-compressed, provenance in SOURCES.md


def _close_series(path: Path, date_col: str, fmt: str | None = None) -> pd.Series:
    frame = pd.read_csv(path)
    dates = pd.to_datetime(frame[date_col], format=fmt)
    return pd.Series(frame["CLOSE"].to_numpy(float), index=dates.dt.date)


def _rates(raw: Path) -> pd.Series:
    old_file = pd.read_csv(raw / "DTB3_1954-2020.csv.gz", na_values=["."])
    new_file = pd.read_csv(raw / "DTB3.csv.gz")
    old = pd.Series(old_file["DTB3"].to_numpy(float), index=pd.to_datetime(old_file["DATE"]).dt.date)
    new = pd.Series(new_file["DTB3"].to_numpy(float), index=pd.to_datetime(new_file["observation_date"]).dt.date)
    both = pd.concat([old[old.index < new.index[0]], new]).dropna()
    rates: pd.Series = both.map(discount_to_continuous)
    return rates


def build_frame(raw: Path) -> pd.DataFrame:
    sessions = nyse_sessions(pd.Timestamp(FIRST_DAY).date(), pd.Timestamp(LAST_DAY).date())
    spx = pd.read_csv(raw / "^GSPC.csv.gz")
    spx.index = pd.to_datetime(spx["Date"]).dt.date
    spx = spx.loc[(spx.index >= sessions[0]) & (spx.index <= sessions[-1])]
    if list(spx.index) != sessions:
        raise ValueError("SPX dates do not match the NYSE sessions")

    vix = _close_series(raw / "vix-daily.csv.gz", "DATE")
    vix3m = _close_series(raw / "VIX3M_History.csv.gz", "DATE", "%m/%d/%Y")
    rate = _rates(raw)

    frame = pd.DataFrame(index=pd.Index(sessions, name="date"))
    frame["spx_open"] = spx["Open"].round(2)
    frame["spx_close"] = spx["Close"].round(2)
    frame["vix"] = vix.reindex(sessions).ffill()
    in_range = (frame.index >= vix3m.index[0]) & (frame.index <= vix3m.index[-1])
    frame["vix3m"] = vix3m.reindex(sessions).ffill().where(in_range)
    all_days = sorted(set(rate.index) | set(sessions))
    frame["rate"] = rate.reindex(all_days).ffill().reindex(sessions).round(6)
    if frame[["spx_open", "spx_close", "vix", "rate"]].isna().any().any():
        raise ValueError("the bundled history has gaps after cleaning")
    return frame


def write(frame: pd.DataFrame, path: Path = OUTPUT) -> None:
    text = frame.to_csv(float_format="%.6g", lineterminator="\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as handle:
        handle.write(text.encode())
    path.write_bytes(buffer.getvalue())


def main(argv: list[str]) -> int:
    raw = Path(argv[0]) if argv else RAW
    frame = build_frame(raw)
    write(frame)
    print(f"wrote {OUTPUT} ({len(frame)} sessions {frame.index[0]} .. {frame.index[-1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
