"""The grid engine against the reference engine: on every window and parameter set below, the same trades (every
dollar field exactly, the estimated prices to 1e-9 of themselves) and the same equity to the cent."""

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from backtest.spx_premium_backtest import BacktestError, run_backtest
from data.market import EmbeddedSource, History
from trading.grid_engine import GridEngine, serves
from trading.rules import Rules
from trading.strategy import StrategyParams
from trading.walk_forward import walk_forward

WINDOWS = [(dt.date(1990, 1, 2), dt.date(1992, 6, 30)),  # AM monthlies only, a stale open: stand-in settlements
           (dt.date(2007, 6, 1), dt.date(2009, 6, 30)),  # AM Weeklys, SPXQ, the 2008 crash
           (dt.date(2019, 6, 1), dt.date(2021, 3, 31)),  # Monday/Wednesday/Friday weeklies, the 2020 crash
           (dt.date(2025, 1, 2), dt.date(2026, 7, 10))]  # every weekday, to the end of the history
KNOBS = [{},
         {"take_profit": 0.5, "stop_loss": 2},
         {"stop_loss": 1.5, "close_dte": 5, "size_by": "margin", "size_target": 0.5},
         {"take_profit": 0.25, "close_dte": 21, "min_premium": 150},
         {"underlying": "XSP", "contracts_per_trade": 12, "expiries": "monthly", "stop_loss": 3},
         {"strike_rule": "atm", "margin": "cash", "max_margin_pct": 0.99, "size_by": "notional"},
         {"size_by": "notional", "size_target": 4, "max_margin_pct": 0.95, "max_open_positions": 5},  # margin calls
         {"contracts_per_trade": 40, "max_margin_pct": 0.99, "min_vix": 0, "max_vix": 100},
         {"slippage": 0, "fee": 0, "max_open_positions": 1, "min_vix": 15},
         {"strike_rule": "bs-delta", "stop_loss": 2},
         {"strike_rule": "bs-delta", "underlying": "XSP", "contracts_per_trade": 10, "take_profit": 0.5}]
COMBINATIONS = [StrategyParams(put_delta=delta, dte_target=dte, **knobs)
                for knobs in KNOBS for delta, dte in ((0.1, 9), (0.3, 40))]
PRICES = {"entry_price", "entry_delta", "entry_iv", "exit_price"}  # estimates: equal to rounding, not bit for bit


def same_trade(grid, engine):
    for f in dataclasses.fields(grid):
        a, b = getattr(grid, f.name), getattr(engine, f.name)
        if f.name in PRICES and a is not None and b is not None:
            assert math.isclose(a, b, rel_tol=1e-9), (f.name, grid, engine)
        else:
            assert a == b, (f.name, grid, engine)


def crashed(day: dt.date, fall: float) -> History:
    """The bundled history with the index down by `fall` from the session `day` on (no data has a gap deep
    enough to ruin a Reg-T account whose margin calls are met)."""
    history = EmbeddedSource().history()
    after = np.asarray(history.ordinals) >= day.toordinal()
    scale = np.where(after, 1 - fall, 1.0)
    return dataclasses.replace(history, spx_open=history.spx_open * scale, spx_close=history.spx_close * scale)


def agree(source, start, end, combinations):
    """Both engines over the window, for each combination; returns the grid engine's results."""
    engine = GridEngine(source.history(), combinations, start, end)
    runs = []
    for p in combinations:
        grid, reference = engine.run(p, start, end), run_backtest(source, Rules(p), start, end, p.capital,
                                                                  p.expiries == "monthly")
        assert len(grid.trades) == len(reference.trades), p
        for a, b in zip(grid.trades, reference.trades):
            same_trade(a, b)
        assert grid.dates == reference.dates and grid.ruined == reference.ruined
        assert grid.deficit == reference.deficit
        assert np.max(np.abs(grid.equity - reference.equity)) < 0.005
        assert grid.position_days == reference.position_days
        assert grid.metrics.trades == reference.metrics.trades and grid.metrics.wins == reference.metrics.wins
        assert grid.exposure == pytest.approx(reference.exposure, rel=1e-12)
        assert grid.vix3m_missing == reference.vix3m_missing
        assert grid.tally[:4] == reference.tally[:4]
        assert grid.tally.entry_delta == pytest.approx(reference.tally.entry_delta, rel=1e-12, nan_ok=True)
        runs.append(grid)
    return runs


@pytest.mark.parametrize("start, end", WINDOWS)
def test_the_grid_engine_trades_as_the_engine_does(start, end):
    source = EmbeddedSource()
    assert serves(source)
    agree(source, start, end, COMBINATIONS)


def test_both_engines_see_the_same_ruin():
    runs = agree(EmbeddedSource(crashed(dt.date(2019, 3, 4), 0.35)), dt.date(2019, 1, 2), dt.date(2019, 6, 28),
                 COMBINATIONS)
    assert {r.ruined for r in runs} >= {None, dt.date(2019, 3, 4)}
    assert all((r.deficit > 0) == (r.ruined is not None) for r in runs)  # a ruin says what the account owes


def test_the_parameter_sets_reach_every_path():
    """The sets above exercise what they are there for: every exit, margin calls, stand-in settlements."""
    source = EmbeddedSource()
    start, end = WINDOWS[0][0], WINDOWS[-1][1]
    engine = GridEngine(source.history(), COMBINATIONS, start, end)
    runs = [engine.run(p, s, e) for p in COMBINATIONS for s, e in WINDOWS]
    reasons = {t.exit_reason for r in runs for t in r.trades}
    assert {"stop loss 2x", "take profit 50%", "5 days to expiry", "margin call"} <= reasons
    assert any(t.settlement_source == "stand-in" for r in runs for t in r.trades)
    assert any(t.pnl is None for r in runs for t in r.trades)  # open at the end of a window


class Delegating:
    """The bundled history behind another class: the grid engine does not serve it, so the engine runs."""

    def __init__(self) -> None:
        self.inner = EmbeddedSource()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_walk_forward_chooses_and_trades_the_same_on_both_engines():
    grid = [StrategyParams(put_delta=d, dte_target=t, stop_loss=s) for d in (0.1, 0.3) for t in (9, 40)
            for s in (0, 2)]
    args = (dt.date(2016, 1, 4), dt.date(2020, 12, 31), "2y", "1y", False, "sharpe", 5)
    assert not serves(Delegating())
    fast, slow = walk_forward(EmbeddedSource(), grid, *args), walk_forward(Delegating(), grid, *args)
    assert [r.winner.params for r in fast.results] == [r.winner.params for r in slow.results]
    assert fast.dates == slow.dates and np.max(np.abs(fast.equity - slow.equity)) < 0.005


def test_a_window_of_one_session_is_refused_as_by_the_engine():
    day = dt.date(2020, 3, 2)
    engine = GridEngine(EmbeddedSource().history(), COMBINATIONS[:1], day, day + dt.timedelta(days=30))
    with pytest.raises(BacktestError, match="fewer than two sessions"):
        engine.run(COMBINATIONS[0], day, day)


def test_the_compiled_estimate_prices_as_the_estimate_does():
    """The kernel compiles data/pricing.py's estimate itself; its two compiled primitives (a branch for np.where,
    erfc for ndtr) must give the same prices: over random days, both sides of the forward, VIX3M missing, times
    under a day and at expiry."""
    from numba import njit

    import trading.grid_kernel  # noqa: F401  (registers the compiled forms)
    from data.pricing import FITTED, estimate, estimate_put

    @njit
    def compiled(spot, strike, t, r, q, vix, vix3m, premium, gap, psi_1m, alpha):
        return estimate(spot, strike, t, r, q, vix, vix3m, premium, gap, psi_1m, alpha)

    rng = np.random.default_rng(11)
    for _ in range(500):
        spot, t = rng.uniform(300, 7000), rng.choice([0.0, rng.uniform(0.01, 1), rng.uniform(1, 400)]) / 365
        args = (spot, spot * rng.uniform(0.5, 1.2), t, rng.uniform(0, 0.06), rng.uniform(0, 0.03),
                rng.uniform(9, 80), math.nan if rng.random() < 0.3 else rng.uniform(9, 80))
        got = compiled(*args, FITTED.premium, FITTED.gap, FITTED.psi_1m, FITTED.alpha)
        assert got == pytest.approx(estimate_put(*args), rel=1e-12, abs=1e-12)


def test_every_knob_is_read_by_the_kernel_or_said_not_to_apply():
    """A new StrategyParams field cannot be silently ignored by the grid engine: it is a field of the kernel's
    record or listed, with the reason, as not applying to the loop."""
    from dataclasses import fields

    from pathlib import Path

    import trading.grid_kernel
    import trading.rules
    from trading.grid_kernel import KNOBS, NOT_IN_THE_LOOP

    declared = {f.name for f in fields(StrategyParams)}
    read = declared & set(KNOBS.names)
    assert read | set(NOT_IN_THE_LOOP) == declared and not read & set(NOT_IN_THE_LOOP)
    assert set(KNOBS.names) - declared == {"scale", "cash_secured", "size_code", "penny"}  # derived from fields
    assert all(len(reason) > 20 for reason in NOT_IN_THE_LOOP.values())
    code = "".join(Path(m.__file__).read_text() for m in (trading.grid_kernel, trading.rules))
    assert [name for name in KNOBS.names if f"p.{name}" not in code] == []  # each knob in the record is read


def test_the_rows_stored_from_the_kernels_log_are_the_trades_rows():
    """A calibration stores the grid engine's trades from the kernel's log as columns, never building a Trade: the
    rows must be those of the trades built one by one (every exit, stand-ins, open positions, XSP)."""
    from db.mapping import backtest_trade_rows, trade_columns

    source = EmbeddedSource()
    for start, end in WINDOWS:
        engine = GridEngine(source.history(), COMBINATIONS, start, end)
        for p in COMBINATIONS:
            trades = engine.run(p, start, end).trades
            assert backtest_trade_rows(7, trades.columns()) == backtest_trade_rows(7, trade_columns(list(trades))), p
