"""The S&P 500's dividend yield by year, for the forward in the option-price estimate.

Each value is the index's trailing twelve-month dividend over its level in January of that year, as a
continuous-enough annual fraction (the difference is below a basis point at these levels):
- 1990-2015 from Robert Shiller's monthly S&P 500 data (the `Dividend` and `SP500` columns of the January rows,
  as republished in the datasets/s-and-p-500 repository, data/data.csv);
- 2016-2026 from S&P Dow Jones Indices' published dividends per index share of the previous year over the
  index's January level, rounded to 0.05 point (no raw file is vendored for these: check them against a current
  source before relying on a basis point).
Between years the yield moved by at most 1.2 points (2008-2009); within a year a put of 14-70 days sees a
forward error below 0.2% from it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

YIELD_BY_YEAR = {
    1990: 0.0328, 1991: 0.0372, 1992: 0.0294, 1993: 0.0285, 1994: 0.0267, 1995: 0.0283, 1996: 0.0226,
    1997: 0.0195, 1998: 0.0161, 1999: 0.0130, 2000: 0.0117, 2001: 0.0121, 2002: 0.0138, 2003: 0.0180,
    2004: 0.0155, 2005: 0.0167, 2006: 0.0175, 2007: 0.0176, 2008: 0.0202, 2009: 0.0324, 2010: 0.0198,
    2011: 0.0179, 2012: 0.0206, 2013: 0.0213, 2014: 0.0194, 2015: 0.0197, 2016: 0.0225, 2017: 0.0200,
    2018: 0.0175, 2019: 0.0205, 2020: 0.0180, 2021: 0.0155, 2022: 0.0130, 2023: 0.0170, 2024: 0.0145,
    2025: 0.0125, 2026: 0.0115,
}
_FIRST, _LAST = min(YIELD_BY_YEAR), max(YIELD_BY_YEAR)
_TABLE = tuple(YIELD_BY_YEAR[y] for y in range(_FIRST, _LAST + 1))


def dividend_yield(day: dt.date) -> float:
    """The yield of the day's year (the first or last year's outside the table)."""
    return float(_TABLE[min(max(day.year, _FIRST), _LAST) - _FIRST])


def dividend_yields(years: np.ndarray) -> np.ndarray:
    """dividend_yield for an array of calendar years."""
    import numpy as np

    table: np.ndarray = np.asarray(_TABLE, dtype=float)
    return np.asarray(table[np.clip(years, _FIRST, _LAST) - _FIRST], dtype=float)
