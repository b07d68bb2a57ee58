"""The metrics on the edge cases a metrics library must get right (in the manner of empyrical's tables): no data,
one return, a flat curve, only losses, ruin, and the same answer at any scale. Expected values worked by hand."""

import math

import numpy as np
import pytest

from backtest.metrics import TRADING_DAYS, compute, max_drawdown, sharpe, sortino

LOSSES = np.array([-0.01, -0.02, -0.01])  # mean -0.013333; sample std 0.0057735; downside deviation 0.0141421


@pytest.mark.parametrize("equity, expected", [
    ([], 0.0),  # no curve: no drawdown
    ([100.0], 0.0),  # one value
    ([100.0, 100.0, 100.0], 0.0),  # flat
    ([100.0, 90.0, 81.0], 0.19),  # only falls: 81 / 100
    ([100.0, 120.0, 90.0, 130.0, 65.0], 0.5),  # the deepest fall from a running peak: 65 / 130
    ([100.0, 50.0, 0.0], 1.0),  # ruin
])
def test_max_drawdown_table(equity, expected):
    curve = np.array(equity, dtype=float)
    assert max_drawdown(curve) == pytest.approx(expected)
    assert max_drawdown(curve * 37.5) == pytest.approx(expected)  # scale-invariant


@pytest.mark.parametrize("returns, expected", [
    ([], math.nan),
    ([0.01], math.nan),  # one return: no deviation
    ([0.01, 0.01, 0.01], math.nan),  # flat excess: no deviation
    (LOSSES, -0.0133333 / 0.0057735 * math.sqrt(TRADING_DAYS)),  # -36.66
    ([0.02, -0.01, 0.02, -0.01], 0.005 / 0.0173205 * math.sqrt(TRADING_DAYS)),  # 4.58
])
def test_sharpe_table(returns, expected):
    r = np.array(returns, dtype=float)
    got = sharpe(r, np.zeros_like(r))
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected, rel=1e-4)
    if r.size:
        assert sharpe(r * 3, np.zeros_like(r)) == pytest.approx(got, rel=1e-9, nan_ok=True)  # scale-invariant


@pytest.mark.parametrize("returns, expected", [
    ([], math.nan),
    ([0.01, 0.02], math.nan),  # no downside
    ([0.0, 0.0], math.nan),  # flat
    (LOSSES, -0.0133333 / 0.0141421 * math.sqrt(TRADING_DAYS)),  # -14.97
    ([0.02, -0.01, 0.02, -0.01], 0.005 / math.sqrt(0.0002 / 4) * math.sqrt(TRADING_DAYS)),  # 11.22
])
def test_sortino_table(returns, expected):
    r = np.array(returns, dtype=float)
    got = sortino(r, np.zeros_like(r))
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected, rel=1e-4)


def test_sharpe_is_measured_over_the_riskfree_rate():
    r = np.array([0.02, -0.01, 0.02, -0.01])
    assert sharpe(r + 0.001, np.full(4, 0.001)) == pytest.approx(sharpe(r, np.zeros(4)))


def test_ruin_and_a_flat_curve_through_compute():
    ruined = compute(np.array([100.0, 50.0, 0.0]), np.zeros(2), 365, [-100.0])
    assert (ruined.total_return, ruined.cagr, ruined.max_drawdown, ruined.wins, ruined.win_rate) == (
        -1.0, -1.0, 1.0, 0, 0.0)
    flat = compute(np.array([100.0, 100.0, 100.0]), np.zeros(2), 730, [])
    assert (flat.total_return, flat.cagr, flat.max_drawdown) == (0.0, 0.0, 0.0)
    assert math.isnan(flat.win_rate) and math.isnan(flat.sharpe) and math.isnan(flat.calmar)
    doubled = compute(np.array([100.0, 150.0, 200.0]), np.zeros(2), 730, [50.0, 50.0])  # two years, x2
    assert doubled.cagr == pytest.approx(2 ** (365.25 / 730) - 1) and doubled.win_rate == 1.0
