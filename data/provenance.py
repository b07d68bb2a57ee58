"""Where a number came from: every price and every settlement value carries one of these (stored and shown as
their values)."""

from __future__ import annotations

from enum import Enum


class Named(str, Enum):
    """An enum that is its value wherever it is shown, stored or compared."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class PriceSource(Named):
    REAL = "real"  # the contract's own close (or quote) that day
    ESTIMATED = "estimated"  # Black-Scholes with the VIX skew model
    MANUAL = "manual"  # typed in by the user


class SettlementSource(Named):
    REAL = "real"  # the source's open (AM) or close (PM) of the expiry day
    STAND_IN = "stand-in"  # AM settlement on a session whose open is not known: the previous close
    MANUAL = "manual"  # given by the user with `spx-wheel settle`
    EXIT = "exit"  # bought back before expiry by an exit rule
