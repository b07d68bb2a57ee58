"""The option-price estimator against every real quote shipped (2008-2024), judged on days left out of its fit."""

import numpy as np
import pytest

from data.fit_vol_model import fit, shipped_puts
from data.model_check import error_tables, leave_one_day_out, premium_errors
from data.pricing import FITTED, VolModel


@pytest.fixture(scope="module")
def puts():
    return shipped_puts()


def test_the_sample_is_the_puts_a_seller_trades(puts):
    assert puts["quote_date"].nunique() >= 50 and len(puts) > 10_000
    assert puts["days"].between(14, 70).all() and puts["delta"].between(0.05, 0.40).all()
    assert (puts["ask"] >= puts["bid"]).all() and (puts["bid"] > 0).all()
    years = {d.year for d in puts["quote_date"]}
    assert {2008, 2011, 2018, 2019, 2020, 2022, 2023, 2024} <= years


def test_left_out_days_are_priced_within_fifteen_percent(puts):
    """Median over days of the median absolute premium error, each day priced by a fit without it: at most 15%
    (the issue's test bound; the target is 10% and the bias within 5%)."""
    errors = leave_one_day_out(puts, fit)
    overall = error_tables(puts, errors)["overall"][0]
    print(f"leave one day out: median error {overall.median_error:.1%}, bias {overall.bias:+.1%}")
    assert overall.median_error <= 0.15
    assert abs(overall.bias) <= 0.05
    for row in error_tables(puts, errors)["by source"]:
        assert row.median_error <= 0.30, row  # no regime is far off: the worst is an overnight snapshot


def test_the_fit_beats_the_model_it_replaced_and_a_flat_vix(puts):
    """The 2018-only fit (ATM = term vol / 1.378, psi 1.268, alpha 0.415) and a flat VIX vol, on the same quotes."""
    def median(model):
        return error_tables(puts, premium_errors(puts, model))["overall"][0].median_error

    old = VolModel(premium=1 - 1 / 1.378, gap=0.0, psi_1m=1.268, alpha=0.415)
    flat = VolModel(premium=0.0, gap=0.0, psi_1m=0.0, alpha=0.0)
    assert median(FITTED) < 0.10 < min(median(old), median(flat))


def test_the_shipped_parameters_are_the_fit(puts):
    """data/pricing.py FITTED is what `python -m data.fit_vol_model` finds on the shipped quotes."""
    fitted = fit(puts)
    assert np.allclose([fitted.premium, fitted.gap, fitted.psi_1m, fitted.alpha],
                       [FITTED.premium, FITTED.gap, FITTED.psi_1m, FITTED.alpha], atol=0.006)
