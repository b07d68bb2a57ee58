"""How much to believe the best of many backtests: the deflated Sharpe ratio (Bailey and Lopez de Prado 2014), the
probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey, Borwein, Lopez de Prado
and Zhu 2017), and Memmel's (2003) test of one Sharpe ratio against another. Pure: per-period (daily) returns in,
numbers out. Sharpe ratios here are per period, not annualised, as the papers state them."""

from __future__ import annotations

import math
from itertools import combinations
from statistics import NormalDist

import numpy as np

EULER_GAMMA = 0.5772156649015329
NORMAL = NormalDist()


def sharpe_ratio(returns: np.ndarray) -> float:
    """Mean over standard deviation (ddof=1) of one period's returns."""
    sd = float(np.std(returns, ddof=1)) if returns.size > 1 else 0.0
    return float(np.mean(returns)) / sd if sd > 0 else math.nan


def probabilistic_sharpe(sharpe: float, benchmark: float, periods: int, skew: float, kurtosis: float) -> float:
    """The probability that the true Sharpe ratio exceeds `benchmark`, given one estimated on `periods` returns
    of that skewness and (non-excess) kurtosis."""
    spread = math.sqrt(1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe ** 2)
    return NORMAL.cdf((sharpe - benchmark) * math.sqrt(periods - 1) / spread)


def expected_max_sharpe(trials: int, variance: float) -> float:
    """The Sharpe ratio the best of `trials` independent tries reaches by luck alone, when the tries' Sharpe
    ratios have that variance and a true value of zero (0 for a single try)."""
    if trials < 2:
        return 0.0
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * NORMAL.inv_cdf(1 - 1 / trials)
                                  + EULER_GAMMA * NORMAL.inv_cdf(1 - 1 / (trials * math.e)))


def deflated_sharpe(returns: np.ndarray, trials: int, variance: float) -> float:
    """The probability that the chosen strategy's true Sharpe ratio is above what the best of `trials` would
    show by luck: PSR with the expected maximum as the benchmark."""
    centred = returns - returns.mean()
    sd = float(np.sqrt(np.mean(centred ** 2)))
    skew = float(np.mean(centred ** 3)) / sd ** 3
    kurtosis = float(np.mean(centred ** 4)) / sd ** 4
    return probabilistic_sharpe(sharpe_ratio(returns), expected_max_sharpe(trials, variance), returns.size, skew,
                                kurtosis)


def memmel_z(sharpe: float, other: float, correlation: float, periods: int) -> float:
    """Memmel's corrected Jobson-Korkie statistic that `sharpe` is above `other`, for two return series of
    `periods` returns with that correlation (standard normal when they are equal)."""
    squares = sharpe ** 2 + other ** 2 - 2 * sharpe * other * correlation ** 2
    variance = (2 * (1 - correlation) + squares / 2) / periods
    if variance <= 0:
        return 0.0 if sharpe == other else math.copysign(math.inf, sharpe - other)
    return (sharpe - other) / math.sqrt(variance)


def sharpe_difference_p(returns: np.ndarray, others: np.ndarray) -> float:
    """One-sided p-value of Memmel's test that the first series' Sharpe ratio is above the second's."""
    correlation = float(np.corrcoef(returns, others)[0, 1]) if np.std(others) > 0 < np.std(returns) else 0.0
    z = memmel_z(sharpe_ratio(returns), sharpe_ratio(others), correlation, returns.size)
    return 1 - NORMAL.cdf(z) if math.isfinite(z) else float(z < 0)  # NormalDist.cdf takes no infinity


def backtest_overfitting(returns: np.ndarray, blocks: int = 16) -> float:
    """PBO by CSCV: `returns` holds one column per combination, one row per period. The rows are cut into
    `blocks` (even) contiguous blocks; for every choice of half of them as the training set, the combination with
    the best training Sharpe is ranked among all on the other half. The share of choices where it ranks at or
    below the median (logit of its relative rank <= 0) is the probability that choosing the best overfits."""
    if blocks < 2 or blocks % 2:
        raise ValueError(f"CSCV needs an even number of blocks, got {blocks}")
    periods, strategies = returns.shape
    parts = np.array_split(np.arange(periods), blocks)
    count = np.array([len(p) for p in parts], dtype=float)
    sums = np.stack([returns[p].sum(axis=0) for p in parts])
    squares = np.stack([(returns[p] ** 2).sum(axis=0) for p in parts])
    chosen = np.zeros((math.comb(blocks, blocks // 2), blocks))
    for row, half in enumerate(combinations(range(blocks), blocks // 2)):
        chosen[row, list(half)] = 1.0

    def sharpe_of(select: np.ndarray) -> np.ndarray:
        n = (select @ count)[:, None]
        mean = (select @ sums) / n
        variance = ((select @ squares) - n * mean ** 2) / (n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(variance > 0, mean / np.sqrt(np.maximum(variance, 0)), -np.inf)

    train, test = sharpe_of(chosen), sharpe_of(1.0 - chosen)
    best = np.argmax(train, axis=1)
    picked = test[np.arange(len(best)), best][:, None]
    rank = (test < picked).sum(axis=1) + 1  # 1 = worst of the `strategies` on the test half
    relative = rank / (strategies + 1)
    return float(np.mean(np.log(relative / (1 - relative)) <= 0))
