"""OCC symbols both ways, checked by hand against the OCC's layout (root padded to six, YYMMDD, P, the strike in
thousandths) and the listings."""

from __future__ import annotations

import datetime as dt

import pytest

from data.contracts import OptionContract, parse_ticker
from data.errors import DataError
from trading.brokers.symbols import contract_of_occ, occ_symbol


@pytest.mark.parametrize("ticker, occ", [
    ("O:SPXW261224P06040000", "SPXW  261224P06040000"),
    ("O:SPX261218P06000000", "SPX   261218P06000000"),  # the AM monthly of December 2026
    ("O:XSP261224P00604000", "XSP   261224P00604000"),
    ("O:SPX130119P01400000", "SPX   130119P01400000"),  # dated on its Saturday until 2015, expiring Friday
])
def test_both_ways(ticker, occ):
    contract = parse_ticker(ticker)
    assert occ_symbol(contract) == occ and contract_of_occ(occ) == contract


def test_the_saturday_dated_monthly_expires_on_friday():
    assert contract_of_occ("SPX   130119P01400000") == OptionContract("SPX", dt.date(2013, 1, 18), 1400.0)


@pytest.mark.parametrize("symbol, why", [
    ("SPX   261224P06040000", "SPX lists no expiry"),  # SPX (AM) lists the monthly cycle only
    ("SPXW  261226P06040000", "SPXW lists no expiry"),  # a Saturday
    ("SPXW  261225P06040000", "SPXW lists no expiry"),  # Christmas: no session
    ("AAPL  261224P00100000", "not an SPX or XSP option root"),
    ("SPXW  261224C06040000", "not an SPX or XSP put"),
    ("garbage", "not an SPX or XSP put"),
])
def test_what_no_listing_holds_is_refused(symbol, why):
    with pytest.raises(DataError, match=why):
        contract_of_occ(symbol)
