"""SPX and XSP option contracts and their Polygon/OCC tickers: parsed once, never sliced elsewhere."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property

from data.calendar import friday_expiry
from data.listings import AM_ROOTS, root_for_expiry, ticker_date

_TICKER = re.compile(r"^O:(SPXW|SPXQ|SPX|XSP|JX[ABDE])(\d{6})([CP])(\d{8})$")


@dataclass(frozen=True)
class Underlying:
    """An index whose puts the strategy sells: SPX, or XSP (Mini-SPX: 1/10 of SPX, the same $100 multiplier,
    $1 strikes, a $0.01 tick on every series, PM-settled at a tenth of SPX's close)."""

    name: str
    scale: float  # the index level per point of SPX
    strike_step: float
    penny: bool  # quoted in cents at every price (SPX: $0.05 below $3, $0.10 above)


UNDERLYINGS = {"SPX": Underlying("SPX", 1.0, 5.0, False), "XSP": Underlying("XSP", 0.1, 1.0, True)}


@dataclass(frozen=True, order=True)
class OptionContract:
    """A put on the S&P 500: root SPX (AM-settled monthly), JXA..JXE (AM Weeklys of 2005-2010), SPXQ (quarterly,
    to 2014) or SPXW (PM-settled); or on the Mini-SPX, root XSP (PM-settled). `expiry` is the last session
    (data/listings.py)."""

    root: str
    expiry: dt.date
    strike: float

    @cached_property  # every stored trade asks it
    def ticker(self) -> str:
        return f"O:{self.root}{ticker_date(self.root, self.expiry):%y%m%d}P{round(self.strike * 1000):08d}"

    @property
    def am_settled(self) -> bool:
        return self.root in AM_ROOTS

    @property
    def underlying(self) -> Underlying:
        return UNDERLYINGS["XSP" if self.root == "XSP" else "SPX"]


def settles_am(expiry: dt.date, underlying: str = "SPX") -> bool:
    """Whether the put chosen for this expiration settles at the open (an SPX monthly or an AM Weekly)."""
    return put_contract(expiry, 0.0, underlying).am_settled


def put_contract(expiry: dt.date, strike: float, underlying: str = "SPX") -> OptionContract:
    return OptionContract("XSP" if underlying == "XSP" else root_for_expiry(expiry), expiry, strike)


def parse_ticker(ticker: str) -> OptionContract:
    match = _TICKER.match(ticker)
    if not match or match.group(3) != "P":
        raise ValueError(f"not an SPX or XSP put ticker: {ticker!r}")
    root, yymmdd, _, strike = match.groups()
    expiry = dt.datetime.strptime(yymmdd, "%y%m%d").date()
    if expiry.weekday() == 5:  # a monthly dated on its Saturday (until 2015): it expires at Friday's open
        expiry = friday_expiry(expiry - dt.timedelta(days=1))
    return OptionContract(root, expiry, int(strike) / 1000)
