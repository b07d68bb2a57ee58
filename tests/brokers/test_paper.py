"""The paper broker's fills, account and settlement against cases worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from backtest.types import MarketDay, Quote
from data.contracts import OptionContract
from data.provenance import PriceSource
from db.session import open_database
from trading.brokers.paper import PaperBroker, PaperMarket
from trading.brokers.protocol import Action, Status, Ticket
from trading.brokers.symbols import occ_symbol
from trading.rules import Rules
from trading.strategy import StrategyParams

PUT = OptionContract("SPXW", dt.date(2026, 8, 7), 4500.0)
DAY1, DAY2, EXPIRY = dt.date(2026, 7, 6), dt.date(2026, 7, 7), dt.date(2026, 8, 7)


def market(day: dt.date, price: float = 10.0, bid: float = math.nan, ask: float = math.nan,
           settlement: float | None = None) -> PaperMarket:
    params = StrategyParams(put_delta=0.1, dte_target=30, slippage=0.05, fee=1.50)
    return PaperMarket(MarketDay(day, 5000.0, 20.0, 21.0, 0.04),
                       lambda c: Quote(price, PriceSource.REAL if bid == bid else PriceSource.ESTIMATED, 0.2, -0.1,
                                       bid, ask),
                       lambda c: settlement, Rules(params), 100_000.0)


@pytest.fixture
def factory(tmp_path):
    return open_database(str(tmp_path / "paper.db"))


def sale(limit: float, client_id: str = "a", tif: str = "day") -> Ticket:
    return Ticket(client_id, occ_symbol(PUT), Action.SELL_TO_OPEN, 1, limit, tif)


def test_on_an_estimate_a_sale_fills_at_the_fill_model_price(factory):
    # the fill model: 10.00 less 5% = 9.50, on SPX's $0.10 grid above $3
    paper = PaperBroker(factory, market(DAY1))
    assert paper.place(sale(9.60)).status is Status.WORKING
    filled = paper.place(sale(9.40, "b"))
    assert (filled.status, filled.filled, filled.fill_price) == (Status.FILLED, 1, 9.50)


def test_on_a_real_quote_a_sale_fills_only_when_the_bid_reaches_it(factory):
    paper = PaperBroker(factory, market(DAY1, bid=9.00, ask=10.00))
    working = paper.place(sale(9.10))
    assert working.status is Status.WORKING
    assert paper.replace(working.broker_id, sale(9.00)).fill_price == 9.00
    assert paper.place(sale(8.90, "b")).fill_price == 9.00  # at the bid: the better price


def test_the_account_by_reg_t(factory):
    paper = PaperBroker(factory, market(DAY1))
    paper.place(sale(9.50))
    preview = paper.preview(sale(9.50, "b"))
    # requirement 100 x max(15% x 5000 - 500 out of the money, 10% x 4500) = 45,000; plus the $1.50 fee; plus
    # the $0.50 a share sold under the 10.00 mark: 45,051.50
    assert (preview.buying_power_effect, preview.fees) == (45_051.50, 1.50)
    account = paper.account()
    # cash 100,000 + 950 - 1.50; net liquidation less the 1,000 mark; buying power less the 45,000
    assert (account.cash, account.net_liquidation, account.maintenance, account.buying_power) == (
        100_948.50, 99_948.50, 45_000.00, 54_948.50)
    [held] = paper.positions()
    assert (held.symbol, held.quantity, held.average_price) == ("SPXW  260807P04500000", -1, 9.50)


def test_expired_puts_settle_in_cash(factory):
    PaperBroker(factory, market(DAY1)).place(sale(9.50))
    settled = PaperBroker(factory, market(EXPIRY, settlement=4400.0))
    assert settled.positions() == []
    assert settled.account().cash == 100_948.50 - 10_000.00  # 100 points in the money


def test_a_day_order_expires_and_a_gtc_order_tries_again(factory):
    PaperBroker(factory, market(DAY1)).place(sale(9.60))
    PaperBroker(factory, market(DAY1)).place(sale(9.60, "gtc", "gtc"))
    later = PaperBroker(factory, market(DAY2, price=10.20))  # 10.20 less 5% = 9.69: 9.60 on the grid
    assert later.find("a").status is Status.EXPIRED
    gtc = later.find("gtc")
    assert (gtc.status, gtc.fill_price) == (Status.FILLED, 9.60)


def test_a_second_send_is_a_second_order_as_at_a_real_broker(factory):
    paper = PaperBroker(factory, market(DAY1))
    first, second = paper.place(sale(9.60)), paper.place(sale(9.60))
    assert first.broker_id != second.broker_id and paper.find("a").broker_id == second.broker_id
    assert paper.cancel(first.broker_id).status is Status.CANCELLED


def test_a_partial_buy_back_keeps_the_average_open_price(factory):
    paper = PaperBroker(factory, market(DAY1))
    paper.place(Ticket("a", occ_symbol(PUT), Action.SELL_TO_OPEN, 3, 9.50))  # fills at 9.50
    later = PaperBroker(factory, market(DAY2, price=6.0))  # a buy-back fills at 6.00 + 5% = 6.30
    bought = later.place(Ticket("b", occ_symbol(PUT), Action.BUY_TO_CLOSE, 1, 6.30))
    assert (bought.status, bought.fill_price) == (Status.FILLED, 6.30)
    [held] = later.positions()
    assert (held.quantity, held.average_price) == (-2, 9.50)
    # cash: 100,000 + 3 x 950 - 4.50 fees - 630 - 1.50 fees
    assert later.account().cash == 100_000 + 2_850 - 4.50 - 630 - 1.50
