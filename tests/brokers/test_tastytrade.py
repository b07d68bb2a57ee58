"""The Tastytrade client over real sockets against the fake on 127.0.0.1 (tests/fake_tastytrade.py), which
serves the documented shapes: OAuth, accounts, balances, positions, dry-run and live orders through their
states, partial fills, 401/429/5xx, an outage and a changed shape."""

from __future__ import annotations

import re
import socket

import pytest

from data.errors import BadInput, DataError
from data.http import FetchError, HttpClient
from trading.brokers.protocol import Action, Status, Ticket
from trading.brokers.tastytrade import TastytradeBroker, tastytrade_settings
from tests.fake_tastytrade import ACCOUNT, FakeTastytrade

PUT = "SPXW  260807P06865000"


@pytest.fixture
def fake(httpserver):
    server = FakeTastytrade()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server)
    return server


def environment(url: str, fake: FakeTastytrade, **extra: str) -> dict[str, str]:
    return {"SPX_WHEEL_TASTYTRADE_URL": url, "SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN": fake.refresh_token,
            "SPX_WHEEL_TASTYTRADE_CLIENT_SECRET": fake.client_secret, **extra}


def broker(url: str, fake: FakeTastytrade, **extra: str) -> TastytradeBroker:
    base, credentials, account = tastytrade_settings(environment(url, fake, **extra))
    http = HttpClient(base, "Tastytrade", "SPX_WHEEL_TASTYTRADE_URL", max_tries=3, deadline=5, backoff=0,
                      sleep=lambda seconds: None)
    return TastytradeBroker(http, credentials, account, "0.1.0")


@pytest.fixture
def client(httpserver, fake):
    return broker(httpserver.url_for("/").rstrip("/"), fake)


def sale(limit: float = 12.80, quantity: int = 2, client_id: str = "spx-wheel-20260707-open") -> Ticket:
    return Ticket(client_id, PUT, Action.SELL_TO_OPEN, quantity, limit)


def test_logs_in_with_the_refresh_token_and_sends_a_user_agent(client, fake):
    account = client.account()
    assert account.cash == 500_000.0 and account.buying_power == 500_000.0 and account.maintenance == 0.0
    token, accounts, balances = fake.log[-3:]
    assert token["path"] == "/oauth/token" and '"grant_type": "refresh_token"' in token["body"]
    assert "Authorization" not in token["headers"]
    assert accounts["path"] == "/customers/me/accounts"
    assert balances["path"] == f"/accounts/{ACCOUNT}/balances"  # the one account, found by itself
    assert balances["headers"]["Authorization"].startswith("Bearer access-")
    assert balances["headers"]["User-Agent"] == "spx-wheel/0.1.0"


def test_an_expired_access_token_is_renewed_once(client, fake):
    client.account()
    fake.expire()
    assert client.account().cash == 500_000.0
    assert [e["path"] for e in fake.log].count("/oauth/token") == 2


def test_a_refused_refresh_token_is_one_line_without_the_secret(httpserver, fake):
    fake.refresh_token = "another"
    with pytest.raises(FetchError) as refused:
        broker(httpserver.url_for("/").rstrip("/"), FakeTastytrade(refresh_token="refresh-secret-9")).account()
    assert "refresh token" in str(refused.value) and "refresh-secret" not in str(refused.value)
    assert "\n" not in str(refused.value)


def test_two_accounts_need_the_setting(httpserver):
    fake = FakeTastytrade(accounts=("5WX00001", "5WX00002"))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
    url = httpserver.url_for("/").rstrip("/")
    with pytest.raises(BadInput, match="2 accounts.*SPX_WHEEL_TASTYTRADE_ACCOUNT"):
        broker(url, fake).account()
    assert broker(url, fake, SPX_WHEEL_TASTYTRADE_ACCOUNT="5WX00002").account().cash == 500_000.0


def test_no_credentials_is_bad_input():
    with pytest.raises(BadInput, match="SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN"):
        tastytrade_settings({})
    base, _, _ = tastytrade_settings({"SPX_WHEEL_TASTYTRADE_ACCESS_TOKEN": "t", "SPX_WHEEL_TASTYTRADE_SANDBOX": "1"})
    assert base == "https://api.cert.tastyworks.com"


def test_dry_run_gives_the_buying_power_effect_and_fees(client, fake):
    preview = client.preview(sale())
    assert preview.buying_power_effect == 120_000.0 and preview.fees == 3.58 and preview.warnings == ()
    sent = fake.log[-1]
    assert sent["path"] == f"/accounts/{ACCOUNT}/orders/dry-run"
    assert '"price-effect": "Credit"' in sent["body"] and '"action": "Sell to Open"' in sent["body"]
    assert '"external-identifier": "spx-wheel-20260707-open"' in sent["body"] and '"price": "12.80"' in sent["body"]
    warned = client.preview(Ticket("x", PUT, Action.BUY_TO_CLOSE, 1, 5.0))
    assert warned.buying_power_effect == -60_000.0 and warned.warnings == ("there is no position to close",)


def test_an_order_through_its_states(client, fake):
    fake.bid = 12.50  # a sale fills once its limit is at or under the bid
    working = client.place(sale(12.80))
    assert working.status is Status.WORKING and working.filled == 0 and working.client_id == "spx-wheel-20260707-open"
    assert client.order(working.broker_id).status is Status.WORKING
    replaced = client.replace(working.broker_id, sale(12.50))
    assert replaced.broker_id != working.broker_id and replaced.status is Status.FILLED
    assert (replaced.filled, replaced.fill_price, replaced.limit) == (2, 12.50, 12.50)
    assert client.order(working.broker_id).status is Status.CANCELLED  # the replaced order
    [position] = client.positions()
    assert (position.symbol, position.quantity, position.average_price) == (PUT, -2, 12.5)
    assert client.find("spx-wheel-20260707-open").broker_id == replaced.broker_id
    assert client.find("spx-wheel-20990101-open") is None


def test_partial_fill_cancel_and_reject(client, fake):
    fake.bid, fake.mode = 20.0, "partial"
    partial = client.place(sale(12.80, quantity=4))
    assert (partial.status, partial.filled, partial.fill_price) == (Status.WORKING, 2, 12.80)
    cancelled = client.cancel(partial.broker_id)
    assert (cancelled.status, cancelled.filled) == (Status.CANCELLED, 2)
    fake.mode = "reject"
    rejected = client.place(sale(client_id="other"))
    assert rejected.status is Status.REJECTED and "buying power" in rejected.note
    with pytest.raises(FetchError, match="HTTP 422: the order is not cancellable"):
        client.cancel(rejected.broker_id)


def test_busy_and_failing_answers_are_retried_but_an_order_is_sent_once(client, fake):
    fake.failures = [429, 503]
    assert client.account().cash == 500_000.0
    fake.failures = [500]
    with pytest.raises(FetchError, match="HTTP 500"):
        client.place(sale())
    assert [e["path"] for e in fake.log].count(f"/accounts/{ACCOUNT}/orders") == 1 and not fake.orders


def test_an_outage_and_a_closed_port_are_one_line(client, fake):
    fake.outage = True
    with pytest.raises(FetchError, match="server error HTTP 503 for an access token after 3 tries"):
        client.account()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="cannot connect to Tastytrade"):
        broker(f"http://127.0.0.1:{port}", fake).account()


def test_a_changed_shape_is_a_data_error(client, fake):
    fake.shape[f"/accounts/{ACCOUNT}/balances"] = {"data": {"cash": "1"}}
    with pytest.raises(DataError, match="shape spx-wheel does not know"):
        client.account()
    fake.bid = 99.0
    placed = client.place(sale())
    fake.shape[f"/accounts/{ACCOUNT}/orders/{placed.broker_id}"] = {"data": {**fake.shown(
        fake.orders[int(placed.broker_id)]), "status": "Teleported"}}
    with pytest.raises(DataError, match="Teleported"):
        client.order(placed.broker_id)


def test_positions_hold_only_spx_and_xsp_puts(client, fake):
    fake.shape[f"/accounts/{ACCOUNT}/positions"] = {"data": {"items": [
        {"symbol": "AAPL", "instrument-type": "Equity", "quantity": 10, "quantity-direction": "Long",
         "average-open-price": "190.0"},
        {"symbol": "XSP   260807P00686000", "instrument-type": "Equity Option", "quantity": 3,
         "quantity-direction": "Short", "average-open-price": "1.29"},
        {"symbol": "SPY   260807C00600000", "instrument-type": "Equity Option", "quantity": 1,
         "quantity-direction": "Long", "average-open-price": "2.0"}]}}
    [xsp] = client.positions()
    assert (xsp.symbol, xsp.quantity, xsp.average_price) == ("XSP   260807P00686000", -3, 1.29)
