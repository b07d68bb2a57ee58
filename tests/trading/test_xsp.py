"""XSP (Mini-SPX) for small accounts: 1/10 of SPX, $1 strikes, penny ticks, PM-settled at a tenth of SPX's close."""

import datetime as dt
import json
import math

import pytest

from backtest.decision import estimated_quote
from backtest.spx_premium_backtest import run_backtest
from backtest.types import Holding, MarketDay
from data.contracts import parse_ticker, put_contract
from data.market import EmbeddedSource, load_bundled
from trading.cli import cli
from trading.rules import Rules, fill_price, holding_margin, settle
from trading.strategy import StrategyParams

DAY = MarketDay(dt.date(2024, 11, 5), 5782.76, 20.49, 21.5, 0.045)


def test_xsp_tickers_roots_and_settlement_style():
    weekly = put_contract(dt.date(2024, 12, 13), 528, "XSP")
    assert weekly.ticker == "O:XSP241213P00528000" and not weekly.am_settled
    assert parse_ticker(weekly.ticker) == weekly
    # a standard (third-Friday) XSP ticker carried the Saturday's date until 2015, as SPX monthlies did
    assert put_contract(dt.date(2014, 12, 19), 200, "XSP").ticker == "O:XSP141220P00200000"
    assert parse_ticker("O:XSP141220P00200000").expiry == dt.date(2014, 12, 19)


def test_an_xsp_put_is_a_tenth_of_the_spxw_put_ten_times_its_strike():
    """Black-Scholes is homogeneous in spot and strike: on a PM-settled weekly (the same time to settlement for
    both), the XSP 528 put is exactly a tenth of the SPXW 5280 put, with the same IV and delta."""
    xsp = estimated_quote(DAY, put_contract(dt.date(2024, 12, 13), 528, "XSP"))
    spxw = estimated_quote(DAY, put_contract(dt.date(2024, 12, 13), 5280))
    assert xsp.price == pytest.approx(spxw.price / 10, rel=1e-12)
    assert (xsp.iv, xsp.delta) == pytest.approx((spxw.iv, spxw.delta), rel=1e-12)


def test_xsp_settles_at_a_tenth_of_the_close_and_margin_is_a_tenth():
    """By hand: SPX closes at 5000 on expiry, XSP settles at 500.00: the 528 put pays (528 - 500) x 100 = $2,800.
    Reg-T for 2 XSP 528 puts at 2.86 with SPX 5782.76 (XSP 578.276): max(2.86 + 0.15 x 578.276 - 50.276,
    2.86 + 52.8) = 55.66 a share, x 100 x 2 = $11,132."""
    contract = put_contract(dt.date(2024, 12, 13), 528, "XSP")
    assert settle(contract, 1, 300.0, 5010.0, 5000.0) == (500.0, -2500.0)
    assert holding_margin(False, DAY, Holding(contract, 2, 2.86, 2.90)) == pytest.approx(11_132.0)


@pytest.mark.parametrize("price,penny,fill", [
    (2.86, True, 2.71),  # 2.86 - 5% (0.143) = 2.717, down to the cent
    (2.86, False, 2.70),  # SPX's $0.05 grid
    (0.10, True, 0.09),  # the haircut is at least a cent for XSP ...
    (0.10, False, 0.05),  # ... and $0.05 for SPX
])
def test_xsp_fills_are_in_cents(price, penny, fill):
    assert fill_price(price, 0.05, penny, -1) == fill


def test_an_xsp_backtest_sells_xsp_on_its_grid_and_settles_on_spx_over_ten():
    params = StrategyParams(put_delta=0.2, dte_target=30, underlying="XSP", contracts_per_trade=10)
    result = run_backtest(EmbeddedSource(), Rules(params), dt.date(2022, 1, 3), dt.date(2022, 12, 30),
                          params.capital)
    history = load_bundled()
    assert len(result.closed) > 10
    for trade in result.trades:
        assert trade.ticker.startswith("O:XSP") and trade.root == "XSP" and trade.strike == int(trade.strike)
        assert trade.fill == round(trade.fill, 2)
    assert any(round(t.fill * 100) % 5 for t in result.trades)  # whole cents, not only nickels
    for trade in result.closed:
        close = history.spx_close[history.index_of(trade.expiry)]
        assert trade.settlement == pytest.approx(close / 10)
        loss = max(trade.strike - close / 10, 0) * 100 * trade.contracts
        assert trade.pnl == pytest.approx(trade.premium - loss, abs=0.011)


def test_xsp_from_the_command_line(runner, db_path):
    result = runner.invoke(cli, ["calibrate", "2022-01-01", "--end", "2023-12-31", "--underlying", "XSP",
                                 "--contracts-per-trade", "10", "--json", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["best"]
    traded = json.loads(runner.invoke(cli, ["trade", "--as-of", "2024-01-03", "--json", "--db",
                                            str(db_path)]).stdout)
    opened = traded["opened"]
    assert opened["ticker"].startswith("O:XSP") and opened["contracts"] == 10
    assert 400 < opened["strike"] < 480 and math.isclose(opened["strike"] % 1, 0)  # XSP was about 470
    assert best["put_delta"] in (0.15, 0.2, 0.25, 0.3)
    quoted = json.loads(runner.invoke(cli, ["quote", "--date", "2024-11-05", "--expiry", "2024-12-13", "--strike",
                                            "528", "--underlying", "XSP", "--json"]).stdout)
    assert quoted["ticker"] == "O:XSP241213P00528000" and quoted["spot"] == pytest.approx(578.276)


@pytest.mark.parametrize("args,message", [
    (["quote", "--date", "2024-11-05", "--expiry", "2024-12-13", "--strike", "528.5", "--underlying", "XSP"],
     "the strike must be a multiple of 1"),
    (["calibrate", "2022-01-01", "--underlying", "XSP", "--source", "cboe"], "Cboe's SPX quotes only"),
    (["backtest", "--delta", "0.2", "--dte", "30", "--underlying", "XSX"], "'XSX' is not one of"),
])
def test_xsp_refusals_are_one_line(runner, db_path, args, message):
    result = runner.invoke(cli, [*args, "--db", str(db_path)])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
