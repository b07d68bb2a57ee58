"""One record type for a trade, live or backtest, as every output shows it. Light on purpose: the commands
that only read the book use it without importing the engine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backtest.spx_premium_backtest import Trade


@dataclass(frozen=True)
class Sold:
    """What every trade is: so many puts of one contract, sold on a day (the engine's Trade and the shown
    TradeRecord both start with these)."""

    ticker: str
    root: str
    entry_date: dt.date
    expiry: dt.date
    strike: float
    contracts: int


@dataclass(frozen=True)
class TradeRecord(Sold):
    """A trade as every output shows it (deltas positive, money in dollars). `closed_on` is the session it was
    settled or bought back (None while open). The optional fields belong to live positions (id, fill source) or to
    a stored run (its combination)."""

    price: float  # the put's price at entry, before slippage
    price_source: str  # real / estimated / manual
    fill: float
    premium: float  # net dollars received
    entry_delta: float  # positive
    settlement: float | None
    settlement_source: str | None  # real / stand-in / manual / exit
    pnl: float | None
    closed_on: dt.date | None
    exit_reason: str | None = None  # for a put bought back before expiry: why, and what a share paid
    exit_fill: float | None = None
    id: int | None = None
    fill_source: str | None = None
    combination: tuple[tuple[str, Any], ...] | None = None  # a stored run's: each grid dimension and its value

    @property
    def status(self) -> str:
        return "open" if self.pnl is None else ("win" if self.pnl > 0 else "loss")

    @classmethod
    def of_trade(cls, t: Trade) -> TradeRecord:
        return cls(t.ticker, t.root, t.entry_date, t.expiry, t.strike, t.contracts, round(t.entry_price, 4),
                   t.source, t.fill, t.premium, round(-t.entry_delta, 4), t.settlement, t.settlement_source, t.pnl,
                   closed_on(t.exit_date, t.expiry, t.pnl), t.exit_reason, t.exit_fill)


def closed_on(exit_date: dt.date | None, expiry: dt.date, pnl: float | None) -> dt.date | None:
    """The session a backtest trade closed: its buy-back's, else its expiry's once settled."""
    return exit_date or (expiry if pnl is not None else None)
