"""Divergence status, the binomial likelihood, and cron times across time zones."""

from math import comb
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from trading.monitor import INSUFFICIENT, MONITOR, RECALIBRATE, STOP, WITHIN, divergence_status, record_likelihood
from trading.schedule import crontab_text, local_times


@pytest.mark.parametrize("points,trades,status", [
    (-2.2, 24, WITHIN),  # the seed's example: 79.2% vs 81.4%
    (4.9, 24, WITHIN), (-5.0, 24, MONITOR), (10.0, 24, MONITOR), (-10.1, 24, RECALIBRATE), (20.0, 24, RECALIBRATE),
    (-20.5, 24, STOP), (-35.0, 9, INSUFFICIENT),
])
def test_divergence_status(points, trades, status):
    assert divergence_status(points, trades, min_trades=10) is status


def test_exit_codes_are_distinct():
    codes = [s.exit_code for s in (WITHIN, INSUFFICIENT, MONITOR, RECALIBRATE, STOP)]
    assert len(set(codes)) == 5 and WITHIN.exit_code == 0 and not {1, 2} & set(codes)


def test_record_likelihood_is_the_binomial_tail():
    # 19 wins of 24 against 81.4%: P(X <= 19) summed by hand
    by_hand = sum(comb(24, k) * 0.814 ** k * 0.186 ** (24 - k) for k in range(20))
    assert record_likelihood(19, 24, 0.814) == pytest.approx(by_hand)
    above = sum(comb(10, k) * 0.5 ** 10 for k in range(9, 11))
    assert record_likelihood(9, 10, 0.5) == pytest.approx(above)
    assert record_likelihood(0, 0, 0.8) == 1.0


@pytest.mark.parametrize("zone,expected", [
    ("UTC", [(20, 30), (21, 30)]),
    ("America/New_York", [(16, 30)]),
    ("Europe/Berlin", [(21, 30), (22, 30)]),  # Europe and the US switch on different weekends
    ("Asia/Kolkata", [(2, 0), (3, 0)]),  # the next calendar day there, at a half-hour offset
])
def test_local_times_cover_both_dst_sides(zone, expected):
    assert local_times(16, 30, ZoneInfo(zone), 2027) == expected


def test_crontab_guards_on_the_new_york_clock():
    text = crontab_text(Path("/opt/spx"), ZoneInfo("UTC"))
    daily = [line for line in text.splitlines() if "run_spx_daily.sh" in line and not line.startswith("#")]
    assert daily == [
        '30 20 * * * [ "$(TZ=America/New_York date +\\%H)" = 16 ] && [ "$(TZ=America/New_York date +\\%u)" -le 5 ]'
        ' && /opt/spx/scripts/run_spx_daily.sh >> /opt/spx/logs/daily.log 2>&1',
        '30 21 * * * [ "$(TZ=America/New_York date +\\%H)" = 16 ] && [ "$(TZ=America/New_York date +\\%u)" -le 5 ]'
        ' && /opt/spx/scripts/run_spx_daily.sh >> /opt/spx/logs/daily.log 2>&1',
    ]
    assert "check_spx_performance.sh" in text and "calibrate_spx_wheel.sh" in text


@pytest.mark.parametrize("wins,trades,rate", [(28, 31, 0.988), (19, 24, 0.814), (950, 1000, 0.97), (3, 3, 0.5),
                                              (0, 5, 0.5), (5, 5, 1.0)])
def test_record_likelihood_matches_scipy(wins, trades, rate):
    from scipy.stats import binom

    expected = binom.cdf(wins, trades, rate) if wins / trades <= rate else binom.sf(wins - 1, trades, rate)
    assert record_likelihood(wins, trades, rate) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_a_broker_run_is_scheduled_inside_market_hours_and_sends():
    import datetime as dt

    from data.errors import BadInput
    from trading.schedule import broker_time

    text = crontab_text(Path("/opt/spx"), ZoneInfo("UTC"), broker="tastytrade", at=broker_time("15:30"))
    daily = [line for line in text.splitlines() if "run_spx_daily.sh" in line]
    # 15:30 New York is 19:30 UTC in summer (EDT) and 20:30 in winter (EST)
    assert [line.split()[:2] for line in daily] == [["30", "19"], ["30", "20"]]
    assert all('date +\\%H)" = 15 ]' in line and "--source cboe --broker tastytrade --send" in line for line in daily)
    assert broker_time("09:30") == dt.time(9, 30)
    for late in ("16:30", "09:00", "7pm"):
        with pytest.raises(BadInput):
            broker_time(late)
