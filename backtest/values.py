"""Plain-value helpers shared by the engine's readers (storage, rendering), light enough for any command."""

from __future__ import annotations

import math


def money(value: float) -> str:
    """P&L, signed, in dollars and cents: the one way every output (text, tables, the report) shows a gain or a
    loss."""
    return f"{'-' if round(value, 2) < 0 else '+'}${abs(value):,.2f}"


def defined(value: float | None) -> float | None:
    """A metric, or None where it is undefined (NaN: no closed trade, no variance)."""
    return None if value is None or math.isnan(value) else value
