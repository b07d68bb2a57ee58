"""The strategy's parameters, declared once: each field's metadata (help, range or choices, unit, option name)
is what the command line's options, the validation, the stored form and the rendering are derived from.
Adding a knob is one field here. A light module: the command line reads it without importing the engine."""

from __future__ import annotations

import math
from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any, Callable

from data.errors import BadInput
from trading.choices import EXPIRY_SETS, MARGIN_MODELS, SIZE_MODES, STRIKE_RULES, UNDERLYING_NAMES, spread_given_up


class StrategyError(BadInput):
    """Strategy parameters out of range."""


def knob(default: Any, help: str, *, low: float | None = None, high: float | None = None, low_open: bool = False,
         high_open: bool = False, choices: tuple[str, ...] = (), unit: str = "", option: str = "", alias: str = "",
         grid: str = "", short: str = "", off: bool = False, parse: Callable[[str], object] | None = None) -> Any:
    """A field of StrategyParams with what the command line and the renderers need to know about it.
    `unit`: 'dollars', 'share' (shown as a percentage, given as 0.5 or 50%), 'multiple' (of the price sold at)
    or 'days'; `option`: the CLI flag when it is not --field-name, `alias` an older flag still accepted; `grid`:
    the calibrate option that lists several values (the backtest option is `option`) and `short` its name in a
    combination's label (Delta=0.15 TP=50%); `off`: 0 turns the rule off;
    `parse`: for a text knob of a pattern, what raises ValueError with the reason when a value does not fit."""
    return field(default=default, metadata={"help": help, "low": low, "high": high, "low_open": low_open,
                                            "high_open": high_open, "choices": choices, "unit": unit,
                                            "option": option, "alias": alias, "grid": grid, "short": short,
                                            "off": off, "parse": parse})


@dataclass(frozen=True)
class StrategyParams:
    """Every knob of the strategy, validated when built from its declaration."""

    put_delta: float = knob(None, "Put delta, e.g. 0.15.", low=0, high=1, low_open=True, high_open=True,
                            option="--delta", grid="--deltas", short="Delta")
    dte_target: int = knob(None, "Days-to-expiry target, e.g. 45.", low=0, high=3650, option="--dte", grid="--dtes",
                           short="DTE")
    take_profit: float = knob(0.0, "Buy back when the put's mark is at or below (1 - F) of the price it was sold "
                                   "at, e.g. 0.5 or 50% (0: off).", low=0, high=1, high_open=True, unit="share",
                              grid="--take-profits", short="TP", off=True)
    stop_loss: float = knob(0.0, "Buy back when the put's mark reaches M times the price it was sold at, e.g. 2 "
                                 "(0: off).", low=0, high=100, unit="multiple", grid="--stop-losses", short="SL",
                            off=True)
    close_dte: int = knob(0, "Buy back N calendar days before expiry (0: hold to expiry).", low=0, high=3650,
                          unit="days", grid="--close-dtes", short="close", off=True)
    underlying: str = knob("SPX", "The index: SPX, or XSP (Mini-SPX: 1/10 the size, $1 strikes, penny ticks, "
                                  "PM-settled; priced by the same estimate on SPX/10).", choices=UNDERLYING_NAMES)
    strike_rule: str = knob("seed", "seed: spot*(1-(0.04+delta*0.15)) to $5; bs-delta: strike with that "
                                    "Black-Scholes delta; atm: at the money (closest to, not above, the index).",
                            choices=STRIKE_RULES)
    expiries: str = knob("all", "Expirations to choose from: every one listed that day (data/listings.py), or "
                              "monthlies only.",
                         choices=EXPIRY_SETS)
    margin: str = knob("regt", "Margin model: Reg-T exchange minimum, or fully cash-secured (100 x strike, less "
                               "the put's value).",
                       choices=MARGIN_MODELS)
    capital: float = knob(500_000.0, "Starting capital in dollars.", low=1_000, high=1e12, unit="dollars")
    contracts_per_trade: int = knob(1, "Contracts sold per trade with --size-by contracts (fewer when the margin "
                                       "cap binds).", low=1, high=10_000)
    size_by: str = knob("contracts", "contracts: a fixed count; notional or margin: as many contracts as keep the "
                                     "new position's notional (100 x strike) or margin within --size-target of "
                                     "equity, so that size means the same in every era.", choices=SIZE_MODES)
    size_target: float = knob(1.0, "With --size-by notional or margin: the share of equity one new position may "
                                    "take, e.g. 1 or 100%.", low=0, high=10, low_open=True, unit="share")
    max_open_positions: int = knob(3, "Most positions open at once.", low=1, high=1_000, option="--max-open")
    max_margin_pct: float = knob(0.50, "Largest share of equity committed to margin, e.g. 0.5 or 50%.", low=0,
                                 high=1, low_open=True, unit="share", option="--max-margin",
                                 alias="--max-margin-pct")
    min_vix: float = knob(12.0, "No new position below this VIX close.", low=0, high=1_000)
    max_vix: float = knob(35.0, "No new position above this VIX close.", low=0, high=1_000)
    slippage: float = knob(0.05, "Share of the option price given up on entry, e.g. 0.05 or 5% (at least "
                                 "$0.05).", low=0, high=1, high_open=True, unit="share")
    fill: str = knob("slippage", "Entry price where the source has the day's real bid and ask (chains, cboe): "
                                 "mid, bid, or mid-spread:F (F of the half-spread given up below the mid); "
                                 "slippage: --slippage off the price, as without quotes.",
                     parse=spread_given_up)
    fee: float = knob(1.50, "All-in cost per contract in dollars.", low=0, high=1_000, unit="dollars")
    min_premium: float = knob(0.0, "No trade unless the net premium a contract, after slippage and fees, is above "
                                   "this many dollars (0: above the fees).", low=0, high=100_000, unit="dollars")

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = out_of_range(f, getattr(self, f.name))
            if problem:
                raise StrategyError(f"{f.name.replace('_', ' ')} {problem}")
        if 0 < self.stop_loss <= 1:
            raise StrategyError(f"stop loss must be 0 (off) or above 1 (a multiple of the price sold at), got "
                                f"{self.stop_loss:g}")
        if self.min_vix > self.max_vix:
            raise StrategyError(f"need min VIX <= max VIX, got {self.min_vix}..{self.max_vix}")

    def stored(self) -> dict[str, Any]:
        """The stored form (a JSON object); `StrategyParams(**stored)` gives the same parameters back."""
        return asdict(self)


def out_of_range(f: Field[Any], value: Any) -> str:
    """Why `value` does not fit the field's declaration ('' when it does)."""
    meta = f.metadata
    if meta["parse"]:
        try:
            meta["parse"](value)
        except (ValueError, TypeError, AttributeError) as exc:
            return str(exc)
        return ""
    if meta["choices"]:
        return "" if value in meta["choices"] else f"must be one of {', '.join(meta['choices'])}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    low, high = meta["low"], meta["high"]
    below = low is not None and (value <= low if meta["low_open"] else value < low)
    above = high is not None and (value >= high if meta["high_open"] else value > high)
    if below or above:
        return (f"must be in {'(' if meta['low_open'] else '['}{low:g}, {high:g}{')' if meta['high_open'] else ']'}, "
                f"got {value:g}")
    return ""


def knobs(declaration: type = StrategyParams) -> tuple[Field[Any], ...]:
    """The fields that are not grid dimensions (the rule knobs every command shares)."""
    return tuple(f for f in fields(declaration) if not f.metadata["grid"])


FIELDS = {f.name: f for f in fields(StrategyParams)}
GRID_DIMENSIONS = tuple(name for name, f in FIELDS.items() if f.metadata["grid"])  # calibrate's grid
EXIT_DIMENSIONS = tuple(name for name in GRID_DIMENSIONS if FIELDS[name].metadata["off"])  # 0: off


def dimension_text(name: str, value: Any) -> str:
    """One grid dimension's value in a combination's label: Delta=0.15, DTE=45, TP=50%, SL=2x, close=7d, TP=off."""
    meta = FIELDS[name].metadata
    if meta["off"] and not value:
        return f"{meta['short']}=off"
    unit = meta["unit"]
    shown = (f"{value:.0%}" if unit == "share" else f"{value:g}x" if unit == "multiple" else f"{value}d"
             if unit == "days" else f"{value:.2f}" if isinstance(value, float) else str(value))
    return f"{meta['short']}={shown}"


def combination_label(combination: Any, exits: tuple[str, ...] | list[str] = EXIT_DIMENSIONS,
                      only_on: bool = False) -> str:
    """A combination's label from its grid dimensions (a StrategyParams or a stored result): the delta and DTE,
    then each exit of `exits` (those that are on, with `only_on`)."""
    names = [n for n in GRID_DIMENSIONS if n not in EXIT_DIMENSIONS or n in exits]
    return " ".join(dimension_text(n, getattr(combination, n)) for n in names
                    if not (only_on and n in EXIT_DIMENSIONS and not getattr(combination, n)))
