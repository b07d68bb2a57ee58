"""The bounds every market number must fall in before it is stored, whatever its source (chain files, Cboe's
quotes, the free daily files, Polygon): declared once here, so that a 1e300 bid, an infinite IV or an SPX close of
1e-300 is refused where it enters, in one line, instead of breaking a later command.

The bounds are wide on purpose: they catch what cannot be a price, not what is unusual (SPX has closed between 295
and 7,000 since 1990; VIX between 9 and 83; a put is worth less than its strike)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

FIRST_QUOTE_DAY = dt.date(1985, 1, 1)  # before any SPX option quote a vendor sells


@dataclass(frozen=True)
class Bound:
    """A closed range [low, high] for one kind of number; `positive`: low itself is refused."""

    name: str
    low: float
    high: float
    positive: bool = False

    def holds(self, value: float) -> bool:
        return math.isfinite(value) and (value > self.low if self.positive else value >= self.low) and \
            value <= self.high

    def failing(self, values: np.ndarray, missing_ok: bool = False) -> np.ndarray:
        """Where `values` break the bound (NaN breaks it unless `missing_ok`), as a boolean mask."""
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            inside = (values > self.low if self.positive else values >= self.low) & (values <= self.high)
        failing: np.ndarray = ~inside & ~(np.isnan(values) & missing_ok)
        return failing

    def text(self) -> str:
        return f"{'(' if self.positive else '['}{self.low:g}, {self.high:g}]"

    def problem(self, value: float) -> str:
        return f"{value:g} is not a plausible {self.name} {self.text()}"


INDEX_LEVEL = Bound("index level", 1.0, 1e6, positive=True)  # SPX, XSP and their strikes
VOL_INDEX = Bound("volatility index", 1.0, 1_000.0)  # VIX, VIX3M
OPTION_PRICE = Bound("option price", 0.0, 1e5)  # a bid, an ask, a last trade: per share
IMPLIED_VOL = Bound("implied volatility", 0.0, 1e3)
DELTA = Bound("delta", -1.0, 1.0)
DISCOUNT_RATE = Bound("T-bill discount rate (%)", -5.0, 50.0, positive=True)


def quote_day_problem(day: dt.date, today: dt.date) -> str | None:
    """Why `day` cannot be the day of a quote or a close (None when it can): before any option quote, or after
    today."""
    if day < FIRST_QUOTE_DAY:
        return f"{day} is before {FIRST_QUOTE_DAY}"
    if day > today:
        return f"{day} is after today ({today})"
    return None
