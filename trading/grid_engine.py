"""A grid's backtests on shared candidates: for each way of choosing the put (delta, DTE, strike rule, expirations,
index), the put the rules would sell on every session is chosen once, vectorised; every combination that chooses
that way (whatever its exits, sizing or filters) then walks the sessions in compiled code (trading/grid_kernel.py),
which prices a candidate's whole life the first time any of them asks its price and keeps it for the others. Trades
are built from the kernel's log when read.

It serves the bundled history (EmbeddedSource: every price the estimate, strikes on the grid); every other source
runs through the engine (backtest/spx_premium_backtest.py), the reference this must equal
(tests/trading/test_grid_engine.py).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import astuple, dataclass, field
from typing import Any, Callable, Iterator, NamedTuple, Sequence, overload

import numpy as np

from backtest.spx_premium_backtest import BacktestError, BacktestResult, Tally, Trade, session_growth, summarize
from data.contracts import UNDERLYINGS, OptionContract, put_contract, settles_am
from data.listings import listed_expirations
from data.market import EmbeddedSource, History, MarketSource, load_bundled
from data.pricing import AM_SETTLEMENT_EARLIER, FITTED, years_to_settlement
from data.provenance import PriceSource, SettlementSource
from db.mapping import TradeColumns
from trading.rules import BUY_BACKS, OPEN, SETTLED, SIZE_CODES, exit_text, grid_strike
from trading.strategy import StrategyParams

NOWHERE = np.iinfo(np.int64).max // 2  # pads the table of listed expirations
MODEL = np.array([*astuple(FITTED), AM_SETTLEMENT_EARLIER])  # pricing's, as the kernel takes them


def serves(source: MarketSource) -> bool:
    """Whether the grid engine can run on this source (else the engine runs the combinations)."""
    return isinstance(source, EmbeddedSource)


class Chooser(NamedTuple):
    """What decides which put the rules sell on a session: combinations that share it share their candidates."""

    put_delta: float
    dte_target: int
    strike_rule: str
    monthly: bool
    underlying: str

    @classmethod
    def of(cls, p: StrategyParams) -> Chooser:
        return cls(p.put_delta, p.dte_target, p.strike_rule, p.expiries == "monthly", p.underlying)


@dataclass(frozen=True)
class Candidates:
    """The put the rules would sell on each session lo.. of the history, and room for its marks to settlement."""

    lo: int
    underlying: str
    valid: np.ndarray  # an expiration was listed in reach, and the VIX lets some combination enter
    expiry: np.ndarray  # ordinals
    settles: np.ndarray  # history index of the settlement session (len(dates) beyond the data)
    strike: np.ndarray
    am: np.ndarray
    offset: np.ndarray  # where the candidate's marks start in `marks`
    marks: np.ndarray  # priced by the kernel the first time a combination asks the candidate's price, then shared
    priced: np.ndarray
    entry: np.ndarray  # implied vol and delta on the candidate's session, once priced
    contracts: dict[int, OptionContract] = field(default_factory=dict)  # built as trades are

    def contract(self, c: int) -> OptionContract:
        """Candidate c's put (the same object for every trade that sold it)."""
        if c not in self.contracts:
            self.contracts[c] = put_contract(dt.date.fromordinal(int(self.expiry[c])), float(self.strike[c]),
                                             self.underlying)
        return self.contracts[c]


class ListingTable(NamedTuple):
    """The ordinals of the expirations listed on each session lo..hi-1 up to a horizon, one row per session
    padded with NOWHERE; and of all of them, sorted, whether SPX's put on it settles at the open."""

    table: np.ndarray
    expiries: np.ndarray
    am: np.ndarray

    def am_settled(self, expiries: np.ndarray, underlying: str) -> np.ndarray:
        """contracts.settles_am of each of `expiries` (listed ones, or anything where `valid` is False)."""
        if underlying == "XSP":
            return np.zeros(len(expiries), dtype=bool)
        where = np.minimum(np.searchsorted(self.expiries, expiries), len(self.expiries) - 1)
        found: np.ndarray = self.am[where] & (self.expiries[where] == expiries)
        return found


def listed_table(history: History, lo: int, hi: int, horizon: int, monthly: bool) -> ListingTable:
    """What data/listings.py lists on each session lo..hi-1 up to `horizon` days ahead (asked once a session)."""
    rows = [listed_expirations(day, day + dt.timedelta(days=horizon), monthly) for day in history.dates[lo:hi]]
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    unique = {e for row in rows for e in row}
    ordinal = {e: e.toordinal() for e in unique}
    flat = np.fromiter((ordinal[e] for row in rows for e in row), dtype=np.int64, count=int(lengths.sum()))
    table = np.full((len(rows), max(1, int(lengths.max(initial=0)))), NOWHERE, dtype=np.int64)
    table[np.arange(table.shape[1]) < lengths[:, None]] = flat
    expiries = sorted(unique)
    return ListingTable(table, np.array([ordinal[e] for e in expiries] or [NOWHERE], dtype=np.int64),
                  np.array([settles_am(e) for e in expiries] or [False], dtype=bool))


def candidates(history: History, chooser: Chooser, lo: int, hi: int, listings: ListingTable,
               vix_range: tuple[float, float]) -> Candidates:
    """Each session's put by rules.choose_expiry and the strike rule (only on sessions whose VIX lies in
    `vix_range`, where some combination may enter), with room for the marks of its life."""
    days, listed = history.ordinals[lo:hi], listings.table
    reach = listed <= (days + 2 * chooser.dte_target + 21)[:, None]  # Rules.expiry_horizon
    gap = np.where(reach, np.abs(listed - (days + chooser.dte_target)[:, None]), NOWHERE)
    expiry = listed[np.arange(len(days)), np.argmin(gap, axis=1)]  # the first of equal gaps: the earlier
    vix = history.vix[lo:hi]
    valid = reach.any(axis=1) & (vix >= vix_range[0]) & (vix <= vix_range[1])
    expiry = np.where(valid, expiry, days + 1)
    u = UNDERLYINGS[chooser.underlying]
    am = valid & listings.am_settled(expiry, chooser.underlying)
    strike = grid_strike(chooser.strike_rule, chooser.put_delta, u.strike_step, history.spx_close[lo:hi] * u.scale,
                         years_to_settlement(expiry - days, am), history.rate[lo:hi], history.dividend[lo:hi], vix,
                         history.vix3m[lo:hi])
    settles = np.searchsorted(history.ordinals, expiry)
    lengths = np.where(valid, settles - np.arange(lo, hi), 0)
    offset = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return Candidates(lo, chooser.underlying, valid, expiry, settles, strike, am, offset, np.empty(int(lengths.sum())),
                      np.zeros(len(days), dtype=bool), np.full((len(days), 2), np.nan))


class LazyTrades(Sequence[Trade]):
    """A run's trades, built from the kernel's log each time they are read (kept, a thousand combinations' trades
    would hold gigabytes while a calibration stores them one combination after the other)."""

    def __init__(self, count: int, build: Callable[[], list[Trade]], columns: Callable[[], TradeColumns]) -> None:
        self._count, self._build, self.columns = count, build, columns

    def _all(self) -> list[Trade]:
        return self._build()

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Trade: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Trade]: ...

    def __getitem__(self, index: int | slice) -> Trade | Sequence[Trade]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Trade]:
        return iter(self._all())

    def __reduce__(self) -> tuple[type[list[Trade]], tuple[list[Trade]]]:
        return list, (self._all(),)  # to another process as the list it stands for


class GridEngine:
    """The candidates of every way the combinations choose their put, over the sessions from start to end; each
    run of a combination on a window inside them then only walks the sessions."""

    def __init__(self, history: History, combinations: Sequence[StrategyParams], start: dt.date,
                 end: dt.date) -> None:
        self.history = history
        self.market = np.column_stack([history.spx_close, history.rate, history.dividend, history.vix,
                                       history.vix3m])
        self.lo, self.hi = history.window(start, end)
        choosers = {Chooser.of(p) for p in combinations}
        tables = {monthly: listed_table(history, self.lo, self.hi,
                                        max(2 * c.dte_target + 21 for c in choosers if c.monthly == monthly), monthly)
                  for monthly in {c.monthly for c in choosers}}
        self.shared = {c: candidates(history, c, self.lo, self.hi, tables[c.monthly],
                                     (min(p.min_vix for p in combinations if Chooser.of(p) == c),
                                      max(p.max_vix for p in combinations if Chooser.of(p) == c)))
                       for c in choosers}

    def run(self, p: StrategyParams, start: dt.date, end: dt.date) -> BacktestResult:
        """The combination over the window, as run_backtest would (the window within the engine's)."""
        from trading import grid_kernel

        history, found = self.history, self.shared[Chooser.of(p)]
        first, stop = history.window(start, end)
        if stop - first < 2:
            raise BacktestError(f"fewer than two sessions of data between {start} and {end}")
        assert self.lo <= first and stop <= self.hi, "a window outside the engine's sessions"
        growth = session_growth(history, first, stop)
        walked = grid_kernel.walk(first, stop, self.lo, history.ordinals, history.spx_open, history.spx_close,
                                  history.vix, growth, self.market, MODEL, found.valid, found.expiry, found.settles,
                                  found.strike, found.am, found.offset, found.marks, found.priced, found.entry,
                                  knobs(p))
        return _result(history, p, found, first, growth, walked)


def warm() -> None:
    """Compile the kernel into numba's cache beside it (6 s once): the install does it, so that no command waits
    for it later."""
    history = load_bundled()
    p = StrategyParams(put_delta=0.2, dte_target=30)
    start, end = history.dates[-30], history.dates[-1]
    GridEngine(history, [p], start, end).run(p, start, end)


def knobs(p: StrategyParams) -> np.ndarray:
    """The kernel's record of a parameter set (grid_kernel.KNOBS, by name)."""
    from trading import grid_kernel as k

    u = UNDERLYINGS[p.underlying]
    derived = {"scale": u.scale, "cash_secured": p.margin == "cash", "size_code": SIZE_CODES[p.size_by],
               "penny": u.penny}
    record = np.zeros(1, dtype=k.KNOBS)
    for name in k.KNOBS.fields or ():
        record[name] = derived[name] if name in derived else getattr(p, name)
    return record


def _result(history: History, p: StrategyParams, found: Candidates, first: int, growth: np.ndarray,
            walked: tuple[np.ndarray, int, int, float, float, np.ndarray, np.ndarray, int, float]) -> BacktestResult:
    from trading import grid_kernel as k

    equity, ruined, position_days, exposure_sum, exposure_peak, log_i, log_f, count, deficit = walked
    log_i, log_f = log_i[:count].copy(), log_f[:count].copy()  # let the session-sized logs go
    end, candidate = log_i[:, k.T_END], log_i[:, k.T_ENTRY] - found.lo
    closed = log_f[end != OPEN, k.T_PNL].tolist()
    assert history.open_real is not None
    stand_in = (end == SETTLED) & found.am[candidate] & ~history.open_real[log_i[:, k.T_DAY]]
    counted = Tally(0, int(stand_in.sum()), int(np.isin(end, BUY_BACKS).sum()), 0,
                    float(np.mean(-found.entry[candidate, 1])) if count else math.nan)
    trades = LazyTrades(count, lambda: _trades(history, p, found, log_i, log_f),
                        lambda: _columns(history, p, found, log_i, log_f))
    return summarize(history, first, p.capital, growth, equity, trades, closed, counted, position_days,
                     None if ruined < 0 else history.dates[ruined], exposure_sum, exposure_peak, deficit)


def _columns(history: History, p: StrategyParams, found: Candidates, log_i: np.ndarray,
             log_f: np.ndarray) -> TradeColumns:
    """The trades of a kernel's log as columns (db.mapping.trade_columns' form), without a Trade built: what a
    calibration stores, a million rows in seconds."""
    from trading import grid_kernel as k

    candidate = log_i[:, k.T_ENTRY] - found.lo
    end, day = log_i[:, k.T_END], log_i[:, k.T_DAY]
    first = found.offset[candidate]
    bought = np.isin(end, BUY_BACKS)
    settled = end == SETTLED
    sold, which = np.unique(candidate, return_inverse=True)  # each contract built once, then shared
    contracts = [found.contract(c) for c in sold.tolist()]
    contracts = [contracts[j] for j in which.tolist()]
    texts = {code: exit_text(code, p) for code in BUY_BACKS}
    assert history.open_real is not None
    stand_in = settled & found.am[candidate] & ~history.open_real[np.where(settled, day, 0)]

    def where(mask: np.ndarray, values: list[Any]) -> list[Any]:
        return [v if m else None for m, v in zip(mask.tolist(), values, strict=True)]

    dates = history.dates
    return {"ticker": [c.ticker for c in contracts], "root": [c.root for c in contracts],
            "entry_date": [dates[i] for i in log_i[:, k.T_ENTRY].tolist()],
            "expiry": [c.expiry for c in contracts], "strike": [c.strike for c in contracts],
            "contracts": log_i[:, k.T_CONTRACTS].tolist(), "entry_price": found.marks[first].tolist(),
            "fill": log_f[:, k.T_FILL].tolist(), "premium": log_f[:, k.T_PREMIUM].tolist(),
            "source": [PriceSource.ESTIMATED] * len(contracts), "entry_delta": found.entry[candidate, 1].tolist(),
            "settlement": where(settled, log_f[:, k.T_VALUE].tolist()),
            "settlement_source": [SettlementSource.STAND_IN if s else SettlementSource.REAL if t else
                                  SettlementSource.EXIT if b else None
                                  for s, t, b in zip(stand_in.tolist(), settled.tolist(), bought.tolist())],
            "pnl": where(end != OPEN, log_f[:, k.T_PNL].tolist()),
            "exit_reason": [texts[e] if b else None for e, b in zip(end.tolist(), bought.tolist())],
            "exit_date": where(bought, [dates[i] for i in day.tolist()]),
            "exit_fill": where(bought, log_f[:, k.T_EXIT_FILL].tolist()),
            "exit_source": where(bought, [PriceSource.ESTIMATED] * len(contracts))}


def _trades(history: History, p: StrategyParams, found: Candidates, log_i: np.ndarray,
            log_f: np.ndarray) -> list[Trade]:
    """The Trade records of a kernel's log, with the fields run_backtest gives them."""
    from trading import grid_kernel as k

    made = []
    candidate = log_i[:, k.T_ENTRY] - found.lo
    first = found.offset[candidate]
    last = np.where(np.isin(log_i[:, k.T_END], BUY_BACKS), first + log_i[:, k.T_DAY] - log_i[:, k.T_ENTRY], first)
    for (entry, contracts, end, day), (fill, premium, pnl, value, exit_fill), c, price, mark, (iv, delta) in zip(
            log_i.tolist(), log_f.tolist(), candidate.tolist(), found.marks[first].tolist(),
            found.marks[last].tolist(), found.entry[candidate].tolist(), strict=True):
        contract = found.contract(c)
        sold = (contract.ticker, contract.root, history.dates[entry], contract.expiry, contract.strike, contracts,
                price, fill, premium, PriceSource.ESTIMATED, delta, iv)
        if end == OPEN:
            made.append(Trade(*sold, None, None))
        elif end == SETTLED:
            made.append(Trade(*sold, value, pnl, history.settlement_source(day, contract.am_settled)))
        else:
            made.append(Trade(*sold, None, pnl, SettlementSource.EXIT, exit_text(end, p), history.dates[day], mark,
                              exit_fill, PriceSource.ESTIMATED))
    return made
