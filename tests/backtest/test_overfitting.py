"""The deflated Sharpe ratio, Memmel's test and CSCV against the papers' worked example and hand calculations."""

import math

import numpy as np
import pytest

from backtest.overfitting import (
    backtest_overfitting,
    deflated_sharpe,
    expected_max_sharpe,
    memmel_z,
    probabilistic_sharpe,
    sharpe_difference_p,
)


def test_the_deflated_sharpe_papers_numerical_example():
    """Bailey and Lopez de Prado (2014), section 'A numerical example': 100 trials whose Sharpe ratios vary by
    1/2 a year (1/500 a day over 250 days), the best at 2.5 a year over 1,250 daily returns, skewness -3 and
    kurtosis 10: the expected maximum is 0.1132 a day and the DSR 0.9004."""
    benchmark = expected_max_sharpe(100, 0.5 / 250)
    assert benchmark == pytest.approx(0.1132, abs=5e-5)
    assert probabilistic_sharpe(2.5 / math.sqrt(250), benchmark, 1250, -3.0, 10.0) == pytest.approx(0.9004, abs=5e-5)


def test_deflated_sharpe_from_returns_by_hand():
    """100 returns alternating +1% and -0.5%: mean 0.25%, sd 0.75% x sqrt(100/99), Sharpe 0.33166, no skew,
    kurtosis 1. Alone (one trial) PSR(0) = Phi(0.33166 x sqrt(99)) = 0.99952. As the best of 10 whose Sharpe
    ratios vary by 0.01: the benchmark is 0.1 x (0.42278 x Phi^-1(0.9) + 0.57722 x Phi^-1(1 - 1/(10e))) =
    0.15746, and the DSR Phi((0.33166 - 0.15746) x sqrt(99)) = 0.95848."""
    returns = np.tile([0.01, -0.005], 50)
    assert deflated_sharpe(returns, 1, 0.0) == pytest.approx(0.99952, abs=5e-6)
    assert expected_max_sharpe(10, 0.01) == pytest.approx(0.15746, abs=5e-6)
    assert deflated_sharpe(returns, 10, 0.01) == pytest.approx(0.95848, abs=5e-6)


def test_memmels_statistic_by_hand():
    """Sharpe 0.10 against 0.05, correlation 0.5, 1,000 periods: theta = (2 x 0.5 + (0.01 + 0.0025 - 2 x 0.1 x
    0.05 x 0.25) / 2) / 1000 = 0.001005, z = 0.05 / sqrt(theta) = 1.5772 (one-sided p 0.0574)."""
    assert memmel_z(0.10, 0.05, 0.5, 1000) == pytest.approx(1.5772, abs=5e-5)
    assert memmel_z(0.05, 0.05, 0.9, 1000) == 0.0


def test_the_sharpe_difference_test_on_series():
    """The same series against itself plus a constant edge: identical series are no evidence (p 0.5); a
    series that is the other plus 0.1% a day, correlation 1, is certain evidence (p 0)."""
    rng = np.random.default_rng(7)
    base = rng.normal(0.0, 0.01, 2000)
    assert sharpe_difference_p(base, base) == pytest.approx(0.5)
    assert sharpe_difference_p(base + 0.001, base) < 1e-6
    assert sharpe_difference_p(base, base + 0.001) > 1 - 1e-6


def test_cscv_on_anti_persistent_and_dominant_grids():
    """Two blocks, two strategies: each is best in one block and worst in the other, so the training winner is
    always last on the test half: PBO 1. A strategy ahead in every block is always first on the test half:
    PBO 0."""
    flip = np.array([[0.02, -0.01], [0.01, -0.02], [-0.01, 0.02], [-0.02, 0.01]])
    noise = np.array([[0.001, 0.0], [0.0, 0.001]] * 2)
    assert backtest_overfitting(flip + noise, blocks=2) == 1.0
    rng = np.random.default_rng(3)
    grid = rng.normal(0.0, 0.01, (1600, 12))
    grid[:, 4] += 0.01  # a full standard deviation a day ahead of the rest
    assert backtest_overfitting(grid) == 0.0


def test_cscv_on_pure_noise_is_near_a_coin_flip():
    """Twenty strategies of independent noise: the in-sample best carries no information, so about half the
    splits see it at or below the median (the papers' null)."""
    rng = np.random.default_rng(11)
    assert 0.3 < backtest_overfitting(rng.normal(0.0, 0.01, (1600, 20))) < 0.7


def test_cscv_needs_an_even_number_of_blocks():
    with pytest.raises(ValueError, match="even"):
        backtest_overfitting(np.zeros((10, 3)), blocks=3)
