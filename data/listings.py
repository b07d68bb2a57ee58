"""Which SPX expirations were listed on a day, by era, and the root each traded under.

The dates come from Cboe's product notices (the launches of Weeklys, end-of-month, quarterly and daily series)
and from the real chains in data/raw/real_chains (what a chain of that day actually lists). Where a date or a horizon is uncertain the table
takes the later start and the shorter horizon: a backtest may then miss a contract that existed, never trade one
that did not.

- monthly: the third Friday (the Thursday before a holiday); SPX, AM-settled. Listed by cycle: the next 4
  monthly expirations (the chains of 2008-11 and 2011-01), 6 from 2019-05-13 (the chains of 2019 and 2020), 12
  from 2022-02-04 (those of 2022-2024 list 13-14), and the quarterly months (March, June, September, December)
  12 months ahead; the long-dated June and December series beyond that are not modelled.
- AM Weeklys: the other Fridays, 2005-11-04 .. 2010-12-03; listed 7 days ahead (the 2008 chains: the Friday
  before); roots JXA, JXB, JXD, JXE by week of the month, AM-settled.
- PM Friday weeklys: the other Fridays from 2010-12-10; 8 days ahead, 5 weeks from 2012-05, 6 from 2014-01; SPXW.
- quarterly: the last session of Mar, Jun, Sep, Dec; from 2008 (launched in 2007, month unsourced: the first chain
  with them is 2008-11), 12 months ahead; SPXQ to 2014-06-30, then SPXW.
- end of month: the last session of every month; from 2014-07-07 (first 2014-07-31), 3 months ahead (the chains
  of 2019-2024 list 6); SPXW.
- Wednesday, Monday: from 2016-02-23 and 2016-08-15, 4 weeks ahead (the chains list 4-5); a holiday moves a
  Monday to Tuesday; SPXW.
- Tuesday, Thursday: from 2022-04-18 and 2022-05-11, 2 weeks ahead (the 2022 chains), 4 from 2023-05 (the 2023
  and 2024 chains); SPXW.

An expiration that falls on a holiday moves to the session before it (a Monday one to the session after). The
monthlies were dated on the Saturday after the third Friday until 2015-02-15 (DOMAIN 1.4): their tickers carry that
Saturday, as the exchange printed them.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from data.calendar import CALENDAR_START, friday_expiry, is_session, last_calendar_day, third_friday

FIRST_AM_WEEKLY = dt.date(2005, 11, 4)
LAST_AM_WEEKLY = dt.date(2010, 12, 3)
FIRST_PM_WEEKLY = dt.date(2010, 12, 10)
LAST_SPXQ = dt.date(2014, 6, 30)  # SPXQ was renamed SPXW on 2014-07-03
SATURDAY_DATED_UNTIL = dt.date(2015, 2, 15)
# the 2022 chains list Tuesdays and Thursdays 2 weeks out, those of 2023 and 2024 4-5 weeks out
TUE_THU_HORIZONS = ((CALENDAR_START, 14), (dt.date(2023, 5, 1), 28))
AM_ROOTS = frozenset({"SPX", "JXA", "JXB", "JXD", "JXE"})


@dataclass(frozen=True)
class Series:
    name: str
    first_listed: dt.date
    horizons: tuple[tuple[dt.date, int], ...]  # (from this trade date, listed this many days ahead)
    first_expiry: dt.date = CALENDAR_START
    last_expiry: dt.date = dt.date.max

    def horizon(self, as_of: dt.date) -> int:
        return [days for start, days in self.horizons if start <= as_of][-1]


def _month_ends(first: dt.date, last: dt.date, months: tuple[int, ...]) -> list[dt.date]:
    found = []
    year, month = first.year, first.month
    while dt.date(year, month, 1) <= last:
        day = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        if month in months and day <= last:
            while not is_session(day):
                day -= dt.timedelta(days=1)
            found.append(day)
        year, month = year + month // 12, month % 12 + 1
    return found


def _weekdays(first: dt.date, last: dt.date, weekday: int) -> list[dt.date]:
    """Every `weekday` expiration; a holiday moves a Monday to the next session, any other to the one before."""
    day = first + dt.timedelta(days=(weekday - first.weekday()) % 7)
    found = []
    while day <= last - dt.timedelta(days=7):  # room for a holiday's move inside the calendar
        moved = day
        while not is_session(moved):
            moved += dt.timedelta(days=1) if weekday == 0 else -dt.timedelta(days=1)
        found.append(moved)
        day += dt.timedelta(days=7)
    return found


def _fridays(first: dt.date, last: dt.date, monthly: bool) -> list[dt.date]:
    """Third Fridays (monthly) or the other Fridays, each moved to Thursday when its Friday is a holiday."""
    friday = first + dt.timedelta(days=(4 - first.weekday()) % 7)
    found = []
    while friday <= last:
        if (friday == third_friday(friday.year, friday.month)) == monthly:
            found.append(friday_expiry(friday))
        friday += dt.timedelta(days=7)
    return found


MONTHLY = Series("monthly", CALENDAR_START, ((CALENDAR_START, 366),))  # the quarterly months' reach
# (from this trade date, the next this many monthly expirations are listed, whatever their month)
MONTHS_LISTED = ((CALENDAR_START, 4), (dt.date(2019, 5, 13), 6), (dt.date(2022, 2, 4), 12))
SERIES = (
    MONTHLY,
    Series("AM weekly", dt.date(2005, 10, 28), ((CALENDAR_START, 7),), FIRST_AM_WEEKLY, LAST_AM_WEEKLY),
    Series("PM weekly", dt.date(2010, 12, 2),
           ((CALENDAR_START, 8), (dt.date(2012, 5, 1), 35), (dt.date(2014, 1, 1), 42)), FIRST_PM_WEEKLY),
    Series("quarterly", dt.date(2008, 1, 2), ((CALENDAR_START, 366),), dt.date(2008, 3, 31)),
    Series("end of month", dt.date(2014, 7, 7), ((CALENDAR_START, 92),), dt.date(2014, 7, 31)),
    Series("Wednesday", dt.date(2016, 2, 23), ((CALENDAR_START, 28),), dt.date(2016, 2, 24)),
    Series("Monday", dt.date(2016, 8, 15), ((CALENDAR_START, 28),), dt.date(2016, 8, 15)),
    Series("Tuesday", dt.date(2022, 4, 18), TUE_THU_HORIZONS, dt.date(2022, 4, 19)),
    Series("Thursday", dt.date(2022, 5, 11), TUE_THU_HORIZONS, dt.date(2022, 5, 12)),
)


def expirations(name: str) -> tuple[dt.date, ...]:
    """Every expiration of one series, to the end of the calendar."""
    return _expirations(name, last_calendar_day())


@lru_cache(maxsize=None)
def _expirations(name: str, calendar_end: dt.date) -> tuple[dt.date, ...]:
    series = next(s for s in SERIES if s.name == name)
    first, last = series.first_expiry, min(series.last_expiry, calendar_end)
    dates = {
        "monthly": lambda: _fridays(first, last, monthly=True),
        "AM weekly": lambda: _fridays(first, last, monthly=False),
        "PM weekly": lambda: _fridays(first, last, monthly=False),
        "quarterly": lambda: _month_ends(first, last, (3, 6, 9, 12)),
        "end of month": lambda: _month_ends(first, last, tuple(range(1, 13))),
        "Wednesday": lambda: _weekdays(first, last, 2),
        "Monday": lambda: _weekdays(first, last, 0),
        "Tuesday": lambda: _weekdays(first, last, 1),
        "Thursday": lambda: _weekdays(first, last, 3),
    }[name]()
    return tuple(sorted(d for d in set(dates) if first <= d <= last))


def listed_expirations(as_of: dt.date, until: dt.date, monthly_only: bool) -> tuple[dt.date, ...]:
    """The expirations listed on `as_of`, after it and up to `until`: each series from its first listing day,
    as far ahead as it was listed then."""
    return _listed(as_of, until, monthly_only, last_calendar_day())


@lru_cache(maxsize=65536)  # every combination of a grid with the same DTE asks the same question each day
def _listed(as_of: dt.date, until: dt.date, monthly_only: bool, calendar_end: dt.date) -> tuple[dt.date, ...]:
    found: set[dt.date] = set()
    for series in SERIES[:1] if monthly_only else SERIES:
        if as_of < series.first_listed:
            continue
        dates = expirations(series.name)
        reach = min(until, as_of + dt.timedelta(days=series.horizon(as_of)))
        listed = dates[bisect_right(dates, as_of):bisect_right(dates, reach)]
        found.update(_monthly_cycle(as_of, listed) if series is MONTHLY else listed)
    return tuple(sorted(found))


def _monthly_cycle(as_of: dt.date, ahead: tuple[dt.date, ...]) -> list[dt.date]:
    """Of the monthly expirations within the year ahead (in order), those the cycle lists on `as_of`: the next
    few, then the quarterly months."""
    near = [count for start, count in MONTHS_LISTED if start <= as_of][-1]
    return [day for n, day in enumerate(ahead) if n < near or day.month % 3 == 0]


def is_monthly(expiry: dt.date) -> bool:
    """A standard (AM-settled) monthly: the third Friday, or the Thursday before a holiday third Friday."""
    return expiry == friday_expiry(third_friday(expiry.year, expiry.month))


@lru_cache(maxsize=None)  # asked for every trade a grid stores
def root_for_expiry(expiry: dt.date) -> str:
    """The root of the put a backtest sells on that expiration: the AM-settled monthly SPX on a monthly date,
    SPXQ on a quarter end from 2008 to mid-2014, an AM Weekly (JXA..JXE) on another Friday before 2010-12-10, else
    SPXW (PM-settled)."""
    if is_monthly(expiry):
        return "SPX"
    if expiry <= LAST_SPXQ and expiry in expirations("quarterly"):
        return "SPXQ"  # listed a year ahead: whenever a weekly of that day was listed, so was it
    friday = expiry + dt.timedelta(days=(4 - expiry.weekday()) % 7)  # a holiday Friday's series expires Thursday
    if FIRST_AM_WEEKLY <= expiry <= LAST_AM_WEEKLY and friday_expiry(friday) == expiry:
        return "JX" + "ABCDE"[(friday.day - 1) // 7]
    return "SPXW"


def ticker_date(root: str, expiry: dt.date) -> dt.date:
    """The expiration date an OCC ticker carries: the Saturday after the third Friday for monthlies until 2015."""
    if (root == "SPX" or root == "XSP" and is_monthly(expiry)) and expiry < SATURDAY_DATED_UNTIL:
        return third_friday(expiry.year, expiry.month) + dt.timedelta(days=1)
    return expiry
