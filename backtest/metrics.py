"""Performance metrics from a daily mark-to-market equity curve. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TRADING_DAYS = 252


@dataclass(frozen=True)
class Metrics:
    trades: int
    wins: int
    win_rate: float  # of closed trades; NaN with none
    total_return: float
    cagr: float
    max_drawdown: float  # positive fraction
    sharpe: float
    sortino: float
    calmar: float


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak, as a positive fraction."""
    if equity.size == 0:
        return 0.0
    return float(np.max(1.0 - equity / np.maximum.accumulate(equity)))


def sharpe(returns: np.ndarray, riskfree: np.ndarray) -> float:
    """Annualised mean daily excess return over its standard deviation (ddof=1)."""
    excess = returns - riskfree
    if excess.size < 2 or np.std(excess, ddof=1) == 0:
        return math.nan
    return float(np.mean(excess) / np.std(excess, ddof=1) * math.sqrt(TRADING_DAYS))


def sortino(returns: np.ndarray, riskfree: np.ndarray) -> float:
    """Annualised mean excess return over the downside deviation, summed over all periods (target = T-bill)."""
    excess = returns - riskfree
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2))) if excess.size else 0.0
    if downside == 0:
        return math.nan
    return float(np.mean(excess) / downside * math.sqrt(TRADING_DAYS))


def compute(equity: np.ndarray, riskfree: np.ndarray, calendar_days: int, pnls: list[float]) -> Metrics:
    """equity: daily closes starting at the initial capital; riskfree: the T-bill return of each day after the
    first; calendar_days: the span for CAGR (years = days / 365.25); pnls: net P&L of each closed trade."""
    returns = equity[1:] / equity[:-1] - 1.0
    total = float(equity[-1] / equity[0] - 1.0)
    years = calendar_days / 365.25
    if equity[-1] <= 0:
        cagr = -1.0  # ruin
    else:
        cagr = float((equity[-1] / equity[0]) ** (1.0 / years) - 1.0) if years > 0 else math.nan
    mdd = max_drawdown(equity)
    wins = sum(1 for p in pnls if p > 0)
    return Metrics(
        trades=len(pnls),
        wins=wins,
        win_rate=wins / len(pnls) if pnls else math.nan,
        total_return=total,
        cagr=cagr,
        max_drawdown=mdd,
        sharpe=sharpe(returns, riskfree),
        sortino=sortino(returns, riskfree),
        calmar=cagr / mdd if mdd > 0 else math.nan,
    )
