"""Alerts as a user gets them: Apprise's JSON webhook (json://) received by a local server on 127.0.0.1."""

import datetime as dt
import json
import sqlite3

import pytest

from trading.cli import cli


def invoke(runner, db_path, *args):
    return runner.invoke(cli, [*args, "--db", str(db_path)])


@pytest.fixture
def receiver(httpserver):
    """A webhook on 127.0.0.1 and the Apprise URL that posts to it; `.alerts()` gives what it received, `.only(title)`
    the message of the one alert it received, which must have that title."""
    httpserver.expect_request("/alerts", method="POST").respond_with_data("ok")
    url = f"json://127.0.0.1:{httpserver.port}/alerts"

    class Receiver:
        def __init__(self):
            self.url = url

        def alerts(self):
            return [json.loads(request.get_data()) for request, _ in httpserver.log]

        def only(self, title):
            [alert] = self.alerts()
            assert alert["title"] == title
            return alert["message"]

    return Receiver()


def test_stop_trading_is_sent_with_the_checks_lines(runner, calibrated, receiver):
    with sqlite3.connect(calibrated) as connection:
        connection.execute("update wheel_parameters set backtest_win_rate = 0.40")  # live diverges > 20 points
    assert invoke(runner, calibrated, "replay", "2021-01-01", "2021-12-31").exit_code == 0
    check = invoke(runner, calibrated, "check", "--as-of", "2021-12-31", "--notify", receiver.url)
    assert check.exit_code == 13 and check.stderr == ""
    message = receiver.only("spx-wheel: STOP TRADING (2021-12-31)")
    assert message == check.stdout.rstrip("\n")  # the lines check printed
    assert "Divergence:" in message and "halt was set" in message


def test_a_margin_call_is_sent_and_a_quiet_day_is_not(runner, db_path, receiver, monkeypatch):
    """The README's margin-call replay: on 2020-02-24 the five-contract book is called for margin
    (SPX_WHEEL_NOTIFY works as --notify)."""
    monkeypatch.setenv("SPX_WHEEL_NOTIFY", receiver.url)
    assert invoke(runner, db_path, "calibrate", "2015-01-01", "--end", "2019-12-31", "--contracts-per-trade", "5",
                  "--max-margin", "1").exit_code == 0
    assert invoke(runner, db_path, "replay", "2020-01-02", "2020-02-20").exit_code == 0
    quiet = invoke(runner, db_path, "trade", "--as-of", "2020-02-21")
    assert quiet.exit_code == 0 and receiver.alerts() == []
    called = invoke(runner, db_path, "trade", "--as-of", "2020-02-24")
    assert called.exit_code == 0 and "(margin call)" in called.stdout
    assert "CLOSE: O:SPXW200331P03170000" in receiver.only("spx-wheel: margin call on 2020-02-24")


def test_a_failed_daily_run_is_sent_and_still_fails(runner, db_path, receiver):
    result = invoke(runner, db_path, "trade", "--as-of", "2020-03-16", "--notify", receiver.url)
    assert result.exit_code == 1 and "run calibrate first" in result.stderr
    assert "run calibrate first" in receiver.only("spx-wheel: the daily run for 2020-03-16 failed")


def test_each_trade_is_sent_when_asked(runner, calibrated, receiver):
    plain = invoke(runner, calibrated, "trade", "--as-of", "2020-02-03", "--notify", receiver.url)
    assert "OPENED:" in plain.stdout and receiver.alerts() == []
    asked = invoke(runner, calibrated, "trade", "--as-of", "2020-02-04", "--notify", receiver.url,
                   "--notify-trades")
    assert "OPENED:" in asked.stdout
    assert "OPENED:" in receiver.only("spx-wheel: 2020-02-04")


@pytest.mark.parametrize("url,problem", [
    ("json://127.0.0.1:1/alerts?token=s3cret", "the json:// notifier did not accept the alert"),  # nothing listens
    ("nosuchservice://token=s3cret", "the nosuchservice:// notifier URL is not one Apprise knows"),
])
def test_a_failing_notifier_never_fails_the_trade_nor_shows_its_url(runner, calibrated, url, problem):
    result = invoke(runner, calibrated, "trade", "--as-of", "2020-02-03", "--notify", url, "--notify-trades")
    assert result.exit_code == 0 and "OPENED:" in result.stdout
    assert f"Warning: {problem}: alert not sent" in result.stderr
    assert "s3cret" not in result.output
    with sqlite3.connect(calibrated) as connection:
        assert connection.execute("select count(*) from positions where opened_on = ?",
                                  (dt.date(2020, 2, 3).isoformat(),)).fetchone() == (1,)
