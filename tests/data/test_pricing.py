"""Black-Scholes against textbook values and put-call parity; the volatility model against the real 2018 chains."""

import math

import numpy as np
import pytest

from data.pricing import (
    VolModel,
    bs_put_delta,
    bs_put_price,
    put_iv,
    skew_strike_for_put_delta,
    strike_for_put_delta,
    term_vol,
)


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_textbook_put_value():
    # Hull, Options Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5 -> p = 0.81
    assert bs_put_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20) == pytest.approx(0.8086, abs=5e-4)


@pytest.mark.parametrize("spot,strike,t,r,q,vol", [
    (5000, 4700, 45 / 365, 0.04, 0.013, 0.22), (1125.6, 1000, 29 / 365, 0.0015, 0.02, 0.26),
    (100, 120, 1.0, 0.05, 0.0, 0.4), (3000, 3000, 7 / 365, 0.0, 0.015, 0.12),
])
def test_put_call_parity(spot, strike, t, r, q, vol):
    d1 = (math.log(spot / strike) + (r - q + vol * vol / 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    call = spot * math.exp(-q * t) * normal_cdf(d1) - strike * math.exp(-r * t) * normal_cdf(d2)
    put = bs_put_price(spot, strike, t, r, q, vol)
    assert call - put == pytest.approx(spot * math.exp(-q * t) - strike * math.exp(-r * t), abs=1e-8)


def test_put_delta_is_the_price_slope():
    spot, strike, t, r, q, vol = 5000.0, 4800.0, 30 / 365, 0.04, 0.013, 0.2
    h = 0.01
    slope = (bs_put_price(spot + h, strike, t, r, q, vol) - bs_put_price(spot - h, strike, t, r, q, vol)) / (2 * h)
    delta = bs_put_delta(spot, strike, t, r, q, vol)
    assert delta < 0
    assert delta == pytest.approx(slope, abs=1e-6)


def test_expired_put_is_worth_its_intrinsic_value():
    assert bs_put_price(5200.0, 5280.0, 0.0, 0.04, 0.013, 0.2) == pytest.approx(80.0)
    assert bs_put_price(5300.0, 5280.0, 0.0, 0.04, 0.013, 0.2) == 0.0


@pytest.mark.parametrize("delta", [0.05, 0.15, 0.20, 0.30, 0.50])
@pytest.mark.parametrize("days,vol", [(7, 0.12), (45, 0.20), (60, 0.35)])
def test_strike_for_put_delta_round_trips(delta, days, vol):
    t = days / 365
    strike = strike_for_put_delta(5000.0, delta, t, 0.04, 0.013, vol)
    assert bs_put_delta(5000.0, strike, t, 0.04, 0.013, vol) == pytest.approx(-delta, abs=1e-10)


def test_strike_for_put_delta_rejects_impossible_deltas():
    with pytest.raises(ValueError):
        strike_for_put_delta(5000.0, 1.0, 0.1, 0.04, 0.013, 0.2)


@pytest.mark.parametrize("delta,days,vix,flat_otm,skew_otm", [
    # worked by hand from Black-Scholes: r = 4%, q = 1.3%, skew model c=1.2, psi=0.95, alpha=0.45, flat term structure
    (0.15, 45, 20, 6.47, 7.43), (0.20, 30, 12, 2.58, 2.78), (0.30, 60, 30, 5.04, 4.85), (0.25, 45, 20, 4.06, 4.12),
])
def test_strikes_match_the_domain_table(delta, days, vix, flat_otm, skew_otm):
    t = days / 365
    flat = strike_for_put_delta(5000.0, delta, t, 0.04, 0.013, vix / 100)
    domain = VolModel(premium=1 - 1 / 1.2, gap=0.0, psi_1m=0.95, alpha=0.45)  # ATM = term vol / 1.2
    skew = skew_strike_for_put_delta(5000.0, delta, t, 0.04, 0.013, vix, math.nan, model=domain)
    assert (1 - flat / 5000) * 100 == pytest.approx(flat_otm, abs=0.01)
    assert (1 - skew / 5000) * 100 == pytest.approx(skew_otm, abs=0.01)


def test_term_vol_interpolates_total_variance_between_vix_and_vix3m():
    assert term_vol(30 / 365, 20.0, 25.0) == pytest.approx(0.20)
    assert term_vol(93 / 365, 20.0, 25.0) == pytest.approx(0.25)
    # 61.5 days: total variance halfway in T-weighted terms
    t = 61.5 / 365
    expected = math.sqrt((0.04 * 30 * (93 - 61.5) + 0.0625 * 93 * (61.5 - 30)) / ((93 - 30) * 61.5))
    assert term_vol(t, 20.0, 25.0) == pytest.approx(expected)
    assert term_vol(t, 20.0, math.nan) == pytest.approx(0.20)


def test_put_iv_rises_as_the_strike_falls():
    strikes = np.array([4000.0, 4500.0, 4800.0, 5000.0])
    ivs = put_iv(5000.0, strikes, 30 / 365, 0.04, 0.015, 20.0, 22.0)
    assert np.all(np.diff(ivs) < 0)


def test_the_normal_cdf_is_scipys_on_both_paths():
    from scipy.special import ndtr as reference

    from data.pricing import SCALAR_SIZE, ndtr

    small = np.linspace(-9, 9, SCALAR_SIZE)
    large = np.linspace(-9, 9, SCALAR_SIZE * 4 + 1)
    np.testing.assert_allclose(ndtr(small), reference(small), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(ndtr(large), reference(large), rtol=1e-14, atol=1e-300)
    assert isinstance(ndtr(0.3), float) and ndtr(0.0) == 0.5


def test_the_closed_form_skew_strike_is_the_root_a_solver_finds():
    """Against scipy's brentq on the delta gap itself, over random days (VIX3M missing in some), every side of the
    forward and times below the one-day floor of the vol model; also on arrays at once."""
    from scipy.optimize import brentq

    rng = np.random.default_rng(7)
    cases = []
    while len(cases) < 400:
        spot, delta, t = rng.uniform(300, 7000), rng.uniform(0.03, 0.6), rng.uniform(0.3, 400) / 365
        r, q, vix = rng.uniform(0, 0.06), rng.uniform(0, 0.03), rng.uniform(9, 80)
        vix3m = math.nan if rng.random() < 0.3 else vix * rng.uniform(0.8, 1.2)

        def gap(strike):
            vol = put_iv(spot, strike, t, r, q, vix, vix3m)
            return float(-bs_put_delta(spot, strike, t, r, q, vol)) - delta

        if gap(0.3 * spot) * gap(1.5 * spot) < 0:
            cases.append((spot, delta, t, r, q, vix, vix3m, brentq(gap, 0.3 * spot, 1.5 * spot, xtol=1e-9)))
    above = 0
    for spot, delta, t, r, q, vix, vix3m, root in cases:
        assert skew_strike_for_put_delta(spot, delta, t, r, q, vix, vix3m) == pytest.approx(root, rel=1e-11)
        above += root > spot * math.exp((r - q) * t)
    assert 0 < above < len(cases)
    columns = [np.array(c) for c in zip(*cases)]
    for delta in (0.1, 0.4):
        spot, _, t, r, q, vix, vix3m, _ = columns
        each = [skew_strike_for_put_delta(*row[:1], delta, *row[1:]) for row in zip(spot, t, r, q, vix, vix3m)]
        assert skew_strike_for_put_delta(spot, delta, t, r, q, vix, vix3m) == pytest.approx(each, rel=1e-12)
