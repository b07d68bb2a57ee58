"""NYSE sessions and the SPX expiration calendar (pure apart from the cached exchange calendar)."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

from data.errors import BadInput

CALENDAR_START = "1990-01-01"
FIRST_PM_WEEKLY = dt.date(2010, 12, 10)  # the first PM-settled Friday SPXW; earlier weeklys were AM-settled


class CalendarError(BadInput):
    """A date outside the exchange calendar (it reaches about a year ahead)."""


@lru_cache(maxsize=1)
def _xnys() -> xcals.ExchangeCalendar:
    # exchange_calendars starts 20 years back by default: the explicit start covers the whole history.
    return xcals.get_calendar("XNYS", start=CALENDAR_START)


@lru_cache(maxsize=1)
def last_calendar_day() -> dt.date:
    last: dt.date = _xnys().last_session.date()
    return last


@lru_cache(maxsize=1)
def _session_ordinals() -> frozenset[int]:
    return frozenset(ts.toordinal() for ts in _xnys().sessions)


def is_session(day: dt.date) -> bool:
    if day > last_calendar_day():
        raise CalendarError(f"{day} is beyond the NYSE calendar ({last_calendar_day()})")
    return day.toordinal() in _session_ordinals()


def nyse_sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    return [ts.date() for ts in _xnys().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))]


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def is_monthly(expiry: dt.date) -> bool:
    """A standard (AM-settled) monthly: the third Friday, or the Thursday before a holiday third Friday."""
    return expiry == friday_expiry(third_friday(expiry.year, expiry.month))


def friday_expiry(friday: dt.date) -> dt.date:
    """The expiration of a Friday series: the Friday, or the session before it when the exchange is closed."""
    day = friday
    while not is_session(day):
        day -= dt.timedelta(days=1)
    return day


@lru_cache(maxsize=2)
def _friday_expirations(monthly_only: bool) -> tuple[dt.date, ...]:
    """Every expiration the bundled source knows, 1990 to the end of the calendar."""
    friday = dt.date(1990, 1, 5)
    last = last_calendar_day()
    found = []
    while friday <= last:
        weekly_listed = not monthly_only and friday >= FIRST_PM_WEEKLY
        if weekly_listed or friday == third_friday(friday.year, friday.month):
            found.append(friday_expiry(friday))
        friday += dt.timedelta(days=7)
    return tuple(found)


@lru_cache(maxsize=65536)  # every combination of a grid with the same DTE asks the same question each day
def listed_fridays(as_of: dt.date, until: dt.date, monthly_only: bool) -> tuple[dt.date, ...]:
    """Expirations the bundled source lists on `as_of`, after it and up to `until`: third-Friday monthlies
    always, every Friday from FIRST_PM_WEEKLY on, each moved to Thursday when its Friday is a holiday."""
    expirations = _friday_expirations(monthly_only)
    return expirations[bisect_right(expirations, as_of):bisect_right(expirations, until)]
