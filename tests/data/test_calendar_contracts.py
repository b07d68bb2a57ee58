"""Expirations around exchange holidays, the SPX/SPXW root and the ticker format."""

import datetime as dt

import pytest

from data.contracts import OptionContract, parse_ticker, put_contract
from data.listings import is_monthly, listed_expirations
from trading.rules import choose_expiry


def test_good_friday_2022_moves_the_monthly_to_thursday():
    listed = listed_expirations(dt.date(2022, 3, 1), dt.date(2022, 5, 1), monthly_only=False)
    assert dt.date(2022, 4, 15) not in listed
    assert dt.date(2022, 4, 14) in listed
    # 2022-03-01 + 44 days = 2022-04-14: the Thursday is the closest expiration to 44 DTE
    assert choose_expiry(dt.date(2022, 3, 1), 44, listed) == dt.date(2022, 4, 14)
    contract = put_contract(dt.date(2022, 4, 14), 4000)
    assert contract.root == "SPX" and contract.am_settled
    assert contract.ticker == "O:SPX220414P04000000"


def test_juneteenth_2026_moves_the_monthly_to_thursday():
    listed = listed_expirations(dt.date(2026, 5, 1), dt.date(2026, 7, 31), monthly_only=True)
    assert list(listed) == [dt.date(2026, 5, 15), dt.date(2026, 6, 18), dt.date(2026, 7, 17)]
    assert choose_expiry(dt.date(2026, 5, 4), 45, listed) == dt.date(2026, 6, 18)
    assert is_monthly(dt.date(2026, 6, 18))


def test_expiry_tie_goes_to_the_earlier():
    listed = [dt.date(2024, 1, 5), dt.date(2024, 1, 12)]
    # from 2023-12-01: 35 and 42 days; a 38.5 target cannot tie with whole days, 38 vs 39 shows both sides
    assert choose_expiry(dt.date(2023, 12, 1), 38, listed) == dt.date(2024, 1, 5)
    assert choose_expiry(dt.date(2023, 12, 1), 39, listed) == dt.date(2024, 1, 12)
    assert choose_expiry(dt.date(2023, 12, 4), 35, listed) == dt.date(2024, 1, 5)  # 32 vs 39: earlier wins
    assert choose_expiry(dt.date(2023, 12, 1), 45, []) is None


@pytest.mark.parametrize("expiry,strike,ticker", [
    (dt.date(2024, 12, 20), 5280, "O:SPX241220P05280000"),
    (dt.date(2024, 12, 13), 5280, "O:SPXW241213P05280000"),
    (dt.date(2023, 12, 15), 4712.5, "O:SPX231215P04712500"),
    (dt.date(2024, 5, 17), 5000, "O:SPX240517P05000000"),
])
def test_tickers(expiry, strike, ticker):
    contract = put_contract(expiry, strike)
    assert contract.ticker == ticker
    assert parse_ticker(ticker) == contract


def test_parse_rejects_calls_and_other_roots():
    for bad in ("O:SPXW230712C04500000", "O:AAPL230616P00150000", "SPX241220P05280000"):
        with pytest.raises(ValueError):
            parse_ticker(bad)
    assert OptionContract("SPXW", dt.date(2024, 12, 13), 5280).am_settled is False


def test_the_shipped_calendar_is_exchange_calendars_own():
    from data.calendar import read_closures, xnys_closures

    shipped = read_closures()
    assert xnys_closures(shipped.end) == shipped
    assert dt.date(2025, 1, 9) in shipped.days  # the day of mourning for President Carter
    assert dt.date(2027, 3, 26) in shipped.days  # Good Friday 2027


def test_past_the_shipped_calendar_exchange_calendars_is_asked(monkeypatch):
    from data import calendar

    monkeypatch.setattr(calendar, "_calendar", [calendar.Closures(dt.date(2026, 12, 31), frozenset())])
    calendar._sessions.cache_clear()
    try:
        assert calendar.last_calendar_day() == dt.date(2026, 12, 31)
        calendar.reach_until(dt.date(2027, 1, 5))
        assert calendar.last_calendar_day() > dt.date(2027, 1, 5)
        assert not calendar.is_session(dt.date(2027, 1, 1)) and calendar.is_session(dt.date(2027, 1, 4))
    finally:
        calendar._sessions.cache_clear()
