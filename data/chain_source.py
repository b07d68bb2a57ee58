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
from typing import TYPE_CHECKING, Callable, Sequence, TypeVar

import numpy as np

from data.chain_files import PM_ROOTS
from data.chain_store import as_table
from data.contracts import UNDERLYINGS, OptionContract, Underlying, settles_am
from data.dividends import dividend_yield
from data.listings import is_monthly, listed_expirations
from data.market import History
from data.pricing import forward_put_delta, years_to_settlement

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class ChainQuotes:
    """Puts of many days (an Arrow table in CHAIN_COLUMNS) as arrays sorted by contract, then day (the marks of a
    contract are one slice), with a second order by day (the listings of a day are one slice). Contracts are
    found by binary search on one integer key: expiry, settlement and strike."""

    def __init__(self, table: pa.Table) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        day = table["quote_date"].cast(pa.int32()).to_numpy() + np.int32(EPOCH_ORDINAL)
        expiry = table["expiry"].cast(pa.int32()).to_numpy() + np.int32(EPOCH_ORDINAL)
        am = ~pc.is_in(table["root"], value_set=pa.array(sorted(PM_ROOTS))).to_numpy(zero_copy_only=False)
        strike = np.asarray(table["strike"].to_numpy(), dtype=float)
        key = _key(expiry, am, strike)
        order = np.argsort(key * DAY_SPAN + (day - day.min(initial=0)), kind="stable")
        self.key, self.day, self.expiry, self.am, self.strike = key[order], day[order], expiry[order], am[order], \
            strike[order]
        del key, day, expiry, am, strike
        bid, ask, last, delta = (np.asarray(table[c].to_numpy(), dtype=float)[order]
                                 for c in ("bid", "ask", "last", "delta"))
        self.two_sided = (bid > 0) & (ask >= bid)
        self.bid, self.ask, self.delta = bid, ask, -np.abs(delta)
        self.mark = np.where(self.two_sided, (bid + ask) / 2, last)
        self.by_day = np.argsort(self.day, kind="stable")  # within a day: expiry, settlement, strike
        self.day_sorted = self.day[self.by_day]

    def of_day(self, day: dt.date) -> np.ndarray | None:
        """Positions (in contract order) of the day's puts, sorted by expiry, settlement and strike."""
        lo, hi = np.searchsorted(self.day_sorted, [day.toordinal(), day.toordinal() + 1])
        return None if lo == hi else self.by_day[lo:hi]

    def of_contract(self, contract: OptionContract) -> tuple[int, int] | None:
        wanted = _key(np.array([contract.expiry.toordinal()]), np.array([contract.am_settled]),
                      np.array([float(contract.strike)]))[0]
        lo, hi = np.searchsorted(self.key, [wanted, wanted + 1])
        return None if lo == hi else (int(lo), int(hi))


DAY_SPAN = 1 << 16  # days a window may span in the sort key


def _key(expiry: np.ndarray, am: np.ndarray, strike: np.ndarray) -> np.ndarray:
    """One integer a contract: expiry day, AM or PM, strike in tenths of a point."""
    days = expiry.astype(np.int64) - EPOCH_ORDINAL
    key: np.ndarray = (days * 2 + am) * 10_000_000 + (strike * 10 + 0.5).astype(np.int64)  # strikes are positive
    return key


class ChainSource:
    """A market source priced by option chains, over the index history; `load(start, end, horizon)` gives the puts
    quoted in that window expiring at most `horizon` days after their quote (an Arrow table in CHAIN_COLUMNS)."""

    fetches = False

    def __init__(self, name: str, history: History, load: Callable[[dt.date, dt.date, int | None], pa.Table],
                 chain_days: Sequence[dt.date], underlying: Underlying = UNDERLYINGS["SPX"]) -> None:
        self.name, self._history, self._load, self.chain_days = name, history, load, list(chain_days)
        self.underlying = underlying  # the index whose puts `load` gives
        self.quotes = ChainQuotes(as_table())

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

    def prepare(self, start: dt.date, end: dt.date, listings_from: dt.date | None = None,
                horizon: int | None = None) -> None:
        self.quotes = ChainQuotes(self._load(min(start, listings_from or start), end, horizon))

    def resolve(self, run: Callable[[], T]) -> T:
        return run()

    def listed_expiries(self, as_of: dt.date, until: dt.date, monthly_only: bool) -> Sequence[dt.date]:
        rows = self.quotes.of_day(as_of)
        if rows is None:
            return listed_expirations(as_of, until, monthly_only)
        expiries = (dt.date.fromordinal(int(e)) for e in np.unique(self.quotes.expiry[rows]))
        return [e for e in expiries if as_of < e <= until and (not monthly_only or is_monthly(e))]

    def partial_listings(self, start: dt.date, end: dt.date, reach: int) -> frozenset[dt.date]:
        """Chain days whose chain lacks an expiration the calendar lists within `reach` days (the calendar's
        horizons are the short ones: a whole chain holds every one)."""
        def lacking(day: dt.date) -> bool:
            until = day + dt.timedelta(days=reach)
            return bool(set(listed_expirations(day, until, False)) - set(self.listed_expiries(day, until, False)))
        return frozenset(day for day in self.chain_days if start <= day <= end and lacking(day))

    def _expiry_rows(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        rows = self.quotes.of_day(as_of)
        if rows is None:
            return None
        q = self.quotes
        am = settles_am(expiry, self.underlying.name)
        chosen: np.ndarray = rows[(q.expiry[rows] == expiry.toordinal()) & (q.am[rows] == am)]
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
            spot, rate, dividend = (float(self._history.spx_close[i]) * self.underlying.scale,
                                    float(self._history.rate[i]), dividend_yield(as_of))
            am = settles_am(expiry, self.underlying.name)
            t = np.full(int(missing.sum()), float(years_to_settlement((expiry - as_of).days, am)))
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
