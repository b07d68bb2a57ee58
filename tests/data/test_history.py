"""The bundled history: coverage, cleaning, spot checks against SOURCES.md, and a reproducible build."""

import datetime as dt

import numpy as np
import pytest

from data.build_history import RAW, build_frame, write
from data.calendar import nyse_sessions
from data.free_daily import discount_to_continuous
from data.market import HISTORY_FILE, load_bundled


def test_covers_every_nyse_session_1990_to_2026_07_10():
    history = load_bundled()
    assert history.dates[0] == dt.date(1990, 1, 2)
    assert history.dates[-1] == dt.date(2026, 7, 10)
    assert list(history.dates) == nyse_sessions(dt.date(1990, 1, 2), dt.date(2026, 7, 10))
    for column in (history.spx_open, history.spx_close, history.vix, history.rate):
        assert not np.isnan(column).any()


@pytest.mark.parametrize("day,close,vix", [
    (dt.date(2008, 10, 15), 907.84, None), (dt.date(2020, 3, 16), 2386.13, 82.69),
    (dt.date(2025, 4, 9), 5456.90, None), (dt.date(2018, 2, 5), None, 37.32),
])
def test_spot_checks_from_sources(day, close, vix):
    history = load_bundled()
    i = history.index_of(day)
    if close is not None:
        assert history.spx_close[i] == pytest.approx(close, abs=0.005)
    if vix is not None:
        assert history.vix[i] == pytest.approx(vix, abs=0.005)


def test_missing_vix_sessions_are_forward_filled_and_vix3m_starts_2009_09_18():
    history = load_bundled()
    i = history.index_of(dt.date(1999, 12, 31))  # a session missing from the raw VIX file
    assert history.vix[i] == history.vix[i - 1]
    assert np.isnan(history.vix3m[history.index_of(dt.date(2009, 9, 17))])
    assert history.vix3m[history.index_of(dt.date(2009, 9, 18))] == pytest.approx(26.54)


@pytest.mark.parametrize("discount,continuous", [(5.00, 0.0510), (1.00, 0.01015)])
def test_tbill_discount_to_continuous(discount, continuous):
    # a 91-day bill at discount d: price 1 - d x 91/360, r = -ln(price) x 365/91: d = 5.00% -> r = 5.10%, 1.00% -> 1.015%
    assert discount_to_continuous(discount) == pytest.approx(continuous, abs=5e-5)


def test_build_script_reproduces_the_committed_file(tmp_path):
    out = tmp_path / "market.csv.gz"
    write(build_frame(RAW), out)
    assert out.read_bytes() == HISTORY_FILE.read_bytes()
