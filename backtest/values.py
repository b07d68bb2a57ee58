"""Plain-value helpers shared by the engine's readers (storage, rendering), light enough for any command."""

from __future__ import annotations

import math


def defined(value: float | None) -> float | None:
    """A metric, or None where it is undefined (NaN: no closed trade, no variance)."""
    return None if value is None or math.isnan(value) else value
