"""Black-Scholes for European index puts and the implied-volatility estimate from VIX/VIX3M.

Pure functions. Every function accepts floats or numpy arrays (broadcast together). Times are in years, rates
and dividend yields continuous annual fractions, volatilities annual fractions; VIX levels are index points.
The volatility model starts from the VIX methodology: a term volatility interpolated in total variance
between VIX (30 days) and VIX3M (93 days), an at-the-money level below it, and a put skew linear in log-moneyness
whose slope decays as T ** -alpha. Fitted on real chains of 2008-2024 (data/fit_vol_model.py), the gap between the
term volatility and the at-the-money level is not a fixed ratio: it is a fixed part plus a proportional part
(1.2 points of 10 in January 2018, 8 of 80 in November 2008), while the skew slope stays near 0.9 in every regime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

T30 = 30.0 / 365.0
T93 = 93.0 / 365.0
MIN_VOL = 0.03

Num = Any  # float or numpy array


SCALAR_SIZE = 256  # arrays this small go through math.erfc: a daily command then never imports scipy (0.1 s)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def ndtr(x: Num) -> Num:
    """The standard normal CDF. Large arrays use scipy's ufunc (fast per element, slow to import); small ones
    and scalars 0.5 * erfc(-x / sqrt 2) from the standard library, equal to it within 2e-16."""
    values = np.asarray(x, dtype=float)
    if values.size > SCALAR_SIZE:
        from scipy.special import ndtr as scipy_ndtr

        return scipy_ndtr(values)[()]
    return (0.5 * np.asarray(_erfc(values * -math.sqrt(0.5)), dtype=float))[()]


def _d1(spot: Num, strike: Num, t: Num, r: Num, q: Num, vol: Num) -> Num:
    return (np.log(spot / strike) + (r - q + 0.5 * vol * vol) * t) / (vol * np.sqrt(t))


def bs_put_price(spot: Num, strike: Num, t: Num, r: Num, q: Num, vol: Num) -> Num:
    """Black-Scholes-Merton price of a European put; at t <= 0 the intrinsic value."""
    t_safe = np.maximum(t, 1e-12)
    d1 = _d1(spot, strike, t_safe, r, q, vol)
    d2 = d1 - vol * np.sqrt(t_safe)
    price = strike * np.exp(-r * t_safe) * ndtr(-d2) - spot * np.exp(-q * t_safe) * ndtr(-d1)
    return np.where(t > 0, price, np.maximum(strike - spot, 0.0))[()]


def bs_put_delta(spot: Num, strike: Num, t: Num, r: Num, q: Num, vol: Num) -> Num:
    """Put delta, -exp(-qT) N(-d1): negative, in (-1, 0)."""
    return -np.exp(-q * t) * ndtr(-_d1(spot, strike, t, r, q, vol))


def strike_for_put_delta(spot: float, delta: float, t: float, r: float, q: float, vol: float) -> float:
    """The strike whose put delta is -delta under a flat volatility (delta given positive, e.g. 0.20)."""
    if not 0.0 < delta < np.exp(-q * t):
        raise ValueError(f"put delta {delta} is outside (0, {np.exp(-q * t):.4f})")
    from scipy.special import ndtri

    d1 = -ndtri(delta * np.exp(q * t))
    return float(spot * np.exp(-d1 * vol * np.sqrt(t) + (r - q + 0.5 * vol * vol) * t))


def forward_put_delta(price: np.ndarray, forward: np.ndarray, strike: np.ndarray, t: np.ndarray,
                      rate: np.ndarray) -> np.ndarray:
    """abs(put delta) N(-d1) from the implied vol of `price`, Black-76 on the forward (vectorised bisection on
    0.1%..500% vol; NaN where a price is not a number)."""
    discount = np.exp(-rate * t)
    low, high = np.full(price.size, 1e-3), np.full(price.size, 5.0)
    for _ in range(50):
        vol = (low + high) / 2
        d1 = (np.log(forward / strike) + 0.5 * vol * vol * t) / (vol * np.sqrt(t))
        model = discount * (strike * ndtr(vol * np.sqrt(t) - d1) - forward * ndtr(-d1))
        high, low = np.where(model > price, vol, high), np.where(model > price, low, vol)
    vol = (low + high) / 2
    d1 = (np.log(forward / strike) + 0.5 * vol * vol * t) / (vol * np.sqrt(t))
    return np.where(np.isnan(price), np.nan, ndtr(-d1))


@dataclass(frozen=True)
class VolModel:
    """Parameters of the skew + term-structure model: ATM = term vol x (1 - premium) - gap."""

    premium: float  # the proportional part of the term vol's premium over the ATM vol
    gap: float  # its fixed part, in vol (0.01 = one point)
    psi_1m: float  # put skew: -d(vol)/d(log-moneyness) at 30 days
    alpha: float  # skew decay exponent in T


# Fitted on every real quote shipped (data/raw/SPX_2018.csv.gz and data/raw/real_chains/, 2008-2024) by
# `python -m data.fit_vol_model`, which also prints the leave-one-day-out error.
FITTED = VolModel(premium=0.127, gap=0.014, psi_1m=0.941, alpha=0.525)


# The estimate is written once, below, for numbers and for arrays alike, and the grid kernel compiles these same
# functions with numba (trading/grid_kernel.py: ESTIMATE). Two primitives have a compiled form of their own there: `select`
# (np.where here, a branch there) and `ndtr` (scipy's or erfc here, erfc there); everything else is arithmetic and
# numpy ufuncs, which both run.


def select(condition: Num, if_true: Num, if_false: Num) -> Num:
    """np.where, for numbers and arrays alike (compiled: a plain branch)."""
    chosen: Num = np.asarray(np.where(condition, if_true, if_false))[()]
    return chosen


def term_vol(t: Num, vix: Num, vix3m: Num) -> Num:
    """VIX-style volatility for maturity t: total variance interpolated between 30 and 93 days.

    Uses VIX alone where VIX3M is missing (NaN) and holds the end points flat outside [30, 93] days."""
    v30 = vix / 100.0
    v93 = select(np.isnan(vix3m), v30, vix3m / 100.0)
    tc = np.minimum(np.maximum(t, T30), T93)
    variance = (v30**2 * T30 * (T93 - tc) + v93**2 * T93 * (tc - T30)) / ((T93 - T30) * tc)
    return np.sqrt(variance)


def skew_vol(spot: Num, strike: Num, t: Num, r: Num, q: Num, vix: Num, vix3m: Num, premium: float, gap: float,
             psi_1m: float, alpha: float) -> Num:
    """Estimated implied volatility of an SPX option at `strike` (skew from the put side), the model's parameters
    given one by one (as compiled code takes them).

    T below one day is taken as one day: the skew term T ** -alpha would otherwise explode at expiry."""
    t_safe = np.maximum(t, 1.0 / 365.0)
    atm = term_vol(t_safe, vix, vix3m) * (1.0 - premium) - gap
    psi = psi_1m * (t_safe / T30) ** (-alpha)
    k = np.log(strike / (spot * np.exp((r - q) * t_safe)))
    slope = select(k < 0, psi, 0.5 * psi)  # a flatter wing above the forward
    return np.maximum(atm - slope * k, MIN_VOL)


def estimate(spot: Num, strike: Num, t: Num, r: Num, q: Num, vix: Num, vix3m: Num, premium: float, gap: float,
             psi_1m: float, alpha: float) -> tuple[Num, Num, Num]:
    """(price, implied vol, delta) of a put from the VIX-based estimate, the model's parameters one by one: the
    one implementation, which the engine runs on arrays and the grid kernel compiles."""
    vol = skew_vol(spot, strike, t, r, q, vix, vix3m, premium, gap, psi_1m, alpha)
    t_safe = np.maximum(t, 1e-12)
    d1 = _d1(spot, strike, t_safe, r, q, vol)
    discount_q = np.exp(-q * t_safe)
    n_minus_d1 = ndtr(-d1)
    price = strike * np.exp(-r * t_safe) * ndtr(vol * np.sqrt(t_safe) - d1) - spot * discount_q * n_minus_d1
    return select(t > 0, price, np.maximum(strike - spot, 0.0)), vol, -discount_q * n_minus_d1


def put_iv(spot: Num, strike: Num, t: Num, r: Num, q: Num, vix: Num, vix3m: Num,
           model: VolModel = FITTED) -> Num:
    """skew_vol with a VolModel."""
    return np.asarray(skew_vol(spot, strike, t, r, q, vix, vix3m, model.premium, model.gap, model.psi_1m,
                               model.alpha))[()]


def estimate_put(spot: Num, strike: Num, t: Num, r: Num, q: Num, vix: Num, vix3m: Num,
                 model: VolModel = FITTED) -> tuple[Num, Num, Num]:
    """estimate with a VolModel: (price, implied vol, delta), numbers for numbers and arrays for arrays."""
    price, vol, delta = estimate(spot, strike, t, r, q, vix, vix3m, model.premium, model.gap, model.psi_1m,
                                 model.alpha)
    return np.asarray(price)[()], np.asarray(vol)[()], np.asarray(delta)[()]


def skew_strike_for_put_delta(spot: Num, delta: float, t: Num, r: Num, q: Num, vix: Num, vix3m: Num,
                              model: VolModel = FITTED) -> Num:
    """The strike whose put delta, priced with the estimated skew vol at that strike, is -delta: in closed form,
    on arrays as on one day.

    With x = log(strike / spot), put_iv is linear in x on each side of the forward (slope psi below it, psi / 2
    above, floored at MIN_VOL) and d1 = (-x + (r - q) t + vol^2 t / 2) / (vol sqrt t) must equal
    D = -N^-1(delta e^(qt)). Times vol sqrt t (positive) that is a convex quadratic in x, negative where vol
    reaches 0, so its smaller root is the one strike with a positive vol; the side of the forward (or the floor)
    it lands on is the one it was solved for."""
    from scipy.special import ndtri

    t, spot = np.asarray(t, dtype=float), np.asarray(spot, dtype=float)
    t_iv = np.maximum(t, 1.0 / 365.0)  # as put_iv
    carry_iv, carry, root_t = (r - q) * t_iv, (r - q) * t, np.sqrt(t)
    atm = term_vol(t_iv, vix, vix3m) * (1.0 - model.premium) - model.gap
    psi = model.psi_1m * (t_iv / T30) ** (-model.alpha)
    d = -ndtri(delta * np.exp(q * t))

    def solved(slope: Num) -> Num:
        level = atm + slope * carry_iv  # vol = level - slope * x
        b = -1.0 - t * level * slope + d * root_t * slope
        c = carry + 0.5 * t * level**2 - d * root_t * level
        return 2.0 * c / (-b + np.sqrt(b * b - 2.0 * t * slope**2 * c)), level

    below, below_level = solved(psi)
    above, above_level = solved(0.5 * psi)
    x = np.where(below < carry_iv, below, above)
    floored = np.where(below < carry_iv, below_level - psi * x, above_level - 0.5 * psi * x) < MIN_VOL
    x = np.where(floored, carry + 0.5 * t * MIN_VOL**2 - d * MIN_VOL * root_t, x)
    return (spot * np.exp(x))[()]


AM_SETTLEMENT_EARLIER = 6.5 / 24.0  # an AM settlement (9:30 ET) comes 6.5 hours before a 16:00 close


def years_to_settlement(calendar_days: Num, am_settled: Num) -> Num:
    """Time from a session's close to settlement, in years of 365 days (`am_settled` a flag, or one per day)."""
    return ((np.asarray(calendar_days, dtype=float) - np.where(am_settled, AM_SETTLEMENT_EARLIER, 0.0)) / 365.0)[()]
