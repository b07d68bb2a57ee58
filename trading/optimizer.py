"""The grid optimizer: every combination backtested, ranked by the objective among those with enough closed
trades, and stored (the run, each combination, every trade, and the best as the active WheelParameters)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.orm import Session

from backtest.spx_premium_backtest import BacktestResult, Trade, run_backtest
from backtest.values import defined
from data.errors import BadInput, SpxWheelError
from data.market import MarketSource
from db.mapping import TRADE_COLUMNS, backtest_trade_rows, trade_columns
from db.models import BacktestTrade, CalibrationRun, CombinationResult, WheelParameters
from trading.choices import OBJECTIVES
from trading.grid_engine import GridEngine, LazyTrades, serves
from trading.parallel import mapped
from trading.rules import Rules
from trading.strategy import GRID_DIMENSIONS, StrategyParams


class CalibrationError(SpxWheelError):
    """No combination of the grid can be chosen."""


@dataclass(frozen=True)
class Combination:
    params: StrategyParams
    result: BacktestResult


@dataclass(frozen=True)
class Calibration:
    start: dt.date
    end: dt.date
    source: str
    objective: str
    combinations: list[Combination]
    best: int | None  # index into combinations; None when no combination is eligible
    min_trades: int = 0  # closed trades a combination needs to be chosen
    partial_days: frozenset[dt.date] = frozenset()  # chain days listing fewer expirations than the calendar

    def eligible(self, combination: Combination) -> bool:
        return eligible(combination.result, self.min_trades)

    @property
    def best_combination(self) -> Combination:
        if self.best is None:
            raise CalibrationError(f"no combination closed at least {self.min_trades} trades between {self.start} "
                                   f"and {self.end}: nothing saved (widen the window or lower --min-trades)")
        return self.combinations[self.best]

    @property
    def real(self) -> int:
        return sum(c.result.real for c in self.combinations)

    @property
    def estimated(self) -> int:
        return sum(c.result.estimated for c in self.combinations)

    @property
    def vix3m_missing(self) -> int:
        """Sessions of the window without VIX3M (the same for every combination)."""
        return self.combinations[0].result.vix3m_missing

    @property
    def stand_in_settlements(self) -> int:
        return sum(c.result.stand_in_settlements for c in self.combinations)

    @property
    def partial_entries(self) -> int:
        """Entries made on a day whose chain listed fewer expirations than were listed."""
        if not self.partial_days:
            return 0
        return sum(t.entry_date in self.partial_days for c in self.combinations for t in c.result.trades)


PARTIAL_REACH = 45  # days ahead within which a chain day's expirations are held against the calendar's


def eligible(result: BacktestResult, min_trades: int) -> bool:
    """A combination may be chosen when it closed enough trades and did not ruin the account."""
    return result.ruined is None and result.metrics.trades >= min_trades


def _score(value: float) -> float:
    known = defined(value)
    return -math.inf if known is None else known


def rank_key(objective: str, combination: Combination) -> tuple[float, float, int]:
    """Higher is better: the objective, then Sharpe, then fewer trades."""
    m = combination.result.metrics
    return _score(OBJECTIVES[objective][1](m)), _score(m.sharpe), -m.trades


MAX_COMBINATIONS = 2_000  # what a 24 GB machine holds with room to spare


def grid_combinations(dimensions: Mapping[str, Sequence[Any]], knobs: dict[str, Any]) -> list[StrategyParams]:
    """Every combination of the grid's dimensions (StrategyParams fields, each with the values to try) with the
    other knobs, each validated before anything runs."""
    names, size = list(dimensions), math.prod(len(values) for values in dimensions.values())
    if size > MAX_COMBINATIONS:
        raise BadInput(f"a grid of {size:,} combinations is more than {MAX_COMBINATIONS:,}, the most one calibrate "
                       "runs (a 1,000-combination grid over 1990-2026 peaks at about 1.4 GB): try fewer values")
    return [StrategyParams(**knobs, **dict(zip(names, values, strict=True)))
            for values in itertools.product(*dimensions.values())]


def horizon(combinations: Sequence[StrategyParams]) -> int:
    """How many calendar days ahead any of the combinations may look for an expiration."""
    return max(Rules(params).expiry_horizon() for params in combinations)


def backtest_each(source: MarketSource, combinations: Sequence[StrategyParams], start: dt.date, end: dt.date,
                  progress: Callable[[int, int], None] = lambda done, total: None,
                  workers: int = 1, engine: GridEngine | None = None) -> list[Combination]:
    """Every combination backtested over the window: by the grid engine where it serves the source (`engine`:
    one already prepared over a span that holds the window), else by the engine in `workers` processes (one for
    a source that fetches: what a run misses is learnt in the process that fetches it)."""
    if engine is None and serves(source):
        engine = GridEngine(source.history(), combinations, start, end)
    if engine is not None:
        return mapped(lambda params: Combination(params, engine.run(params, start, end)), combinations, 1, progress)

    def one(params: StrategyParams) -> Combination:
        return Combination(params, run_backtest(source, Rules(params), start, end, params.capital,
                                                params.expiries == "monthly"))

    return mapped(one, combinations, 1 if source.fetches else workers, progress)


def choose(combinations: Sequence[Combination], objective: str, min_trades: int) -> int | None:
    """The index of the best combination by the objective among the eligible ones (None when none is)."""
    candidates = [i for i, c in enumerate(combinations) if eligible(c.result, min_trades)]
    return max(candidates, key=lambda i: rank_key(objective, combinations[i])) if candidates else None


def run_grid(source: MarketSource, combinations: Sequence[StrategyParams], start: dt.date, end: dt.date,
             objective: str, min_trades: int = 0,
             progress: Callable[[int, int], None] = lambda done, total: None, workers: int = 1) -> Calibration:
    """Backtest every combination and pick the best of those with at least `min_trades` closed trades."""
    done = backtest_each(source, combinations, start, end, progress, workers)
    first = done[0].result
    partial = source.partial_listings(first.start, first.end, min(PARTIAL_REACH, horizon(combinations)))
    return Calibration(first.start, first.end, source.name, objective, done, choose(done, objective, min_trades),
                       min_trades, partial)


def store_trades(session: Session, results: Sequence[tuple[int, Sequence[Trade]]]) -> None:
    """Every combination's trades, a combination at a time, through the driver's executemany of plain tuples in
    the session's transaction: SQLAlchemy's per-row work (a dict and a bind processor per value) took most of a
    1,000-combination calibration's time. SQLite takes dates as ISO text, as SQLAlchemy's Date stores them."""
    connection = session.connection()
    dialect = connection.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = (f"INSERT INTO {BacktestTrade.__tablename__} ({', '.join(TRADE_COLUMNS)}) "
                 f"VALUES ({', '.join([mark] * len(TRADE_COLUMNS))})")
    day: Callable[[dt.date], object] = functools.cache(dt.date.isoformat if dialect.name == "sqlite" else
                                                       lambda d: d)  # a few thousand dates, a million rows
    copy = dialect.name == "postgresql"  # PostgreSQL's bulk path: COPY, through psycopg
    for result_id, trades in results:
        if not trades:
            continue
        rows = backtest_trade_rows(result_id, trades.columns() if isinstance(trades, LazyTrades) else
                                   trade_columns(trades), day)
        if copy:
            _copy(connection, rows)
        else:
            connection.exec_driver_sql(statement, rows)


def _copy(connection: Any, rows: list[tuple[object, ...]]) -> None:
    """Rows into backtest_trades by COPY ... FROM STDIN on the session's own connection (its transaction)."""
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {BacktestTrade.__tablename__} ({', '.join(TRADE_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def save_calibration(session: Session, calibration: Calibration, kind: str, today: dt.date,
                     now: dt.datetime, extra: dict[str, Any] | None = None,
                     ) -> tuple[CalibrationRun, WheelParameters | None]:
    """Store the run (its settings with `extra`), every combination and its trades; for a calibration also the
    best as WheelParameters."""
    base = calibration.combinations[0].params
    settings = {k: v for k, v in asdict(base).items() if k not in GRID_DIMENSIONS} | (extra or {})
    settings["grid"] = [[getattr(c.params, name) for name in GRID_DIMENSIONS] for c in calibration.combinations]
    shown = calibration.combinations[calibration.best or 0].result  # the best's curve, for the report
    settings["equity"] = {"dates": [d.isoformat() for d in shown.dates],
                          "values": [round(float(v), 2) for v in shown.equity]}
    run = CalibrationRun(created_at=now, calibration_date=today, kind=kind, window_start=calibration.start,
                         window_end=calibration.end, source=calibration.source, objective=calibration.objective,
                         settings=settings)
    session.add(run)
    session.flush()
    rows = []
    for index, combination in enumerate(calibration.combinations):
        m, result = combination.result.metrics, combination.result
        row = CombinationResult(run_id=run.id, **{name: getattr(combination.params, name) for name in GRID_DIMENSIONS},
                                trades=m.trades, wins=m.wins,
                                win_rate=defined(m.win_rate), total_return=m.total_return,
                                cagr=defined(m.cagr), max_drawdown=m.max_drawdown, sharpe=defined(m.sharpe),
                                sortino=defined(m.sortino), calmar=defined(m.calmar), real=result.real,
                                estimated=result.estimated, best=index == calibration.best, ruined=result.ruined,
                                deficit_cents=round(result.deficit * 100), peak_exposure=defined(result.exposure[1]))
        session.add(row)
        rows.append(row)
    session.flush()
    store_trades(session, [(row.id, c.result.trades) for row, c in zip(rows, calibration.combinations, strict=True)])
    if kind != "calibrate":
        return run, None
    best = calibration.best_combination
    best_row = rows[calibration.combinations.index(best)]
    p, m = best.params, best.result.metrics
    params = WheelParameters(
        created_at=now, calibration_date=today, run_id=run.id, result_id=best_row.id, strategy=p.stored(),
        backtest_trades=m.trades,
        backtest_win_rate=defined(m.win_rate), backtest_total_return=m.total_return,
        backtest_max_drawdown=m.max_drawdown, backtest_sharpe=defined(m.sharpe), source=calibration.source,
        window_start=calibration.start, window_end=calibration.end, objective=calibration.objective)
    session.add(params)
    session.flush()
    return run, params
