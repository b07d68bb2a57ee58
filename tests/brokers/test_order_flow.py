"""The daily run through a broker, as a user runs it: the paper broker in the database, and Tastytrade as the
fake on 127.0.0.1 serves it. Orders are recorded before they are sent, found before any send, walked within the
bound, refused by the caps and the preview; the book follows the broker's fills and refuses to trade while the
two disagree."""

from __future__ import annotations

import json
import math
import re
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from tests.conftest import calibrate, table_counts
from tests.fake_tastytrade import ACCOUNT, FakeTastytrade
from trading.cli import cli

DAY = "2020-01-02"


def run(runner, db, *args):
    return runner.invoke(cli, [*args, "--db", str(db)])


def rows(db, query):
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return calibrate(CliRunner(), tmp_path_factory.mktemp("book") / "wheel.db", "2018-01-01", "2019-12-31")


@pytest.fixture
def calibrated(template, tmp_path):
    """A book calibrated on 2018-2019 (delta 0.2, DTE 30), of this test's own."""
    return shutil.copy(template, tmp_path / "wheel.db")


@pytest.fixture
def fake(httpserver, monkeypatch):
    server = FakeTastytrade()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server)
    monkeypatch.setenv("SPX_WHEEL_TASTYTRADE_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN", server.refresh_token)
    monkeypatch.setenv("SPX_WHEEL_TASTYTRADE_CLIENT_SECRET", server.client_secret)
    monkeypatch.setenv("SPX_WHEEL_MAX_TRIES", "2")
    return server


def decision(runner, db):
    """The day's sale as the book-only run decides it: (ticker, the fill model's price)."""
    opened = json.loads(run(runner, db, "trade", "--as-of", DAY, "--dry-run", "--json").output)["opened"]
    return opened["ticker"], opened["fill"]


def posts(fake, path=f"/accounts/{ACCOUNT}/orders"):
    return [e for e in fake.log if e["method"] == "POST" and e["path"] == path]


def test_the_paper_loop_opens_at_the_fill_and_never_sends_twice(runner, calibrated):
    ticker, fill = decision(runner, calibrated)
    done = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "paper", "--send")
    assert done.exit_code == 0, done.output
    # on the estimate the paper broker fills at the fill model's price: the book-only run's
    assert f"PREVIEW: sell to open 1 {ticker} @ ${fill:.2f}" in done.output
    assert f"ORDER FILLED: sell to open 1 {ticker} limit ${fill:.2f} 1 filled @ ${fill:.2f}" in done.output
    assert rows(calibrated, "select ticker, contracts, fill_cents, fill_source, status from positions") == [
        (ticker, 1, round(fill * 100), "broker", "open")]
    assert rows(calibrated, "select client_id, status, filled from orders") == [
        ("spx-wheel-20200102-open", "filled", 1)]
    again = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "paper", "--send")
    assert "Already ran" in again.output and table_counts(calibrated)["paper_orders"] == 1


def test_without_send_the_order_waits_for_a_run_that_sends_it(runner, calibrated):
    held = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "paper")
    assert "NOT SENT: spx-wheel-20200102-open (send it with --send" in held.output
    assert table_counts(calibrated)["paper_orders"] == 0 and table_counts(calibrated)["positions"] == 0
    sent = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "paper", "--send")
    assert "ORDER FILLED" in sent.output and table_counts(calibrated)["paper_orders"] == 1


def test_an_unfilled_order_is_walked_within_the_bound_then_cancelled(runner, calibrated, fake):
    _, fill = decision(runner, calibrated)
    done = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send", "--max-reprices",
               "2", "--reprice-step", "0.10", "--reprice-wait", "0")
    assert done.exit_code == 0, done.output
    assert [e["method"] for e in fake.log if e["path"].startswith(f"/accounts/{ACCOUNT}/orders/1")] == [
        "GET", "PUT", "GET", "PUT", "DELETE"]
    prices = [json.loads(e["body"])["price"] for e in fake.log if e["method"] in ("POST", "PUT") and "dry" not in
              e["path"] and "oauth" not in e["path"]]
    assert fill > 3.2  # above $3 SPX's tick is $0.10
    assert prices == [f"{fill:.2f}", f"{fill - 0.1:.2f}", f"{fill - 0.2:.2f}"]  # a step at a time, down to the bid
    assert rows(calibrated, "select status, reprices, limit_cents from orders") == [
        ("cancelled", 2, round(fill * 100) - 20)]
    assert "ORDER CANCELLED" in done.output and table_counts(calibrated)["positions"] == 0


def test_a_fill_after_a_reprice_opens_at_the_brokers_price(runner, calibrated, fake):
    ticker, fill = decision(runner, calibrated)
    fake.bid = round(fill - 0.1, 2)
    done = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send", "--reprice-wait", "0")
    assert f"ORDER FILLED: sell to open 1 {ticker} limit ${fake.bid:.2f} 1 filled @ ${fake.bid:.2f}" in done.output
    # the broker's price and the broker's fees ($1.79 a contract in the fake's dry run)
    assert rows(calibrated, "select fill_cents, fill_source, fees_cents, premium_cents from positions") == [
        (round(fake.bid * 100), "broker", 179, round(fake.bid * 100) * 100 - 179)]
    assert len(posts(fake)) == 1


def test_an_order_sent_before_a_crash_is_found_not_sent_again(runner, calibrated, fake):
    _, fill = decision(runner, calibrated)
    run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "tastytrade")  # recorded, not sent
    fake.bid = 9.0
    fake.place({"time-in-force": "Day", "order-type": "Limit", "price": f"{fill:.2f}", "price-effect": "Credit",
                "external-identifier": "spx-wheel-20200102-open",
                "legs": [{"instrument-type": "Equity Option", "symbol": "SPXW  200131P03030000", "quantity": 1,
                          "action": "Sell to Open"}]})  # as a run killed after its send would have left it
    done = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send")
    assert done.exit_code == 0, done.output
    assert posts(fake) == [] and len(fake.orders) == 1
    assert rows(calibrated, "select fill_cents, fill_source from positions") == [(round(fill * 100), "broker")]


def test_the_caps_and_the_preview_refuse_a_sale(runner, calibrated, template, fake):
    capped = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send",
                 "--max-notional", "100000")
    assert "REFUSED: sell to open O:SPXW200131P03030000: notional $303,000 is over the cap of $100,000" in \
        capped.output
    assert not posts(fake, f"/accounts/{ACCOUNT}/orders/dry-run") and not posts(fake)
    poor = FakeTastytrade(cash=10_000.0)
    fake.__dict__.update(poor.__dict__)
    other = shutil.copy(template, calibrated.parent / "other.db")
    refused = run(runner, other, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send")
    assert "it takes $60,000.00 of buying power and the account has $10,000.00" in refused.output
    assert not posts(fake)


def test_the_book_and_the_broker_must_agree(runner, calibrated, fake):
    fake.bid = 9.0
    fake.place({"time-in-force": "Day", "order-type": "Limit", "price": "4.10", "price-effect": "Credit",
                "external-identifier": "by hand", "legs": [{"instrument-type": "Equity Option",
                                                           "symbol": "SPXW  200214P03100000", "quantity": 2,
                                                           "action": "Sell to Open"}]})
    before = table_counts(calibrated)
    refused = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send")
    assert refused.exit_code == 1 and "disagree on 1 position(s) (EXTRA: O:SPXW200214P03100000: book 0 short, " \
                                       "broker 2 short @ $4.10)" in refused.output
    assert table_counts(calibrated) == before and not posts(fake)[1:]
    listed = run(runner, calibrated, "reconcile", "--broker", "tastytrade", "--as-of", DAY)
    assert listed.exit_code == 1 and "EXTRA: O:SPXW200214P03100000" in listed.output
    adopted = run(runner, calibrated, "reconcile", "--broker", "tastytrade", "--as-of", DAY, "--adopt")
    assert adopted.exit_code == 0 and "ADOPTED OPENED: O:SPXW200214P03100000 x2 at the broker's $4.10" in \
        adopted.output
    agreed = run(runner, calibrated, "reconcile", "--broker", "tastytrade", "--as-of", DAY)
    assert agreed.exit_code == 0 and "The book and tastytrade agree: 1 open position(s)." in agreed.output


def test_a_dry_run_asks_the_broker_for_the_preview_only(runner, calibrated, fake):
    ticker, fill = decision(runner, calibrated)
    before = table_counts(calibrated)
    done = run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "tastytrade", "--dry-run")
    assert f"PREVIEW: sell to open 1 {ticker} @ ${fill:.2f}: takes $60,000.00 of buying power, fees $1.79" \
        in done.output
    assert {e["path"] for e in fake.log} == {"/oauth/token", "/customers/me/accounts",
                                             f"/accounts/{ACCOUNT}/orders/dry-run"}
    assert table_counts(calibrated) == before


def test_secrets_never_leave(runner, calibrated, fake):
    outputs = [run(runner, calibrated, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send",
                   "--reprice-wait", "0").output]
    fake.refresh_token = "rotated"
    fake.expire()
    outputs.append(run(runner, calibrated, "positions", "--broker", "tastytrade").output)
    assert "refused the credentials" in outputs[-1] or "refused the refresh token" in outputs[-1]
    stored = calibrated.read_bytes()
    for secret in ("refresh-secret-1", "client-secret-1"):
        assert all(secret not in text for text in outputs) and secret.encode() not in stored


def test_a_take_profit_goes_out_as_a_buy_back(runner, db_path):
    db = calibrate(runner, db_path, "2018-01-01", "2019-12-31", "--take-profits", "0.5")
    done = run(runner, db, "replay", "2020-01-02", "2020-01-31", "--broker", "paper", "--send")
    assert done.exit_code == 0, done.output
    closed = rows(db, "select ticker, exit_reason, exit_fill_source, exit_fill_cents from positions "
                      "where exit_reason is not null")
    orders = rows(db, "select ticker, action, status, fill_cents from orders where action = 'buy to close'")
    assert closed and [(t, f) for t, _, _, f in closed] == [(t, f) for t, _, _, f in orders]
    assert {(r, s) for _, r, s, _ in closed} == {("take profit 50%", "broker")}
    assert rows(db, "select count(*) from orders where status != 'filled'") == [(0,)]


def test_a_take_profit_rests_at_the_broker_until_the_market_reaches_it(runner, db_path):
    db = calibrate(runner, db_path, "2018-01-01", "2019-12-31", "--take-profits", "0.5")
    done = run(runner, db, "replay", "2020-01-02", "2020-01-31", "--broker", "paper", "--send", "--rest-take-profit")
    assert done.exit_code == 0, done.output
    sales = rows(db, "select client_id, position_id, fill_cents from orders where action = 'sell to open'")
    resting = {p: (c, lim, st, tif) for c, p, lim, st, tif in rows(
        db, "select client_id, position_id, limit_cents, status, time_in_force from orders "
            "where action = 'buy to close'")}
    for client_id, position, fill in sales:
        # half the fill, down to SPX's tick ($0.05 under $3): the take-profit's price, resting GTC
        limit = math.floor(round(fill / 2 / 5, 6)) * 5
        assert resting[position][:2] == (f"{client_id}-take-profit", limit) and resting[position][3] == "gtc"
    closed = rows(db, "select id, exit_reason, exit_fill_source from positions where exit_reason is not null")
    assert closed and {(r, s) for _, r, s in closed} == {("take profit 50%", "broker")}
    assert all(resting[p][2] == "filled" for p, _, _ in closed)
    # closed on the day the run learnt of the fill, after the sale's
    assert all(settled > opened for opened, settled in rows(
        db, "select opened_on, settled_on from positions where exit_reason is not null"))
    assert rows(db, "select count(*) from paper_orders where time_in_force = 'gtc'") == [(len(sales),)]
