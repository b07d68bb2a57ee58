"""The local market history past the bundled file: `spx-wheel update` stores the sessions the free daily files
add, and every command on the embedded source reads the bundled file followed by them."""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from data.calendar import last_calendar_day, nyse_sessions
from data.errors import DataError
from data.market import History, load_bundled
from db.models import MarketUpdate

if TYPE_CHECKING:
    from data.free_daily import DailyFiles

AGREEMENT = 0.0005  # the files' SPX close on the bundled last day must agree with the bundled close to 5 bp


@dataclass(frozen=True)
class UpdateReport:
    first: dt.date | None  # the first session stored (None: nothing past the bundled file yet)
    last: dt.date  # the last session of the local history
    sessions: int  # sessions stored past the bundled file
    stopped: str  # why the history ends where it does


def stored_history(session: Session) -> History:
    """The bundled history followed by the stored updates."""
    rows = session.execute(select(MarketUpdate.day, MarketUpdate.spx_close_cents, MarketUpdate.vix,
                                  MarketUpdate.vix3m, MarketUpdate.rate).order_by(MarketUpdate.day)).all()
    return load_bundled().extended([r[0] for r in rows], [r[1] / 100 for r in rows], [r[2] for r in rows],
                                   [math.nan if r[3] is None else r[3] for r in rows], [r[4] for r in rows])


def updated_until(session: Session) -> dt.date:
    last: dt.date | None = session.scalar(select(func.max(MarketUpdate.day)))
    return last or load_bundled().dates[-1]


def _latest(series: dict[dt.date, float], keys: list[dt.date], day: dt.date) -> float | None:
    position = bisect_right(keys, day)
    return series[keys[position - 1]] if position else None


def update_history(session: Session, files: DailyFiles, now: dt.datetime) -> UpdateReport:
    """Replace the stored updates with every session after the bundled file that the files give an SPX and a VIX
    close for, in order, stopping at the first session without them (its close is not published yet)."""
    bundled = load_bundled()
    anchor = bundled.dates[-1]
    if anchor in files.spx and abs(files.spx[anchor] / bundled.spx_close[-1] - 1) > AGREEMENT:
        raise DataError(f"Cboe's SPX close of {anchor} ({files.spx[anchor]:.2f}) disagrees with the bundled history "
                        f"({bundled.spx_close[-1]:.2f}): nothing stored")
    newest = min(max(files.spx, default=anchor), now.date())  # a session dated after today is not a close yet
    sessions = nyse_sessions(anchor + dt.timedelta(days=1), min(newest, last_calendar_day())) if newest > anchor else []
    rate_days = sorted(files.rate)
    rows: list[dict[str, object]] = []
    stored: list[dt.date] = []
    stopped = f"the files end on {newest}"
    for day in sessions:
        rate = _latest(files.rate, rate_days, day)
        if day not in files.spx or day not in files.vix or rate is None:
            missing = "SPX" if day not in files.spx else "VIX" if day not in files.vix else "T-bill"
            stopped = f"no {missing} close for {day} yet"
            break
        rows.append({"day": day, "spx_close_cents": round(files.spx[day] * 100), "vix": files.vix[day],
                     "vix3m": files.vix3m.get(day), "rate": round(rate, 6), "fetched_at": now})
        stored.append(day)
    session.execute(delete(MarketUpdate))
    if rows:
        session.execute(insert(MarketUpdate), rows)
    return UpdateReport(stored[0] if stored else None, stored[-1] if stored else anchor, len(stored), stopped)
