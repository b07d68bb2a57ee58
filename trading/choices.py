"""The named choices and defaults of the strategy and the optimizer, declared once for the core and the command
line alike (a light module: the command line reads it without importing the engine)."""

from __future__ import annotations

import re
from typing import Any, Callable

UNDERLYING_NAMES = ("SPX", "XSP")
STRIKE_RULES = ("seed", "bs-delta", "atm")
EXPIRY_SETS = ("all", "monthly")
MARGIN_MODELS = ("regt", "cash")
SIZE_MODES = ("contracts", "notional", "margin")
FILL_MODELS = ("slippage", "mid", "bid", "mid-spread:F")


def spread_given_up(fill: str) -> float | None:
    """The share of the half-spread a sell gives up below the mid under a fill model (mid 0, bid 1,
    mid-spread:F F); None for `slippage`, the haircut on the price. ValueError for anything else."""
    if fill == "slippage":
        return None
    if fill in ("mid", "bid"):
        return 0.0 if fill == "mid" else 1.0
    share = fill.removeprefix("mid-spread:")
    try:
        value = float(share) if share != fill and share.replace(".", "", 1).isdigit() else -1.0
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be slippage, mid, bid or mid-spread:F with F from 0 to 1, got {fill!r}")
    return value


SPAN = re.compile(r"[1-9][0-9]?[ym]")  # a walk-forward window: 5y, 18m


def walk_forward_spans(text: str) -> tuple[str, str]:
    """TRAIN:TEST, e.g. 5y:1y or 36m:6m, as the two spans (ValueError with the reason otherwise)."""
    train, _, test = text.strip().partition(":")
    if not (SPAN.fullmatch(train) and SPAN.fullmatch(test)):
        raise ValueError(f"{text!r} is not TRAIN:TEST with spans such as 5y:1y or 36m:6m")
    return train, test


DEFAULT_DELTAS = (0.15, 0.20, 0.25, 0.30)
DEFAULT_DTES = (30, 45, 60)
MIN_CLOSED_TRADES = 10  # a combination with fewer closed trades is shown but never chosen

# objective -> (what BEST says, the score of a combination's metrics: higher is better)
OBJECTIVES: dict[str, tuple[str, Callable[[Any], float]]] = {
    "sharpe": ("highest Sharpe", lambda m: m.sharpe),
    "return": ("highest total return", lambda m: m.total_return),
    "win_rate": ("highest win rate", lambda m: m.win_rate),
    "drawdown": ("smallest max drawdown", lambda m: -m.max_drawdown),
    "calmar": ("highest Calmar", lambda m: m.calmar),
}
