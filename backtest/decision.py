"""The day's decision and the price of a put, as the engine and the daily trader both ask them: one place, so
that live and backtest can only differ by their market data."""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple, Sequence

import numpy as np

from backtest.types import Entry, Exit, Hold, Holding, Listed, MarketDay, Quote, QuoteFn, Rules, Skip
from data.contracts import OptionContract
from data.dividends import dividend_yield
from data.market import History, MarketSource
from data.pricing import estimate_put, years_to_settlement
from data.provenance import PriceSource


def settlement_index(history: History, contract: OptionContract) -> int:
    """History index of the session that settles the contract (len(dates) when it lies beyond the data)."""
    return int(np.searchsorted(history.ordinals, contract.expiry.toordinal()))


class Life(NamedTuple):
    """A put's marks over the sessions of its life, and which of them are real closes."""

    marks: np.ndarray
    real: np.ndarray  # bool


def life_marks(source: MarketSource, history: History, contract: OptionContract, first: int,
               stop: int) -> tuple[Life, Quote]:
    """The put's marks on sessions first..stop-1 (real closes where the source has them, else the estimate) and
    its quote on the first of them."""
    days = history.ordinals[first:stop]
    t = years_to_settlement(contract.expiry.toordinal() - days, contract.am_settled)
    spot = history.spx_close[first:stop] * contract.underlying.scale
    price, iv, delta = estimate_put(spot, contract.strike, t, history.rate[first:stop],
                                    history.dividend[first:stop], history.vix[first:stop], history.vix3m[first:stop])
    marks = np.atleast_1d(price)
    real_close = source.option_closes(contract, history.dates[first:stop])
    real = np.zeros(len(marks), dtype=bool) if real_close is None else ~np.isnan(real_close)
    if real_close is not None:
        marks = np.where(real, real_close, marks)
    bid, ask = source.quoted(contract, history.dates[first]) or (math.nan, math.nan)
    quote = Quote(float(marks[0]), PriceSource.REAL if real[0] else PriceSource.ESTIMATED,
                  float(np.atleast_1d(iv)[0]), float(np.atleast_1d(delta)[0]), bid, ask)
    return Life(marks, real), quote


def quote_put(source: MarketSource, history: History, i: int, contract: OptionContract) -> Quote:
    """The put's price at session i's close: its real close when the source has one, else the estimate."""
    return life_marks(source, history, contract, i, i + 1)[1]


def estimated_quote(day: MarketDay, contract: OptionContract) -> Quote:
    """The estimate alone (Black-Scholes with the VIX skew model) for a put at a day's close."""
    t = years_to_settlement((contract.expiry - day.date).days, contract.am_settled)
    price, iv, delta = estimate_put(day.spot * contract.underlying.scale, contract.strike, t, day.rate,
                                    dividend_yield(day.date), day.vix, day.vix3m)
    return Quote(float(price), PriceSource.ESTIMATED, float(iv), float(delta))


class LifePricer:
    """Prices the puts the rules ask about on one session over their whole remaining life (once each), so that
    the engine keeps the marks of the one it sells."""

    def __init__(self, source: MarketSource, history: History, i: int) -> None:
        self.source, self.history, self.i = source, history, i
        self.lives: dict[OptionContract, Life] = {}

    def quote(self, contract: OptionContract) -> Quote:
        life, quote = life_marks(self.source, self.history, contract, self.i, settlement_index(self.history, contract))
        self.lives[contract] = life
        return quote


def decide_day(rules: Rules, source: MarketSource, day: MarketDay, holdings: list[Holding], equity: float,
               monthly_only: bool, quote: QuoteFn) -> Entry | Skip:
    """One day's entry decision, exactly as the engine and the daily trader both ask it."""
    def expiries() -> Sequence[dt.date]:
        return source.listed_expiries(day.date, day.date + dt.timedelta(days=rules.expiry_horizon()), monthly_only)

    def listed(expiry: dt.date) -> Listed | None:
        strikes = source.listed_strikes(day.date, expiry)
        return None if strikes is None else Listed(strikes, source.strike_deltas(day.date, expiry))

    return rules.decide_entry(day, holdings, equity, expiries, listed, quote)


def decide_exits(rules: Rules, day: MarketDay, holdings: Sequence[Holding], quote: QuoteFn) -> list[Exit | Hold]:
    """What the exit rules do with each open position today, before any margin call or entry."""
    return [rules.decide_exit(day, holding, quote) for holding in holdings]
