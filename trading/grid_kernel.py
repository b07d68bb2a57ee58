"""The sequential part of a backtest, compiled: settlements, exits, margin calls, ruin and entries over the
candidate puts of trading/grid_engine.py, each priced over its life the first time a run asks its price and kept
for the others.

A numeric twin of the engine's loop (backtest/spx_premium_backtest.py) and of the rules it calls
(trading/rules.py), for sources where every price is the estimate and strikes lie on the grid. The engine stays the
reference: tests/trading/test_grid_engine.py runs both on windows and parameter sets and requires the same trades
and the same equity to the cent. Each step below names the rule it mirrors.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# indexes into the float parameters
(CAPITAL, SCALE, MIN_VIX, MAX_VIX, TAKE_PROFIT, STOP_LOSS, SIZE_TARGET, MAX_MARGIN, SLIPPAGE, FEE,
 MIN_PREMIUM) = range(11)
# indexes into the integer parameters
MAX_OPEN, CLOSE_DTE, CASH_MARGIN, SIZE_BY, CONTRACTS, PENNY = range(6)
SIZE_CONTRACTS, SIZE_NOTIONAL, SIZE_MARGIN = range(3)
# how a trade ended (OPEN: still open when the window ended)
OPEN, SETTLED, STOP_LOSS_EXIT, TAKE_PROFIT_EXIT, CLOSE_DTE_EXIT, MARGIN_CALL_EXIT = range(6)
# the columns of the trade log: integers, and floats
T_ENTRY, T_CONTRACTS, T_END, T_DAY = range(4)
T_FILL, T_PREMIUM, T_PNL, T_VALUE, T_EXIT_FILL = range(5)


@njit(cache=True)
def _tick(price: float, direction: int, penny: bool) -> float:
    """rules.on_tick_grid."""
    step = 0.01 if penny else 0.05 if price < 3.0 else 0.10
    units = round(price / step, 6)
    ticks = math.floor(units) if direction < 0 else math.ceil(units) if direction > 0 else round(units)
    return round(ticks * step, 2)


@njit(cache=True)
def _fill(price: float, slippage: float, penny: bool, direction: int) -> float:
    """rules.entry_fill (direction -1) and rules.exit_fill (+1)."""
    if slippage == 0:
        return _tick(price, 0, penny)
    return _tick(price + direction * max(price * slippage, 0.01 if penny else 0.05), direction, penny)


@njit(cache=True)
def _margin(cash_margin: bool, spot: float, strike: float, price: float) -> float:
    """rules.margin_per_contract."""
    if cash_margin:
        return 100.0 * (strike - price)
    return 100.0 * max(price + 0.15 * spot - max(spot - strike, 0.0), price + 0.10 * strike)


@njit(cache=True)
def _ndtr(x: float) -> float:
    """pricing.ndtr."""
    return 0.5 * math.erfc(x * -math.sqrt(0.5))


@njit(cache=True)
def _estimate(spot: float, strike: float, t: float, r: float, q: float, vix: float, vix3m: float,
              model: np.ndarray) -> tuple[float, float, float]:
    """pricing.estimate_put (with term_vol and put_iv): (price, implied vol, delta)."""
    premium, gap, psi_1m, alpha, min_vol, t30, t93 = model[0], model[1], model[2], model[3], model[4], model[5], \
        model[6]
    t_iv = max(t, 1.0 / 365.0)
    v30 = vix / 100.0
    v93 = v30 if math.isnan(vix3m) else vix3m / 100.0
    tc = min(max(t_iv, t30), t93)
    term = math.sqrt((v30**2 * t30 * (t93 - tc) + v93**2 * t93 * (tc - t30)) / ((t93 - t30) * tc))
    psi = psi_1m * (t_iv / t30) ** (-alpha)
    k = math.log(strike / (spot * math.exp((r - q) * t_iv)))
    vol = max(term * (1.0 - premium) - gap - (psi if k < 0 else 0.5 * psi) * k, min_vol)
    t_safe = max(t, 1e-12)
    d1 = (math.log(spot / strike) + (r - q + 0.5 * vol * vol) * t_safe) / (vol * math.sqrt(t_safe))
    discount_q = math.exp(-q * t_safe)
    n_minus_d1 = _ndtr(-d1)
    price = strike * math.exp(-r * t_safe) * _ndtr(vol * math.sqrt(t_safe) - d1) - spot * discount_q * n_minus_d1
    return (price if t > 0 else max(strike - spot, 0.0)), vol, -discount_q * n_minus_d1


@njit(cache=True)
def price_life(c: int, lo: int, scale: float, ordinals: np.ndarray, market: np.ndarray, model: np.ndarray,
               expiry: np.ndarray, settles: np.ndarray, strike: np.ndarray, am: np.ndarray, offset: np.ndarray,
               marks: np.ndarray, priced: np.ndarray, entry: np.ndarray) -> None:
    """decision.life_marks for candidate c, once: its marks from its session to settlement into `marks`, its
    implied vol and delta on the first into `entry`. `market` holds each session's close, rate, dividend yield,
    VIX and VIX3M; `model` the vol model's parameters and constants (pricing.FITTED, MIN_VOL, T30, T93, and
    AM_SETTLEMENT_EARLIER). (Pricing a whole life at once measured faster than each mark when first needed, even
    on grids whose exits close most positions early.)"""
    if priced[c]:
        return
    earlier = model[7] if am[c] else 0.0
    for j in range(settles[c] - lo - c):
        i = lo + c + j
        price, vol, delta = _estimate(market[i, 0] * scale, strike[c], (expiry[c] - ordinals[i] - earlier) / 365.0,
                                      market[i, 1], market[i, 2], market[i, 3], market[i, 4], model)
        marks[offset[c] + j] = price
        if j == 0:
            entry[c, 0], entry[c, 1] = vol, delta
    priced[c] = True


@njit(cache=True)
def walk(first: int, stop: int, lo: int, ordinals: np.ndarray, opens: np.ndarray, closes: np.ndarray,
         vix: np.ndarray, growth: np.ndarray, market: np.ndarray, model: np.ndarray, valid: np.ndarray,
         expiry: np.ndarray, settles: np.ndarray, strike: np.ndarray, am: np.ndarray, offset: np.ndarray,
         marks: np.ndarray, priced: np.ndarray, entry: np.ndarray, fp: np.ndarray,
         ip: np.ndarray) -> tuple[np.ndarray, int, int, float, float, np.ndarray, np.ndarray, int]:
    """Sessions first..stop-1 of run_backtest. Candidate c = i - lo is the put the rules would sell on session i
    (valid, its expiry's ordinal, settlement session, strike, AM settlement, where its marks start in `marks`),
    priced by price_life when a run first asks its price (`priced`, `entry`: see there). Returns the equity of each
    session, the session of ruin (-1: none), position-days, the exposure's sum and peak, the trade log (ints:
    entry session, contracts, how it ended, the session it ended; floats: fill, premium, P&L, settlement value,
    exit fill) and the number of trades."""
    capital, scale, penny = fp[CAPITAL], fp[SCALE], ip[PENNY] == 1
    slippage, fee, cash_margin = fp[SLIPPAGE], fp[FEE], ip[CASH_MARGIN] == 1
    most = ip[MAX_OPEN]
    n = stop - first
    equity = np.zeros(n)
    log_i = np.zeros((n, 4), dtype=np.int64)
    log_f = np.full((n, 5), np.nan)
    held = np.zeros(most, dtype=np.int64)  # the open positions' trade numbers, in the order they were opened
    count = trades = 0
    cash = capital
    ruined, position_days = -1, 0
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
            value = (opens[i] if am[c] else closes[i]) * scale
            premium = log_f[t, T_PREMIUM]
            pnl = round(premium - round(max(strike[c] - value, 0.0) * 100 * log_i[t, T_CONTRACTS], 2), 2)
            cash -= premium - pnl
            log_i[t, T_END], log_i[t, T_DAY] = SETTLED, i
            log_f[t, T_PNL], log_f[t, T_VALUE] = pnl, value
            held[k:count - 1] = held[k + 1:count]
            count -= 1
        spot = closes[i] * scale
        if count:
            cash -= _exits(i, lo, ordinals, expiry, offset, marks, fp, ip, held, count, log_i, log_f)
            count = _compact(held, count, log_i)
            cash -= _margin_calls(i, spot, cash, lo, strike, offset, marks, slippage, fee, penny, cash_margin, held,
                                  count, log_i, log_f)
            count = _compact(held, count, log_i)
        owed = 0.0
        for k in range(count):
            owed += _mark(held[k], i, lo, offset, marks, log_i) * 100 * log_i[held[k], T_CONTRACTS]
        if cash - owed <= 0:  # ruin
            ruined, stop = i, i + 1
            equity[i - first] = 0.0
            break
        c = i - lo
        if fp[MIN_VIX] <= vix[i] <= fp[MAX_VIX] and count < most and valid[c]:  # Rules.decide_entry
            contracts, fill, premium = _entry(i, c, spot, cash - owed, lo, ordinals, market, model, expiry, settles,
                                              strike, am, offset, marks, priced, entry, fp, ip, held, count, log_i)
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
    return equity[:stop - first], ruined, position_days, exposure_sum, exposure_peak, log_i, log_f, trades


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
def _buy_back(t: int, i: int, mark: float, reason: int, slippage: float, fee: float, penny: bool,
              log_i: np.ndarray, log_f: np.ndarray) -> float:
    """Rules.buy_back: record the exit and return its cost."""
    contracts = log_i[t, T_CONTRACTS]
    price = _fill(mark, slippage, penny, 1)
    cost = round(price * 100 * contracts + fee * contracts, 2)
    log_i[t, T_END], log_i[t, T_DAY] = reason, i
    log_f[t, T_EXIT_FILL] = price
    log_f[t, T_PNL] = round(log_f[t, T_PREMIUM] - cost, 2)
    return float(cost)


@njit(cache=True)
def _exits(i: int, lo: int, ordinals: np.ndarray, expiry: np.ndarray, offset: np.ndarray, marks: np.ndarray,
           fp: np.ndarray, ip: np.ndarray, held: np.ndarray, count: int, log_i: np.ndarray,
           log_f: np.ndarray) -> float:
    """Rules.exit_reason for each position: the stop loss, the take profit, the days to expiry. Returns the cash
    the buy-backs cost."""
    stop_loss, take_profit, close_dte = fp[STOP_LOSS], fp[TAKE_PROFIT], ip[CLOSE_DTE]
    spent = 0.0
    for k in range(count):
        t = held[k]
        mark, fill = _mark(t, i, lo, offset, marks, log_i), log_f[t, T_FILL]
        reason = OPEN
        if stop_loss and mark >= stop_loss * fill - 1e-9:
            reason = STOP_LOSS_EXIT
        elif take_profit and mark <= (1 - take_profit) * fill + 1e-9:
            reason = TAKE_PROFIT_EXIT
        elif close_dte and expiry[log_i[t, T_ENTRY] - lo] - ordinals[i] <= close_dte:
            reason = CLOSE_DTE_EXIT
        if reason != OPEN:
            spent += _buy_back(t, i, mark, reason, fp[SLIPPAGE], fp[FEE], ip[PENNY] == 1, log_i, log_f)
    return spent


@njit(cache=True)
def _margin_calls(i: int, spot: float, cash: float, lo: int, strike: np.ndarray, offset: np.ndarray,
                  marks: np.ndarray, slippage: float, fee: float, penny: bool, cash_margin: bool, held: np.ndarray,
                  count: int, log_i: np.ndarray, log_f: np.ndarray) -> float:
    """Rules.margin_call: while the open puts' margin exceeds equity, buy back the one that needs the most.
    Returns the cash the buy-backs cost (added in the positions' order, as the engine does)."""
    owed = total = 0.0
    for k in range(count):
        t = held[k]
        mark, contracts = _mark(t, i, lo, offset, marks, log_i), log_i[t, T_CONTRACTS]
        owed += mark * 100 * contracts
        total += _margin(cash_margin, spot, strike[log_i[t, T_ENTRY] - lo], mark) * contracts
    equity = cash - owed
    if total <= equity:  # the usual day
        return 0.0
    needs = np.empty(count)
    for k in range(count):
        t = held[k]
        needs[k] = _margin(cash_margin, spot, strike[log_i[t, T_ENTRY] - lo], _mark(t, i, lo, offset, marks, log_i)
                           ) * log_i[t, T_CONTRACTS]
    costs = np.zeros(count)
    for k in np.argsort(-needs, kind="mergesort"):  # the largest first; a tie in the positions' order
        if total <= equity:
            break
        t = held[k]
        mark = _mark(t, i, lo, offset, marks, log_i)
        costs[k] = _buy_back(t, i, mark, MARGIN_CALL_EXIT, slippage, fee, penny, log_i, log_f)
        total -= needs[k]
        equity -= costs[k] - mark * 100 * log_i[t, T_CONTRACTS]
    spent = 0.0
    for k in range(count):  # adding a held position's 0.0 leaves the sum as it was
        spent += costs[k]
    return spent


@njit(cache=True)
def _entry(i: int, c: int, spot: float, equity: float, lo: int, ordinals: np.ndarray, market: np.ndarray,
           model: np.ndarray, expiry: np.ndarray, settles: np.ndarray, strike: np.ndarray, am: np.ndarray,
           offset: np.ndarray, marks: np.ndarray, priced: np.ndarray, entry: np.ndarray, fp: np.ndarray,
           ip: np.ndarray, held: np.ndarray, count: int, log_i: np.ndarray) -> tuple[int, float, float]:
    """Rules.decide_entry after the VIX and position-count filters: (contracts, fill, net premium), no contracts
    when it skips. The candidate is priced (price_life) once no filter before its price has skipped it."""
    penny, cash_margin = ip[PENNY] == 1, ip[CASH_MARGIN] == 1
    in_use = 0.0
    for k in range(count):
        sold = log_i[held[k], T_ENTRY]
        if expiry[sold - lo] == expiry[c]:  # already holding the expiry
            return 0, 0.0, 0.0
        mark = marks[offset[sold - lo] + i - sold]
        in_use += _margin(cash_margin, spot, strike[sold - lo], mark) * log_i[held[k], T_CONTRACTS]
    price_life(c, lo, fp[SCALE], ordinals, market, model, expiry, settles, strike, am, offset, marks, priced, entry)
    price = marks[offset[c]]
    fill = _fill(price, fp[SLIPPAGE], penny, -1)
    if fill * 100 - fp[FEE] <= fp[MIN_PREMIUM]:
        return 0, 0.0, 0.0
    per_contract = _margin(cash_margin, spot, strike[c], price) + 100 * (price - fill)
    if ip[SIZE_BY] == SIZE_CONTRACTS:  # Rules.wanted
        wanted = ip[CONTRACTS]
    else:
        each = 100.0 * strike[c] if ip[SIZE_BY] == SIZE_NOTIONAL else per_contract
        wanted = max(0, math.floor(fp[SIZE_TARGET] * equity / each + 1e-9))
    if wanted == 0:
        return 0, 0.0, 0.0
    contracts = wanted  # rules.size_contracts
    if per_contract > 0:
        contracts = max(0, min(wanted, math.floor((fp[MAX_MARGIN] * equity - in_use) / per_contract + 1e-9)))
    if contracts == 0:
        return 0, 0.0, 0.0
    return contracts, fill, round(fill * 100 * contracts - round(fp[FEE] * contracts, 2), 2)
