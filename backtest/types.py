"""Value types shared by the engine and the strategy rules it is given."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Protocol, Sequence

import numpy as np

from data.contracts import OptionContract
from data.provenance import PriceSource


class MarketDay(NamedTuple):
    """What is known at a session's close."""

    date: dt.date
    spot: float
    vix: float
    vix3m: float  # NaN when there is no VIX3M
    rate: float  # continuous annual


@dataclass(frozen=True)
class Quote:
    """A put price with where it came from, and the day's real bid and ask where the source quotes them."""

    price: float
    source: PriceSource
    iv: float
    delta: float  # negative for puts
    bid: float = math.nan
    ask: float = math.nan

    @property
    def two_sided(self) -> bool:
        return self.bid > 0 and self.ask >= self.bid


class Holding(NamedTuple):
    """An open position as the rules see it: the contract, its size, today's mark and the price it was sold at."""

    contract: OptionContract
    contracts: int
    mark: float
    fill: float


@dataclass(frozen=True)
class Entry:
    """The rules' decision to sell `contracts` puts at `fill` per share (after slippage)."""

    contract: OptionContract
    contracts: int
    quote: Quote
    fill: float
    fees: float  # dollars for the whole order

    @property
    def premium(self) -> float:
        return net_premium(self.fill, self.contracts, self.fees)


@dataclass(frozen=True)
class Skip:
    """No trade today, and why: `template` formatted with `values` (formatted only when shown)."""

    template: str
    values: tuple[object, ...] = ()

    @property
    def reason(self) -> str:
        return self.template.format(*self.values)


@dataclass(frozen=True)
class Hold:
    """Keep an open position another day."""


@dataclass(frozen=True)
class Exit:
    """Buy an open position back at today's close: why, the day's quote of the put, the price a share pays
    (spread included) and the dollars it costs in all (fees included)."""

    reason: str
    quote: Quote
    fill: float
    cost: float


HOLD = Hold()
QuoteFn = Callable[[OptionContract], Quote]
Strikes = Sequence[float] | np.ndarray  # sorted listed strikes


class Listed(NamedTuple):
    """One expiration's listed put strikes on a day, with the chain's own put deltas (negative, NaN where
    unknown) where the source has a chain."""

    strikes: Strikes
    deltas: np.ndarray | None = None


class ListingSource(Protocol):
    """What a source lists on a day: expirations, and the strikes of one (None: the 5-point grid)."""

    def listed_expiries(self, as_of: dt.date, until: dt.date, monthly_only: bool) -> Sequence[dt.date]: ...

    def listed_strikes(self, as_of: dt.date, expiry: dt.date) -> Strikes | None: ...

    def strike_deltas(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        """The chain's put deltas at the listed strikes (None: the source has no chain that day)."""
        ...


class Rules(Protocol):
    """The strategy rules the engine (and the daily trader) call; implemented in trading/rules.py."""

    def decide_entry(self, day: MarketDay, holdings: Sequence[Holding], equity: float,
                     expiries: Callable[[], Sequence[dt.date]],
                     strikes: Callable[[dt.date], Listed | None], quote: QuoteFn) -> Entry | Skip:
        """`expiries`, `strikes` and `quote` are asked only when the filters before them pass."""
        ...

    def decide_exit(self, day: MarketDay, holding: Holding, quote: QuoteFn) -> Exit | Hold:
        """Whether to buy an open position back today, before expiry (`quote` prices the buy-back)."""
        ...

    def margin_call(self, day: MarketDay, holdings: Sequence[Holding], equity: float,
                    quote: QuoteFn) -> list[Exit | Hold]:
        """Which positions to buy back because their margin, re-marked today, exceeds equity."""
        ...

    def settle(self, contract: OptionContract, contracts: int, premium: float, spx_open: float,
               spx_close: float) -> tuple[float, float]:
        """(settlement value, net P&L in dollars) of a position at its expiry."""
        ...

    def expiry_horizon(self) -> int:
        """How many calendar days ahead the rules may look for an expiration."""
        ...


def net_premium(fill: float, contracts: int, fees: float) -> float:
    """Cash received for selling `contracts` puts at `fill` a share, after fees, in dollars."""
    return round(fill * 100 * contracts - fees, 2)
