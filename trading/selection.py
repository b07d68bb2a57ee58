"""How far to trust the combination a calibration chose: its deflated Sharpe ratio given how many were tried,
the probability that choosing the best of this grid overfits (CSCV), and whether it beats its neighbours in the
grid by more than noise. All measured on the daily excess returns of the calibration's window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from backtest.overfitting import backtest_overfitting, deflated_sharpe, sharpe_difference_p, sharpe_ratio
from trading.strategy import GRID_DIMENSIONS, StrategyParams

if TYPE_CHECKING:
    from trading.optimizer import Calibration, Combination

PBO_MIN_COMBINATIONS = 8  # CSCV ranks the winner among the others: with fewer, a rank says little
PBO_BLOCKS = 16  # C(16, 8) = 12,870 splits, as in the paper
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Neighbour:
    """A combination one step from the chosen one in one grid dimension, and the one-sided p-value that the
    chosen one's Sharpe ratio is above its own (Memmel's test)."""

    params: StrategyParams
    p_value: float


@dataclass(frozen=True)
class SelectionCheck:
    trials: int
    deflated_sharpe: float
    overfitting: float | None  # PBO; None for a grid too small
    neighbours: list[Neighbour]

    @property
    def weak(self) -> list[Neighbour]:
        """The neighbours the chosen combination is not significantly better than."""
        return [n for n in self.neighbours if n.p_value > SIGNIFICANCE]


def excess_returns(combinations: Sequence[Combination]) -> np.ndarray:
    """One column per combination of its daily excess returns; a ruined run's column is zero after its ruin."""
    periods = max(c.result.excess.size for c in combinations)
    matrix = np.zeros((periods, len(combinations)))
    for column, combination in enumerate(combinations):
        matrix[:combination.result.excess.size, column] = combination.result.excess
    return matrix


def neighbours_of(chosen: StrategyParams, others: Sequence[StrategyParams]) -> list[int]:
    """The indices of the parameter sets one step away from `chosen` in exactly one grid dimension (the next
    value tried above or below it)."""
    values = {name: sorted({getattr(p, name) for p in others}) for name in GRID_DIMENSIONS}
    found = []
    for index, params in enumerate(others):
        moved = [name for name in GRID_DIMENSIONS if getattr(params, name) != getattr(chosen, name)]
        if len(moved) == 1:
            steps = values[moved[0]]
            gap = abs(steps.index(getattr(params, moved[0])) - steps.index(getattr(chosen, moved[0])))
            if gap == 1:
                found.append(index)
    return found


def check_selection(calibration: Calibration) -> SelectionCheck | None:
    """The checks of the calibration's chosen combination (None when none was chosen)."""
    if calibration.best is None:
        return None
    matrix = excess_returns(calibration.combinations)
    chosen = matrix[:, calibration.best]
    sharpes = np.array([sharpe_ratio(matrix[:, k]) for k in range(matrix.shape[1])])
    finite = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
    params = [c.params for c in calibration.combinations]
    neighbours = [Neighbour(params[k], sharpe_difference_p(chosen, matrix[:, k]))
                  for k in neighbours_of(params[calibration.best], params)]
    large = len(params) >= PBO_MIN_COMBINATIONS and matrix.shape[0] >= 10 * PBO_BLOCKS
    return SelectionCheck(len(params), deflated_sharpe(chosen, len(params), variance),
                          backtest_overfitting(matrix, PBO_BLOCKS) if large else None, neighbours)


def selection_summary(check: SelectionCheck | None) -> dict[str, Any] | None:
    """The checks as stored with the calibration run and shown in JSON."""
    if check is None:
        return None
    return {"trials": check.trials, "deflated_sharpe": check.deflated_sharpe,
            "probability_of_overfitting": check.overfitting,
            "neighbours": [{**{name: getattr(n.params, name) for name in GRID_DIMENSIONS}, "p_value": n.p_value}
                           for n in check.neighbours],
            "significant": not check.weak}
