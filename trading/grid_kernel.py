"""The sequential part of a backtest, compiled: settlements, exits, margin calls, ruin and entries over the
candidate puts of trading/grid_engine.py, each priced over its life the first time a run asks its price and kept
for the others.

A numeric twin of the engine's loop (backtest/spx_premium_backtest.py) and of the rules it calls
(trading/rules.py), for sources where every price is the estimate and strikes lie on the grid. The engine stays the
reference: tests/trading/test_grid_engine.py runs both on windows and parameter sets and requires the same trades
and the same equity to the cent. Each step below names the rule it mirrors.
"""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit
from numba.extending import overload, register_jitable

from data import pricing
from data.pricing import estimate

from backtest.types import net_premium
from trading.rules import (
    MARGIN_CALL_EXIT,
    OPEN,
    SCALAR_RULES,
    SETTLED,
    buy_back_cost,
    called_margin_per_contract,
    exit_code,
    fill_price,
    margin_per_contract,
    order_fees,
    settled_pnl,
    settlement_level,
    size_contracts,
    wanted_contracts,
)
from trading.strategy import StrategyParams

ESTIMATE = (pricing._d1, pricing.term_vol, pricing.skew_vol, pricing.estimate)  # data/pricing.py's, as they are
for _rule in (*SCALAR_RULES, *ESTIMATE):  # the rules' own function objects, compiled where the loops below call them
    register_jitable(_rule)


def _branch(condition: Any, if_true: Any, if_false: Any) -> Any:
    return if_true if condition else if_false


def _erfc_ndtr(x: Any) -> Any:
    return 0.5 * math.erfc(x * -math.sqrt(0.5))


@overload(pricing.select)
def _select(condition: Any, if_true: Any, if_false: Any) -> Any:
    """pricing.select on numbers: a branch (np.where would make a 0-d array of them)."""
    return _branch


@overload(pricing.ndtr)
def _ndtr(x: Any) -> Any:
    """pricing.ndtr on a number: 0.5 erfc(-x / sqrt 2), as pricing's own for small arrays and numbers."""
    return _erfc_ndtr


def _drop_stale_cache() -> None:
    """numba's cache knows this file's age only, not that of the rules compiled into it: when the rules' source
    changed since the cache was written (its fingerprint, kept beside it), the cache is dropped and rebuilt."""
    sources = sorted({sys.modules[rule.__module__].__file__ or "" for rule in (*SCALAR_RULES, *ESTIMATE)})
    fingerprint = hashlib.sha256(b"".join(Path(f).read_bytes() for f in sources if f)).hexdigest()
    cache = Path(__file__).parent / "__pycache__"
    stamp = cache / "grid_kernel.rules-fingerprint"
    try:
        if stamp.is_file() and stamp.read_text() == fingerprint:
            return
        for stale in [*cache.glob("grid_kernel.*.nbi"), *cache.glob("grid_kernel.*.nbc")]:
            stale.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(fingerprint)
    except OSError:
        pass  # a read-only install: numba then caches elsewhere or not at all


_drop_stale_cache()

# StrategyParams fields the loop does not read, and why; every other field is in its record of knobs (KNOBS, by
# name), so that a new knob reaches the compiled rules as it reaches the engine's (tests hold this to the code)
NOT_IN_THE_LOOP = {
    "put_delta": "chooses the candidate put (grid_engine.Chooser): the same for every combination that shares it",
    "dte_target": "chooses the candidate put (grid_engine.Chooser)",
    "strike_rule": "chooses the candidate put (grid_engine.Chooser)",
    "expiries": "chooses the candidate put (grid_engine.Chooser)",
    "underlying": "chooses the candidate put (grid_engine.Chooser); its scale and tick go in as scale and penny",
    "margin": "goes in as cash_secured",
    "size_by": "goes in as size_code (rules.SIZE_CODES)",
    "fill": "a fill model needs a real quote, and the grid engine serves only estimated prices: slippage applies",
}
DERIVED = [("scale", "f8"), ("cash_secured", "b1"), ("size_code", "i8"), ("penny", "b1")]
KNOBS = np.dtype([(f.name, "i8" if f.type == "int" else "f8") for f in fields(StrategyParams)
                  if f.name not in NOT_IN_THE_LOOP] + DERIVED)
# the columns of the trade log: integers, and floats
T_ENTRY, T_CONTRACTS, T_END, T_DAY = range(4)
T_FILL, T_PREMIUM, T_PNL, T_VALUE, T_EXIT_FILL = range(5)


@njit(cache=True)
def price_life(c: int, lo: int, scale: float, ordinals: np.ndarray, market: np.ndarray, model: np.ndarray,
               expiry: np.ndarray, settles: np.ndarray, strike: np.ndarray, am: np.ndarray, offset: np.ndarray,
               marks: np.ndarray, priced: np.ndarray, entry: np.ndarray) -> None:
    """decision.life_marks for candidate c, once: its marks from its session to settlement into `marks`, its
    implied vol and delta on the first into `entry`. `market` holds each session's close, rate, dividend yield,
    VIX and VIX3M; `model` the vol model's parameters (pricing.FITTED) and AM_SETTLEMENT_EARLIER. (Pricing a whole life at once measured faster than each mark when first needed, even
    on grids whose exits close most positions early.)"""
    if priced[c]:
        return
    earlier = model[4] if am[c] else 0.0
    for j in range(settles[c] - lo - c):
        i = lo + c + j
        price, vol, delta = estimate(market[i, 0] * scale, strike[c], (expiry[c] - ordinals[i] - earlier) / 365.0,
                                     market[i, 1], market[i, 2], market[i, 3], market[i, 4], model[0], model[1],
                                     model[2], model[3])
        marks[offset[c] + j] = price
        if j == 0:
            entry[c, 0], entry[c, 1] = vol, delta
    priced[c] = True


@njit(cache=True)
def walk(first: int, stop: int, lo: int, ordinals: np.ndarray, opens: np.ndarray, closes: np.ndarray,
         vix: np.ndarray, growth: np.ndarray, market: np.ndarray, model: np.ndarray, valid: np.ndarray,
         expiry: np.ndarray, settles: np.ndarray, strike: np.ndarray, am: np.ndarray, offset: np.ndarray,
         marks: np.ndarray, priced: np.ndarray, entry: np.ndarray,
         knobs: np.ndarray) -> tuple[np.ndarray, int, int, float, float, np.ndarray, np.ndarray, int, float]:
    """Sessions first..stop-1 of run_backtest. Candidate c = i - lo is the put the rules would sell on session i
    (valid, its expiry's ordinal, settlement session, strike, AM settlement, where its marks start in `marks`),
    priced by price_life when a run first asks its price (`priced`, `entry`: see there). Returns the equity of each
    session, the session of ruin (-1: none), position-days, the exposure's sum and peak, the trade log (ints:
    entry session, contracts, how it ended, the session it ended; floats: fill, premium, P&L, settlement value,
    exit fill), the number of trades and the deficit at ruin. `knobs`: one record of KNOBS."""
    p = knobs[0]
    capital, scale, most = p.capital, p.scale, p.max_open_positions
    n = stop - first
    equity = np.zeros(n)
    log_i = np.zeros((n, 4), dtype=np.int64)
    log_f = np.full((n, 5), np.nan)
    held = np.zeros(most, dtype=np.int64)  # the open positions' trade numbers, in the order they were opened
    count = trades = 0
    cash = capital
    ruined, position_days, deficit = -1, 0, 0.0
    exposure_sum = exposure_peak = 0.0
    for i in range(first, stop):
        if i > first:
            cash *= growth[i - first - 1]
        k = 0
        while k < count:  # settlements (rules.settle)
            t = held[k]
            c = log_i[t, T_ENTRY] - lo
            if settles[c] != i:
                k += 1
                continue
            value = settlement_level(am[c], opens[i], closes[i], scale)
            premium = log_f[t, T_PREMIUM]
            pnl = settled_pnl(premium, strike[c], value, log_i[t, T_CONTRACTS])
            cash -= premium - pnl
            log_i[t, T_END], log_i[t, T_DAY] = SETTLED, i
            log_f[t, T_PNL], log_f[t, T_VALUE] = pnl, value
            held[k:count - 1] = held[k + 1:count]
            count -= 1
        spot = closes[i] * scale
        if count:
            cash -= _exits(i, lo, ordinals, expiry, offset, marks, p, held, count, log_i, log_f)
            count = _compact(held, count, log_i)
            cash -= _margin_calls(i, spot, cash, lo, strike, offset, marks, p, held, count, log_i, log_f)
            count = _compact(held, count, log_i)
        owed = 0.0
        for k in range(count):
            owed += _mark(held[k], i, lo, offset, marks, log_i) * 100 * log_i[held[k], T_CONTRACTS]
        if cash - owed <= 0:  # ruin
            ruined, stop, deficit = i, i + 1, round(owed - cash, 2)
            equity[i - first] = 0.0
            break
        c = i - lo
        if p.min_vix <= vix[i] <= p.max_vix and count < most and valid[c]:  # Rules.decide_entry
            contracts, fill, premium = _entry(i, c, spot, cash - owed, lo, ordinals, market, model, expiry, settles,
                                              strike, am, offset, marks, priced, entry, p, held, count, log_i)
            if contracts:
                log_i[trades, T_ENTRY], log_i[trades, T_CONTRACTS], log_i[trades, T_END] = i, contracts, OPEN
                log_f[trades, T_FILL], log_f[trades, T_PREMIUM] = fill, premium
                held[count] = trades
                count += 1
                trades += 1
                cash += premium
                owed += marks[offset[c]] * 100 * contracts
        position_days += count
        equity[i - first] = cash - owed
        if count:
            notional = 0.0
            for k in range(count):
                notional += strike[log_i[held[k], T_ENTRY] - lo] * 100 * log_i[held[k], T_CONTRACTS]
            share = notional / equity[i - first]
            exposure_sum, exposure_peak = exposure_sum + share, max(exposure_peak, share)
    return equity[:stop - first], ruined, position_days, exposure_sum, exposure_peak, log_i, log_f, trades, deficit


@njit(cache=True)
def _mark(t: int, i: int, lo: int, offset: np.ndarray, marks: np.ndarray, log_i: np.ndarray) -> float:
    entry = log_i[t, T_ENTRY]
    return float(marks[offset[entry - lo] + i - entry])


@njit(cache=True)
def _compact(held: np.ndarray, count: int, log_i: np.ndarray) -> int:
    """Drop the positions bought back today from `held`, keeping the others' order."""
    kept = 0
    for k in range(count):
        if log_i[held[k], T_END] == OPEN:
            held[kept] = held[k]
            kept += 1
    return kept


@njit(cache=True)
def _buy_back(t: int, i: int, mark: float, reason: int, p: np.record, log_i: np.ndarray, log_f: np.ndarray) -> float:
    """Rules.buy_back: record the exit and return its cost."""
    contracts = log_i[t, T_CONTRACTS]
    price = fill_price(mark, p.slippage, p.penny, 1)
    cost = buy_back_cost(price, contracts, p.fee)
    log_i[t, T_END], log_i[t, T_DAY] = reason, i
    log_f[t, T_EXIT_FILL] = price
    log_f[t, T_PNL] = round(log_f[t, T_PREMIUM] - cost, 2)
    return float(cost)


@njit(cache=True)
def _exits(i: int, lo: int, ordinals: np.ndarray, expiry: np.ndarray, offset: np.ndarray, marks: np.ndarray,
           p: np.record, held: np.ndarray, count: int, log_i: np.ndarray, log_f: np.ndarray) -> float:
    """Rules.decide_exit for each position (rules.exit_code). Returns the cash the buy-backs cost."""
    spent = 0.0
    for k in range(count):
        t = held[k]
        mark = _mark(t, i, lo, offset, marks, log_i)
        reason = exit_code(mark, log_f[t, T_FILL], expiry[log_i[t, T_ENTRY] - lo] - ordinals[i], p)
        if reason != OPEN:
            spent += _buy_back(t, i, mark, reason, p, log_i, log_f)
    return spent


@njit(cache=True)
def _margin_calls(i: int, spot: float, cash: float, lo: int, strike: np.ndarray, offset: np.ndarray,
                  marks: np.ndarray, p: np.record, held: np.ndarray, count: int, log_i: np.ndarray,
                  log_f: np.ndarray) -> float:
    """Rules.margin_call: while the open puts' margin exceeds equity, buy back the one that needs the most.
    Returns the cash the buy-backs cost (added in the positions' order, as the engine does)."""
    owed = total = 0.0
    for k in range(count):
        t = held[k]
        mark, contracts = _mark(t, i, lo, offset, marks, log_i), log_i[t, T_CONTRACTS]
        owed += mark * 100 * contracts
        total += called_margin_per_contract(p.cash_secured, spot, strike[log_i[t, T_ENTRY] - lo], mark) * contracts
    equity = cash - owed
    if total <= equity:  # the usual day
        return 0.0
    needs = np.empty(count)
    for k in range(count):
        t = held[k]
        needs[k] = called_margin_per_contract(p.cash_secured, spot, strike[log_i[t, T_ENTRY] - lo],
                                              _mark(t, i, lo, offset, marks, log_i)) * log_i[t, T_CONTRACTS]
    costs = np.zeros(count)
    for k in np.argsort(-needs, kind="mergesort"):  # the largest first; a tie in the positions' order
        if total <= equity:
            break
        t = held[k]
        mark = _mark(t, i, lo, offset, marks, log_i)
        costs[k] = _buy_back(t, i, mark, MARGIN_CALL_EXIT, p, log_i, log_f)
        total -= needs[k]
        equity -= costs[k] - mark * 100 * log_i[t, T_CONTRACTS]
    spent = 0.0
    for k in range(count):  # adding a held position's 0.0 leaves the sum as it was
        spent += costs[k]
    return spent


@njit(cache=True)
def _entry(i: int, c: int, spot: float, equity: float, lo: int, ordinals: np.ndarray, market: np.ndarray,
           model: np.ndarray, expiry: np.ndarray, settles: np.ndarray, strike: np.ndarray, am: np.ndarray,
           offset: np.ndarray, marks: np.ndarray, priced: np.ndarray, entry: np.ndarray, p: np.record,
           held: np.ndarray, count: int, log_i: np.ndarray) -> tuple[int, float, float]:
    """Rules.decide_entry after the VIX and position-count filters: (contracts, fill, net premium), no contracts
    when it skips. The candidate is priced (price_life) once no filter before its price has skipped it."""
    in_use = 0.0
    for k in range(count):
        sold = log_i[held[k], T_ENTRY]
        if expiry[sold - lo] == expiry[c]:  # already holding the expiry
            return 0, 0.0, 0.0
        mark = marks[offset[sold - lo] + i - sold]
        in_use += margin_per_contract(p.cash_secured, spot, strike[sold - lo], mark) * log_i[held[k], T_CONTRACTS]
    price_life(c, lo, p.scale, ordinals, market, model, expiry, settles, strike, am, offset, marks, priced, entry)
    price = marks[offset[c]]
    fill = fill_price(price, p.slippage, p.penny, -1)
    if fill * 100 - p.fee <= p.min_premium:
        return 0, 0.0, 0.0
    per_contract = margin_per_contract(p.cash_secured, spot, strike[c], price) + 100 * (price - fill)
    wanted = wanted_contracts(p.size_code, p.contracts_per_trade, p.size_target, equity, strike[c], per_contract)
    if wanted == 0:
        return 0, 0.0, 0.0
    contracts = size_contracts(wanted, per_contract, in_use, p.max_margin_pct * equity)
    if contracts == 0:
        return 0, 0.0, 0.0
    return contracts, fill, net_premium(fill, contracts, order_fees(p.fee, contracts))
