"""Walk-forward calibration: choose on each training window, trade the winner on the test window after it, and
stitch the test windows into one out-of-sample record, to set beside what the in-sample winner promised.

Each test window starts flat with the starting capital and is chained to the others by its daily returns; the
positions still open when a test window ends are counted at their mark on its last day (none is carried over).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from backtest import metrics
from backtest.spx_premium_backtest import BacktestResult, run_backtest
from backtest.values import defined
from data.errors import BadInput
from data.market import MarketSource
from db.models import CalibrationRun, WalkForwardFold
from trading.grid_engine import GridEngine, serves
from trading.optimizer import Calibration, Combination, backtest_each, choose
from trading.parallel import mapped
from trading.rules import Rules
from trading.strategy import GRID_DIMENSIONS, StrategyParams


def span(text: str) -> relativedelta:
    """A span as choices.walk_forward_spans accepts it (5y, 18m) as a calendar span."""
    count, unit = int(text[:-1]), text[-1]
    return relativedelta(years=count) if unit == "y" else relativedelta(months=count)


@dataclass(frozen=True)
class Fold:
    train_start: dt.date
    train_end: dt.date
    test_start: dt.date
    test_end: dt.date


def folds(start: dt.date, end: dt.date, train: str, test: str, anchored: bool) -> list[Fold]:
    """The test windows one after the other from `start` + TRAIN to `end` (the last one cut at `end`), each with
    the training window before it: the TRAIN span just before it, or everything from `start` when anchored."""
    found = []
    test_start = start + span(train)
    while test_start <= end:
        test_end = min(test_start + span(test) - dt.timedelta(days=1), end)
        train_start = start if anchored else test_start - span(train)
        found.append(Fold(train_start, test_start - dt.timedelta(days=1), test_start, test_end))
        test_start = test_end + dt.timedelta(days=1)
    if not found:
        raise BadInput(f"the window {start} .. {end} is shorter than one training window ({train}): start earlier "
                       "or train on less")
    return found


@dataclass(frozen=True)
class FoldResult:
    fold: Fold
    winner: Combination | None  # the training window's best; None when no combination was eligible
    test: BacktestResult | None  # the winner traded on the test window

    @property
    def open_at_end(self) -> int:
        """Positions still open when the test window ended (counted at their mark)."""
        return 0 if self.test is None else len(self.test.trades) - self.test.metrics.trades


@dataclass(frozen=True)
class WalkForward:
    train: str
    test: str
    anchored: bool
    results: list[FoldResult]
    dates: list[dt.date]  # the sessions of the stitched test windows
    equity: np.ndarray  # the stitched equity at each of them, from the starting capital
    metrics: metrics.Metrics

    @property
    def traded(self) -> list[FoldResult]:
        return [r for r in self.results if r.test is not None]


# Combination-sessions below which the grid engine's folds run in this process: forking costs about half a second,
# more than the 48-combination walk-forward over 1990-2026 (441,000 combination-sessions) takes in one process
# (0.25 s against 0.84 s in two); 1,000 combinations (9.2 million) take 17.6 s in one and 10.2 s in two.
FORK_WORTH = 4_000_000


def walk_forward(source: MarketSource, combinations: Sequence[StrategyParams], start: dt.date, end: dt.date,
                 train: str, test: str, anchored: bool, objective: str, min_trades: int,
                 progress: Callable[[int, int], None] = lambda done, total: None, workers: int = 1) -> WalkForward:
    """Every fold (each in one of `workers` processes): the grid on its training window, then its winner on its
    test window; and the stitched out-of-sample record."""
    engine = GridEngine(source.history(), combinations, start, end) if serves(source) else None

    def one(fold: Fold) -> FoldResult:
        tried = backtest_each(source, combinations, fold.train_start, fold.train_end, engine=engine)
        best = choose(tried, objective, min_trades)
        if best is None:
            return FoldResult(fold, None, None)
        p = tried[best].params
        test = (engine.run(p, fold.test_start, fold.test_end) if engine else
                run_backtest(source, Rules(p), fold.test_start, fold.test_end, p.capital, p.expiries == "monthly"))
        return FoldResult(fold, tried[best], test)

    spans = folds(start, end, train, test, anchored)
    small = engine is not None and len(combinations) * (engine.hi - engine.lo) < FORK_WORTH
    results = mapped(one, spans, 1 if source.fetches or small else workers, progress)
    return _stitched(train, test, anchored, results, combinations[0].capital)


def _stitched(train: str, test: str, anchored: bool, results: list[FoldResult], capital: float) -> WalkForward:
    """Chain the test windows by their daily returns (a window without a winner is left out: no trade), up to
    the first ruin."""
    traded: list[BacktestResult] = []
    for result in results:
        if result.test is not None and not (traded and traded[-1].ruined):
            traded.append(result.test)
    if not traded:
        raise BadInput("no training window had an eligible combination: nothing was traded out of sample "
                       "(lower --min-trades or train on more)")
    returns = np.concatenate([t.returns for t in traded])
    riskfree = np.concatenate([t.riskfree for t in traded])
    dates = [d for t in traded for d in t.dates]
    curve = capital * np.cumprod(np.concatenate([[1.0], 1.0 + returns]))
    pnls = [trade.pnl for t in traded for trade in t.trades if trade.pnl is not None]
    return WalkForward(train, test, anchored, results, dates, curve[1:],
                       metrics.compute(curve, riskfree, (dates[-1] - dates[0]).days, pnls))


def metrics_summary(m: metrics.Metrics) -> dict[str, Any]:
    """The metrics stored and shown for a fold (None for what is not defined)."""
    return {"closed_trades": m.trades, "wins": m.wins, "win_rate": defined(m.win_rate),
            "total_return": m.total_return, "cagr": defined(m.cagr), "max_drawdown": m.max_drawdown,
            "sharpe": defined(m.sharpe)}


def save_walk_forward(session: Session, walked: WalkForward, calibration: Calibration, calibration_run: int,
                      today: dt.date, now: dt.datetime) -> CalibrationRun:
    """Store the walk-forward as a run of its own (the stitched record and the calibration run it belongs to in
    its settings) and a row per fold."""
    base = calibration.combinations[0].params
    settings = {"calibration_run": calibration_run, "train": walked.train, "test": walked.test,
                "anchored": walked.anchored,
                "grid": [[getattr(c.params, name) for name in GRID_DIMENSIONS] for c in calibration.combinations],
                "out_of_sample": {"start": walked.dates[0].isoformat(), "end": walked.dates[-1].isoformat(),
                                  **metrics_summary(walked.metrics)},
                **{k: v for k, v in base.stored().items() if k not in GRID_DIMENSIONS}}
    run = CalibrationRun(created_at=now, calibration_date=today, kind="walk-forward", window_start=calibration.start,
                         window_end=calibration.end, source=calibration.source, objective=calibration.objective,
                         settings=settings)
    session.add(run)
    session.flush()
    for number, result in enumerate(walked.results, start=1):
        f, winner, test = result.fold, result.winner, result.test
        session.add(WalkForwardFold(
            run_id=run.id, fold=number, train_start=f.train_start, train_end=f.train_end, test_start=f.test_start,
            test_end=f.test_end, strategy=None if winner is None else winner.params.stored(),
            in_sample=None if winner is None else metrics_summary(winner.result.metrics),
            out_of_sample=None if test is None else {**metrics_summary(test.metrics),
                                                     "open_at_end": result.open_at_end}))
    return run
