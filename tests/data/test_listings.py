"""What was listed, when (data/listings.py): against the real chains of those days, on dates either side of each
change, and over a full-history backtest checked against the eras written out again here."""

import datetime as dt

import pytest

from backtest.spx_premium_backtest import run_backtest
from data.chain_files import REAL_CHAINS, read_chain
from data.contracts import parse_ticker, put_contract
from data.listings import listed_expirations, root_for_expiry
from data.market import EmbeddedSource
from trading.rules import Rules
from trading.strategy import StrategyParams


@pytest.mark.parametrize("name", ["deltaneutral_spx_200811.csv.gz", "ivolatility_spx_201101.csv.gz",
                                  "cboe_quotedata_2019-05-13.csv.gz", "cboe_quotedata_2020-09-04.csv.gz",
                                  "cboe_quotedata_2022-02-04.csv.gz", "cboe_quotedata_2022-06-10.csv.gz",
                                  "cboe_quotedata_2022-07-12.csv.gz", "cboe_quotedata_2023-05-05.csv.gz",
                                  "cboe_quotedata_2024-02-13.csv.gz"])
def test_every_expiration_listed_on_a_real_chain_day_is_in_that_chain(name):
    """The table never lists what the exchange did not: on each day of a real chain, every expiration it gives
    within 120 days is one the chain quotes (the chain may hold more: the table's horizons are the short ones)."""
    chain = read_chain(REAL_CHAINS / name)
    for day, quotes in chain.groupby("quote_date"):
        real = set(quotes["expiry"])
        listed = set(listed_expirations(day, day + dt.timedelta(days=120), False))
        assert listed <= real, (day, sorted(listed - real))
        assert len(listed) >= 3


@pytest.mark.parametrize("name", ["deltaneutral_spx_200811.csv.gz", "ivolatility_spx_201101.csv.gz",
                                  "cboe_quotedata_2019-05-13.csv.gz", "cboe_quotedata_2020-09-04.csv.gz",
                                  "cboe_quotedata_2022-02-04.csv.gz", "cboe_quotedata_2022-03-23.csv.gz",
                                  "cboe_quotedata_2022-06-10.csv.gz", "cboe_quotedata_2022-07-12.csv.gz",
                                  "cboe_quotedata_2023-05-05.csv.gz", "cboe_quotedata_2024-02-13.csv.gz"])
def test_the_monthly_cycle_lists_only_what_the_chain_quotes_a_year_out(name):
    """Monthlies by the cycle (the next few months, then March, June, September and December): each one the
    table lists within a year is one the chain quotes under SPX (the AM root)."""
    chain = read_chain(REAL_CHAINS / name)
    for day, quotes in chain.groupby("quote_date"):
        real = set(quotes["expiry"][quotes["root"] == "SPX"])
        listed = set(listed_expirations(day, day + dt.timedelta(days=366), True))
        assert listed <= real, (day, sorted(listed - real))
        assert len(listed) >= 6


@pytest.mark.parametrize("as_of, not_listed", [
    # the real chains: no April, May, July, August or October 2009 on 2008-11-03; no May, July, August,
    # October or November 2011 on 2011-01-03; no February 2021 on 2020-03-20
    (dt.date(2008, 11, 3), [(2009, 4), (2009, 5), (2009, 7), (2009, 8), (2009, 10)]),
    (dt.date(2011, 1, 3), [(2011, 5), (2011, 7), (2011, 8), (2011, 10), (2011, 11)]),
    (dt.date(2020, 3, 20), [(2021, 2)]),
])
def test_monthlies_off_the_cycle_are_not_listed(as_of, not_listed):
    months = {(e.year, e.month) for e in listed_expirations(as_of, as_of + dt.timedelta(days=366), True)}
    assert not months & set(not_listed)
    assert {(as_of.year + (as_of.month + k - 1) // 12, (as_of.month + k - 1) % 12 + 1) for k in (1, 2, 3)} <= months


def test_a_deltaneutral_quarterly_is_priced_as_the_pm_quarterly_it_is(runner, tmp_path):
    """The 2008-11 file's quarterly roots (QSE, SAQ, SZQ...) are the PM-settled quarterlies: 2008-12-31 has
    strikes and real quotes on chains."""
    import json

    from trading.cli import cli

    db = tmp_path / "q.db"
    assert runner.invoke(cli, ["import", str(REAL_CHAINS / "deltaneutral_spx_200811.csv.gz"), "--db",
                               str(db)]).exit_code == 0
    chain = read_chain(REAL_CHAINS / "deltaneutral_spx_200811.csv.gz")
    quarter = chain[(chain["expiry"] == dt.date(2008, 12, 31)) & (chain["right"] == "P")
                    & (chain["quote_date"] == dt.date(2008, 11, 4)) & (chain["bid"] > 0)]
    assert set(quarter["root"]) <= {"QSE", "QSZ", "QZQ", "SAQ", "SKQ", "SLQ", "SQP", "SZQ"} and len(quarter)
    row = quarter.iloc[len(quarter) // 2]
    quoted = runner.invoke(cli, ["quote", "--as-of", "2008-11-04", "--expiry", "2008-12-31", "--strike",
                                 f"{row['strike']:g}", "--source", "chains", "--json", "--db", str(db)])
    assert quoted.exit_code == 0, quoted.output
    shown = json.loads(quoted.stdout)
    assert shown["ticker"].startswith("O:SPXQ081231P") and (shown["bid"], shown["ask"]) == (row["bid"], row["ask"])


@pytest.mark.parametrize("as_of,expiry,listed", [
    (dt.date(2005, 10, 27), dt.date(2005, 11, 4), False), (dt.date(2005, 10, 28), dt.date(2005, 11, 4), True),
    (dt.date(2008, 11, 6), dt.date(2008, 11, 14), False), (dt.date(2008, 11, 7), dt.date(2008, 11, 14), True),
    (dt.date(2010, 12, 1), dt.date(2010, 12, 10), False), (dt.date(2010, 12, 2), dt.date(2010, 12, 10), True),
    (dt.date(2010, 10, 18), dt.date(2010, 12, 10), False),  # the O:SPXW101210P01100000, 53 days out
    (dt.date(2012, 4, 30), dt.date(2012, 5, 25), False), (dt.date(2012, 5, 1), dt.date(2012, 6, 1), True),
    (dt.date(2013, 12, 31), dt.date(2014, 2, 7), False), (dt.date(2014, 1, 2), dt.date(2014, 2, 7), True),
    (dt.date(2007, 12, 31), dt.date(2008, 3, 31), False), (dt.date(2008, 1, 2), dt.date(2008, 3, 31), True),
    (dt.date(2014, 7, 3), dt.date(2014, 7, 31), False), (dt.date(2014, 7, 7), dt.date(2014, 7, 31), True),
    (dt.date(2016, 2, 22), dt.date(2016, 3, 2), False), (dt.date(2016, 2, 23), dt.date(2016, 3, 2), True),
    (dt.date(2016, 8, 12), dt.date(2016, 8, 22), False), (dt.date(2016, 8, 15), dt.date(2016, 8, 22), True),
    (dt.date(2022, 4, 14), dt.date(2022, 4, 19), False), (dt.date(2022, 4, 18), dt.date(2022, 4, 19), True),
    (dt.date(2022, 5, 10), dt.date(2022, 5, 12), False), (dt.date(2022, 5, 11), dt.date(2022, 5, 12), True),
])
def test_either_side_of_each_change(as_of, expiry, listed):
    assert (expiry in listed_expirations(as_of, expiry, False)) == listed


@pytest.mark.parametrize("expiry,ticker", [
    (dt.date(2008, 11, 21), "O:SPX081122P00800000"),  # a monthly, dated on its Saturday before 2015-02-15
    (dt.date(2015, 2, 20), "O:SPX150220P00800000"),
    (dt.date(2008, 11, 14), "O:JXB081114P00800000"),  # the 2008 chain's roots: JXB, the second Friday's
    (dt.date(2008, 11, 28), "O:JXD081128P00800000"),
    (dt.date(2011, 3, 31), "O:SPXQ110331P00800000"),
    (dt.date(2009, 12, 31), "O:SPXQ091231P00800000"),  # a quarter end on the Thursday before a holiday
    (dt.date(2014, 9, 30), "O:SPXW140930P00800000"),
    (dt.date(2020, 9, 8), "O:SPXW200908P00800000"),  # Labor Day's Monday series expires Tuesday
])
def test_roots_and_tickers_of_the_era(expiry, ticker):
    contract = put_contract(expiry, 800.0)
    assert contract.ticker == ticker and parse_ticker(ticker) == contract
    assert contract.am_settled == (contract.root in ("SPX", "JXB", "JXD"))


def listed_then(entry: dt.date, expiry: dt.date) -> bool:
    """DOMAIN 1.5 written out again: may a put of this expiry have been sold on this day?"""
    days = (expiry - entry).days
    first_week = dt.date(expiry.year, expiry.month, 1)
    third_friday = first_week + dt.timedelta(days=(4 - first_week.weekday()) % 7 + 14)
    if expiry in (third_friday, third_friday - dt.timedelta(days=1)):
        return True  # monthlies: always listed
    quarter_end = expiry.month in (3, 6, 9, 12) and (expiry + dt.timedelta(days=4)).month != expiry.month
    month_end = (expiry + dt.timedelta(days=4)).month != expiry.month
    if quarter_end and entry >= dt.date(2008, 1, 2) or month_end and entry >= dt.date(2014, 7, 7):
        return True
    if expiry.weekday() in (3, 4) and expiry < dt.date(2010, 12, 10):
        return days <= 7 and entry >= dt.date(2005, 10, 28)  # one-week AM Weeklys
    if expiry.weekday() in (3, 4):  # Friday weeklys (Thursday before a holiday), or a Thursday from 2022-05
        horizon = 8 if entry < dt.date(2012, 5, 1) else 35 if entry < dt.date(2014, 1, 1) else 42
        return days <= horizon and entry >= dt.date(2010, 12, 2) or \
            days <= (28 if entry >= dt.date(2023, 5, 1) else 14) and entry >= dt.date(2022, 5, 11)
    if expiry.weekday() == 1 and entry >= dt.date(2022, 4, 18):  # Tuesdays (or a Monday series after a holiday)
        return days <= (28 if entry >= dt.date(2023, 5, 1) else 14) or days <= 28 and entry >= dt.date(2016, 8, 15)
    start = {0: dt.date(2016, 8, 15), 1: dt.date(2016, 8, 15), 2: dt.date(2016, 2, 23)}[expiry.weekday()]
    return days <= 28 and entry >= start


@pytest.mark.parametrize("dte", [7, 30, 45])
def test_no_contract_is_traded_before_it_was_listed(dte):
    params = StrategyParams(put_delta=0.2, dte_target=dte, capital=10_000_000.0)
    result = run_backtest(EmbeddedSource(), Rules(params), dt.date(1990, 1, 1), dt.date(2026, 7, 10), params.capital)
    assert len(result.trades) > 400
    for trade in result.trades:
        assert listed_then(trade.entry_date, trade.expiry), trade.ticker
        assert trade.root == root_for_expiry(trade.expiry)
    roots = {trade.root for trade in result.trades}
    assert {"SPX", "SPXW"} <= roots
