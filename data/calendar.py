"""NYSE sessions and the SPX expiration calendar.

The sessions come from a small shipped file of the weekdays the NYSE is closed (data/history/nyse_closures.txt,
written by `python -m data.calendar` from exchange_calendars, and checked against it by the tests), so that no
command pays exchange_calendars' import; past the file's end, exchange_calendars itself is asked."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from data.errors import BadInput

CALENDAR_START = dt.date(1990, 1, 1)
CLOSURES_FILE = Path(__file__).parent / "history" / "nyse_closures.txt"


class CalendarError(BadInput):
    """A date outside the exchange calendar (it reaches about a year ahead)."""


@dataclass(frozen=True)
class Closures:
    """The NYSE calendar as the weekdays it was (or will be) closed, from CALENDAR_START to `end`."""

    end: dt.date
    days: frozenset[dt.date]


def read_closures(path: Path = CLOSURES_FILE) -> Closures:
    """The shipped calendar: a first line `end YYYY-MM-DD`, then one closed weekday a line."""
    lines = path.read_text().split()
    return Closures(dt.date.fromisoformat(lines[1]), frozenset(dt.date.fromisoformat(d) for d in lines[2:]))


def xnys_closures(end: dt.date | None = None) -> Closures:
    """The same from exchange_calendars (XNYS; by default to its own end, about a year past today)."""
    import exchange_calendars as xcals  # 0.3 s to import: only to build the shipped file or reach past it

    calendar = xcals.get_calendar("XNYS", start=CALENDAR_START.isoformat())
    last = min(end or calendar.last_session.date(), calendar.last_session.date())
    sessions = {ts.date() for ts in calendar.sessions}
    return Closures(last, frozenset(d for d in _weekdays(CALENDAR_START, last) if d not in sessions))


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    first = start.toordinal()
    return [d for d in map(dt.date.fromordinal, range(first, end.toordinal() + 1)) if d.weekday() < 5]


_calendar: list[Closures] = []  # the calendar in use: the shipped one unless reach_until went past it


def _closures() -> Closures:
    if not _calendar:
        _calendar.append(read_closures())
    return _calendar[-1]


def reach_until(day: dt.date) -> None:
    """Make the calendar cover `day` if it can: past the shipped file, exchange_calendars is asked (once). The
    command line calls this with the furthest day it may need (today plus the listing horizon)."""
    if day > _closures().end:
        _calendar.append(xnys_closures())
        _sessions.cache_clear()  # data/listings.py keys its caches by last_calendar_day()


def last_calendar_day() -> dt.date:
    return _closures().end


@lru_cache(maxsize=1)
def _sessions() -> tuple[dt.date, ...]:
    closures = _closures()
    return tuple(d for d in _weekdays(CALENDAR_START, closures.end) if d not in closures.days)


def is_session(day: dt.date) -> bool:
    if day > last_calendar_day():
        raise CalendarError(f"{day} is beyond the NYSE calendar ({last_calendar_day()})")
    return day.weekday() < 5 and day not in _closures().days


def nyse_sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """The NYSE sessions from start to end (inclusive), within the calendar."""
    sessions = _sessions()
    return list(sessions[bisect_left(sessions, start):bisect_right(sessions, end)])


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def friday_expiry(friday: dt.date) -> dt.date:
    """The expiration of a Friday series: the Friday, or the session before it when the exchange is closed."""
    day = friday
    while not is_session(day):
        day -= dt.timedelta(days=1)
    return day


def main() -> int:
    """Write the shipped calendar from exchange_calendars: python -m data.calendar"""
    closures = xnys_closures()
    CLOSURES_FILE.write_text(f"end {closures.end}\n" + "".join(f"{d}\n" for d in sorted(closures.days)))
    print(f"wrote {CLOSURES_FILE}: {len(closures.days)} closed weekdays, {CALENDAR_START} .. {closures.end}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
