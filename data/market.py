"""The market-data source interface and the bundled daily history."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol, Sequence, TypeVar

import numpy as np

from data.contracts import OptionContract
from data.dividends import dividend_yields
from data.errors import DataError
from data.listings import listed_expirations
from data.provenance import SettlementSource

HISTORY_FILE = Path(__file__).parent / "history" / "market.csv.gz"
# Years whose bundled SPX "open" is in effect the previous close (data/raw/SOURCES.md: real opening levels exist
# only for 2008-2010 and from 2014 on). An AM settlement in them uses the previous close, counted as a stand-in:
# on the 186 monthly expiries with real opens, the previous close missed the open by 0.135% (median) against
# 0.416% for the same day's close.
STALE_OPEN_YEARS = (*range(1990, 2008), 2011, 2012, 2013)
T = TypeVar("T")


@dataclass(frozen=True)
class History:
    """Daily closes by NYSE session; rates are continuous annual fractions, VIX levels in index points."""

    dates: tuple[dt.date, ...]
    spx_open: np.ndarray
    spx_close: np.ndarray
    vix: np.ndarray
    vix3m: np.ndarray  # NaN where VIX3M did not exist
    rate: np.ndarray
    open_real: np.ndarray | None = None  # False where spx_open is a stand-in (the previous close); None: all real
    provisional: dt.date | None = None  # a last session known by a level taken before its official close
    ordinals: np.ndarray = field(init=False, repr=False, compare=False)
    dividend: np.ndarray = field(init=False, repr=False, compare=False)  # the index's yield, by year

    def __post_init__(self) -> None:
        ordinals = np.fromiter((d.toordinal() for d in self.dates), dtype=np.int64, count=len(self.dates))
        object.__setattr__(self, "ordinals", ordinals)
        years = np.fromiter((d.year for d in self.dates), dtype=np.int64, count=len(self.dates))
        object.__setattr__(self, "dividend", dividend_yields(years))
        if self.open_real is None:
            object.__setattr__(self, "open_real", np.ones(len(self.dates), dtype=bool))

    def settlement_source(self, i: int, am_settled: bool) -> SettlementSource:
        """Real, or a stand-in for an AM settlement on a session whose open is not known."""
        assert self.open_real is not None
        return SettlementSource.STAND_IN if am_settled and not self.open_real[i] else SettlementSource.REAL

    def extended(self, days: Sequence[dt.date], spx_close: Sequence[float], vix: Sequence[float],
                 vix3m: Sequence[float], rate: Sequence[float]) -> History:
        """This history followed by later sessions known by their closes only: each open is the previous close,
        flagged as a stand-in."""
        if not days:
            return self
        if days[0] <= self.dates[-1]:
            raise DataError(f"an update must start after {self.dates[-1]}, not on {days[0]}")
        closes = np.asarray(spx_close, dtype=float)
        assert self.open_real is not None
        return History(dates=(*self.dates, *days),
                       spx_open=np.concatenate([self.spx_open, [self.spx_close[-1]], closes[:-1]]),
                       spx_close=np.concatenate([self.spx_close, closes]),
                       vix=np.concatenate([self.vix, np.asarray(vix, dtype=float)]),
                       vix3m=np.concatenate([self.vix3m, np.asarray(vix3m, dtype=float)]),
                       rate=np.concatenate([self.rate, np.asarray(rate, dtype=float)]),
                       open_real=np.concatenate([self.open_real, np.zeros(len(days), dtype=bool)]))

    def index_of(self, day: dt.date) -> int:
        """Position of a session in the arrays (DataError when the day is not in the history)."""
        position = int(np.searchsorted(self.ordinals, day.toordinal()))
        if position >= len(self.dates) or self.dates[position] != day:
            raise DataError(f"no market data for {day} (history covers {self.dates[0]} .. {self.dates[-1]})")
        return position

    def window(self, start: dt.date, end: dt.date) -> tuple[int, int]:
        """Half-open [first, last) positions of the sessions within start..end."""
        first = int(np.searchsorted(self.ordinals, start.toordinal(), side="left"))
        last = int(np.searchsorted(self.ordinals, end.toordinal(), side="right"))
        return first, last


class MarketSource(Protocol):
    """What the engine and the daily trader need from a data source."""

    name: str
    fetches: bool  # whether prepare/resolve go to the network (then a daily run is planned first)

    def history(self) -> History: ...

    def requests_made(self) -> int:
        """Network requests made so far."""
        ...

    def last_day(self, today: dt.date) -> dt.date:
        """The last day the source can serve: the default end of a window."""
        ...

    def window_problem(self, start: dt.date, end: dt.date) -> str | None:
        """Why the source cannot serve the window, known before any fetch (None when it may)."""
        ...

    def listed_expiries(self, as_of: dt.date, until: dt.date, monthly_only: bool) -> Sequence[dt.date]: ...

    def partial_listings(self, start: dt.date, end: dt.date, reach: int) -> frozenset[dt.date]:
        """Days of the window whose real listing holds fewer of the expirations within `reach` days than the
        calendar lists (a chain file holding only some): a run chose among fewer there. Empty for a source that
        lists by the calendar."""
        ...

    def listed_strikes(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        """Sorted listed put strikes, or None when the source lists none (then the 5-point grid applies)."""
        ...

    def strike_deltas(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        """The chain's own put deltas at `listed_strikes` (negative, NaN where unknown); None without a chain."""
        ...

    def option_closes(self, contract: OptionContract, dates: tuple[dt.date, ...]) -> np.ndarray | None:
        """The contract's real daily prices on `dates` (a quote's mid, or a close), NaN where there is none; None
        when it has none at all."""
        ...

    def quoted(self, contract: OptionContract, day: dt.date) -> tuple[float, float] | None:
        """The contract's real two-sided (bid, ask) at the day's close, None where the source has none."""
        ...

    def prepare(self, start: dt.date, end: dt.date, listings_from: dt.date | None = None,
                horizon: int | None = None) -> None:
        """The data phase: have everything the window needs before any engine runs. `horizon`: the most calendar
        days ahead of a session an expiration the run uses may lie (None: any), so a source may leave out what lies
        further."""
        ...

    def resolve(self, run: Callable[[], T]) -> T:
        """Run `run` on prepared data, fetching what it turned out to need and running again if need be."""
        ...


def _column(rows: list[list[str]], index: int) -> np.ndarray:
    return np.array([float(row[index]) if row[index] else np.nan for row in rows])


@lru_cache(maxsize=1)
def load_bundled(path: Path = HISTORY_FILE) -> History:
    """The bundled history (read with the csv module: pandas would cost every command 0.2 s to import)."""
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.reader(handle)
        if next(reader, None) != ["date", "spx_open", "spx_close", "vix", "vix3m", "rate"]:
            raise DataError(f"{path} is not the bundled history (unexpected header)")
        rows = list(reader)
    dates = tuple(dt.date.fromisoformat(row[0]) for row in rows)
    opens, closes = _column(rows, 1), _column(rows, 2)
    open_real = np.array([d.year not in STALE_OPEN_YEARS for d in dates])
    open_real[0] = True  # no previous close to stand in for the first session
    stand_in = np.concatenate([[opens[0]], closes[:-1]])
    history = History(dates=dates, spx_open=np.where(open_real, opens, stand_in), spx_close=closes,
                      vix=_column(rows, 3), vix3m=_column(rows, 4), rate=_column(rows, 5), open_real=open_real)
    ordinals = history.ordinals
    required = np.vstack([history.spx_open, history.spx_close, history.vix, history.rate])
    if not rows or np.any(np.diff(ordinals) <= 0) or np.isnan(required).any() or (required[:3] <= 0).any():
        raise DataError(f"{path} is damaged: empty, unsorted, duplicated, or with missing or non-positive values")
    return history


class EmbeddedSource:
    """The bundled history, extended by `spx-wheel update` where given: no option prices (every price is
    estimated), listed expirations per the calendar."""

    name = "embedded"
    fetches = False

    def __init__(self, history: History | None = None) -> None:
        self._history = history

    def requests_made(self) -> int:
        return 0

    def last_day(self, today: dt.date) -> dt.date:
        return self.history().dates[-1]

    def window_problem(self, start: dt.date, end: dt.date) -> str | None:
        history = self.history()
        first, stop = history.window(start, end)
        if stop - first >= 2:
            return None
        return (f"no market data between {start} and {end}: the embedded source covers {history.dates[0]} .. "
                f"{history.dates[-1]} (spx-wheel update extends it)")

    def history(self) -> History:
        return self._history or load_bundled()

    def listed_expiries(self, as_of: dt.date, until: dt.date, monthly_only: bool) -> Sequence[dt.date]:
        return listed_expirations(as_of, until, monthly_only)

    def partial_listings(self, start: dt.date, end: dt.date, reach: int) -> frozenset[dt.date]:
        return frozenset()

    def listed_strikes(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        return None

    def strike_deltas(self, as_of: dt.date, expiry: dt.date) -> np.ndarray | None:
        return None

    def option_closes(self, contract: OptionContract, dates: tuple[dt.date, ...]) -> np.ndarray | None:
        return None

    def quoted(self, contract: OptionContract, day: dt.date) -> tuple[float, float] | None:
        return None

    def prepare(self, start: dt.date, end: dt.date, listings_from: dt.date | None = None,
                horizon: int | None = None) -> None:
        pass

    def resolve(self, run: Callable[[], T]) -> T:
        return run()
