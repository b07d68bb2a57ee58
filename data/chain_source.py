"""Market sources priced by real option chains: `chains` (the files imported into the chain store) and `cboe`
(Cboe's free delayed quotes of the day, stored as they are taken).

On a day with a chain, the expirations and strikes are the chain's, a put's price is its mid where it has a
two-sided quote (else the day's last trade where the file gives one), its bid and ask go to the fill model, and the
bs-delta strike is chosen by the chain's own delta (the vendor's, else the delta of the vol implied by the mid). On
any other day, and for any put without a quote, the source falls back to the calendar's listings and the estimate,
which the backtest counts. Settlements come from the index history.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Sequence, TypeVar

import numpy as np
import pandas as pd

from data.chain_files import CHAIN_COLUMNS, PM_ROOTS
from data.contracts import OptionContract, settles_am
from data.dividends import dividend_yield
from data.listings import is_monthly, listed_expirations
from data.market import History
from data.pricing import forward_put_delta, years_to_settlement

T = TypeVar("T")
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _ordinals(values: pd.Series) -> np.ndarray:
    days = pd.to_datetime(values).to_numpy().astype("datetime64[D]").astype(np.int64)
    return days + EPOCH_ORDINAL


def _spans(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of each run of equal keys in sorted arrays."""
    size = len(keys[0])
    change = np.zeros(size, dtype=bool)
    change[:1] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    starts = np.flatnonzero(change)
    return starts, np.append(starts[1:], size)[:len(starts)].astype(int)


class ChainQuotes:
    """Puts of many days, indexed twice: by contract over its days (marks) and by day (listings)."""

    def __init__(self, puts: pd.DataFrame) -> None:
        day, expiry = _ordinals(puts["quote_date"]), _ordinals(puts["expiry"])
        am = ~puts["root"].isin(PM_ROOTS).to_numpy(bool)
        strike, bid, ask, last, delta = (puts[c].to_numpy(float) for c in ("strike", "bid", "ask", "last", "delta"))
        two_sided = (bid > 0) & (ask >= bid)
        mark = np.where(two_sided, (bid + ask) / 2, last)
        by_contract = np.lexsort((day, strike, am, expiry))
        self.day, self.expiry, self.am, self.strike = day[by_contract], expiry[by_contract], am[by_contract], \
            strike[by_contract]
        self.bid, self.ask, self.mark, self.delta = bid[by_contract], ask[by_contract], mark[by_contract], \
            -np.abs(delta[by_contract])
        self.two_sided = two_sided[by_contract]
        starts, ends = _spans(self.expiry, self.am, self.strike)
        self.contracts = {(int(self.expiry[s]), bool(self.am[s]), float(self.strike[s])): (int(s), int(e))
                          for s, e in zip(starts, ends, strict=True)}
        self.by_day = np.lexsort((self.strike, self.am, self.expiry, self.day))
        day_sorted = self.day[self.by_day]
        starts, ends = _spans(day_sorted)
        self.days = {int(day_sorted[s]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}

    def of_day(self, day: dt.date) -> np.ndarray | None:
        """Positions (in contract order) of the day's puts, sorted by expiry, settlement and strike."""
        span = self.days.get(day.toordinal())
        return None if span is None else self.by_day[span[0]:span[1]]

    def of_contract(self, contract: OptionContract) -> tuple[int, int] | None:
        return self.contracts.get((contract.expiry.toordinal(), contract.am_settled, float(contract.strike)))


class ChainSource:
    """A market source priced by option chains, over the index history; `load(start, end)` gives the puts quoted
    in that window (CHAIN_COLUMNS)."""

    fetches = False

    def __init__(self, name: str, history: History, load: Callable[[dt.date, dt.date], pd.DataFrame],
                 chain_days: Sequence[dt.date]) -> None:
        self.name, self._history, self._load, self.chain_days = name, history, load, list(chain_days)
        self.quotes = ChainQuotes(pd.DataFrame(columns=CHAIN_COLUMNS))

    def history(self) -> History:
        return self._history

    def requests_made(self) -> int:
        return 0

    def last_day(self, today: dt.date) -> dt.date:
        last = self._history.dates[-1]
        return min(last, self.chain_days[-1]) if self.chain_days else last

    def window_problem(self, start: dt.date, end: dt.date) -> str | None:
        if not any(start <= d <= end for d in self.chain_days):
            held = f"{self.chain_days[0]} .. {self.chain_days[-1]}" if self.chain_days else "none"
            return (f"no option chain imported between {start} and {end} (chains held: {held}): import chain files "
                    "with spx-wheel import")
        first, stop = self._history.window(start, end)
        if stop - first < 2:
            return f"no market data between {start} and {end} (spx-wheel update extends the history)"
        return None

    def prepare(self, start: dt.date, end: dt.date, listings_from: dt.date | None = None) -> None:
        self.quotes = ChainQuotes(self._load(min(start, listings_from or start), end))

    def resolve(self, run: Callable[[], T]) -> T:
        return run()

    def listed_expiries(self, as_of: dt.date, until: dt.date, monthly_only: bool) -> Sequence[dt.date]:
        rows = self.quotes.of_day(as_of)
        if rows is None:
            return listed_expirations(as_of, until, monthly_only)
        expiries = (dt.date.fromordinal(int(e)) for e in np.unique(self.quotes.expiry[rows]))
        return [e for e in expiries if as_of < e <= until and (not monthly_only or is_monthly(e))]

    def _expiry_rows(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        rows = self.quotes.of_day(as_of)
        if rows is None:
            return None
        q = self.quotes
        chosen: np.ndarray = rows[(q.expiry[rows] == expiry.toordinal()) & (q.am[rows] == settles_am(expiry))]
        return chosen

    def listed_strikes(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        rows = self._expiry_rows(as_of, expiry)
        return None if rows is None else self.quotes.strike[rows]

    def strike_deltas(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        """The vendor's deltas; where a row has none, the delta of the vol its mid implies on the close carried
        forward."""
        rows = self._expiry_rows(as_of, expiry)
        if rows is None:
            return None
        q = self.quotes
        deltas = q.delta[rows].copy()
        missing = np.isnan(deltas) & q.two_sided[rows]
        if missing.any():
            i = self._history.index_of(as_of)
            spot, rate, dividend = (float(self._history.spx_close[i]), float(self._history.rate[i]),
                                    dividend_yield(as_of))
            t = np.full(int(missing.sum()), float(years_to_settlement((expiry - as_of).days, settles_am(expiry))))
            forward = np.full(t.size, spot) * np.exp((rate - dividend) * t)
            implied = forward_put_delta(q.mark[rows][missing], forward, q.strike[rows][missing], t,
                                        np.full(t.size, rate))
            deltas[missing] = -implied * np.exp(-dividend * t)
        return np.asarray(deltas, dtype=float)

    def option_closes(self, contract: OptionContract, dates: tuple[dt.date, ...]) -> np.ndarray | None:
        span = self.quotes.of_contract(contract)
        if span is None:
            return None
        days, marks = self.quotes.day[span[0]:span[1]], self.quotes.mark[span[0]:span[1]]
        wanted = np.fromiter((d.toordinal() for d in dates), dtype=np.int64, count=len(dates))
        at = np.clip(np.searchsorted(days, wanted), 0, len(days) - 1)
        return np.where(days[at] == wanted, marks[at], np.nan)

    def quoted(self, contract: OptionContract, day: dt.date) -> tuple[float, float] | None:
        span = self.quotes.of_contract(contract)
        if span is None:
            return None
        at = span[0] + int(np.searchsorted(self.quotes.day[span[0]:span[1]], day.toordinal()))
        if at >= span[1] or self.quotes.day[at] != day.toordinal() or not self.quotes.two_sided[at]:
            return None
        return float(self.quotes.bid[at]), float(self.quotes.ask[at])


def chain_quote(source: ChainSource, contract: OptionContract, day: dt.date) -> dict[str, float | None]:
    """The contract's real bid, ask and mid of the day (None where it has no two-sided quote)."""
    quoted = source.quoted(contract, day)
    if quoted is None:
        return {"bid": None, "ask": None, "mid": None}
    return {"bid": quoted[0], "ask": quoted[1], "mid": round((quoted[0] + quoted[1]) / 2, 4)}
