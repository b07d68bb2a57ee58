"""SPX option contracts and their Polygon/OCC tickers: parsed once, never sliced elsewhere."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from data.calendar import is_monthly

_TICKER = re.compile(r"^O:(SPXW?)(\d{6})([CP])(\d{8})$")


@dataclass(frozen=True, order=True)
class OptionContract:
    """A put on the S&P 500: root SPX (AM-settled monthly) or SPXW (PM-settled)."""

    root: str
    expiry: dt.date
    strike: float

    @property
    def ticker(self) -> str:
        return f"O:{self.root}{self.expiry:%y%m%d}P{round(self.strike * 1000):08d}"

    @property
    def am_settled(self) -> bool:
        return self.root == "SPX"


def root_for_expiry(expiry: dt.date) -> str:
    """Third-Friday monthlies (Thursday when Friday is a holiday) are AM-settled SPX; all else PM-settled SPXW."""
    return "SPX" if is_monthly(expiry) else "SPXW"


def settles_am(expiry: dt.date) -> bool:
    """Whether the put chosen for this expiration is the AM-settled SPX monthly."""
    return root_for_expiry(expiry) == "SPX"


def put_contract(expiry: dt.date, strike: float) -> OptionContract:
    return OptionContract(root_for_expiry(expiry), expiry, strike)


def parse_ticker(ticker: str) -> OptionContract:
    match = _TICKER.match(ticker)
    if not match or match.group(3) != "P":
        raise ValueError(f"not an SPX/SPXW put ticker: {ticker!r}")
    root, yymmdd, _, strike = match.groups()
    expiry = dt.datetime.strptime(yymmdd, "%y%m%d").date()
    return OptionContract(root, expiry, int(strike) / 1000)
