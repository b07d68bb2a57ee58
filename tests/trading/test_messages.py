"""What the commands say: each message in plain words, naming what the user typed, pointing at the next step."""

import datetime as dt
import json
import shlex
import socket
from zoneinfo import ZoneInfo

import pytest

from trading.cli import cli


def invoke(runner, db_path, *args, env=None):
    return runner.invoke(cli, [*args, "--db", str(db_path)], env=env)


def closed_port_url():
    """An address on this machine where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def new_york(monkeypatch, day):
    monkeypatch.setattr("trading.cli.new_york_now",
                        lambda: dt.datetime.combine(day, dt.time(17, 0), tzinfo=ZoneInfo("America/New_York")))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    from click.testing import CliRunner

    runner, db_path = CliRunner(), tmp_path_factory.mktemp("messages") / "my book.db"
    result = invoke(runner, db_path, "calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes",
                    "30")
    assert result.exit_code == 0, result.output
    return db_path, result.stdout


def test_the_hint_after_calibrate_names_the_database_given(book):
    db_path, printed = book
    assert printed.splitlines()[-1] == f"Show them with: spx-wheel params --db {shlex.quote(str(db_path))}"


def test_the_hint_after_calibrate_on_the_default_database_has_no_db(runner, tmp_path):
    result = runner.invoke(cli, ["calibrate", "2019-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30"],
                           env={"HOME": str(tmp_path), "XDG_DATA_HOME": "", "SPX_WHEEL_DB": ""})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "Show them with: spx-wheel params"


def test_a_day_run_again_says_what_it_did_once(runner, book, tmp_path):
    db_path = tmp_path / "again.db"
    db_path.write_bytes(book[0].read_bytes())
    first = invoke(runner, db_path, "trade", "--as-of", "2020-01-02", "--json")
    ticker = json.loads(first.stdout)["opened"]["ticker"]
    again = invoke(runner, db_path, "trade", "--as-of", "2020-01-02").stdout.strip().splitlines()[-1]
    assert again.startswith(f"Already ran for 2020-01-02 (opened {ticker}") and "opened: opened" not in again


def test_cannot_connect_to_a_server_that_is_not_there(runner, book, tmp_path):
    result = invoke(runner, tmp_path / "u.db", "update",
                    env={"SPX_WHEEL_CBOE_URL": closed_port_url(), "SPX_WHEEL_MAX_TRIES": "1"})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot connect to Cboe at 127.0.0.1:") and "from Cboe" not in result.stderr


def test_fetch_without_a_key_names_no_option_it_does_not_have(runner, tmp_path):
    result = invoke(runner, tmp_path / "f.db", "fetch", "2024-01-01", env={"POLYGON_API_KEY": ""})
    assert result.exit_code == 2 and "POLYGON_API_KEY" in result.stderr and "--source" not in result.stderr.split(
        "(")[0]


def test_a_closed_market_on_cboe_asks_no_server(runner, book, tmp_path):
    db_path = tmp_path / "cboe.db"
    db_path.write_bytes(book[0].read_bytes())
    for day in ("2026-12-05", "2026-11-26"):  # a Saturday, Thanksgiving
        result = invoke(runner, db_path, "trade", "--source", "cboe", "--as-of", day,
                        env={"SPX_WHEEL_CBOE_URL": closed_port_url(), "SPX_WHEEL_MAX_TRIES": "1"})
        assert result.exit_code == 0, result.output
        assert f"{day} is not an NYSE trading day" in result.stdout


def test_doctor_warns_of_a_stale_history(runner, tmp_path, monkeypatch):
    new_york(monkeypatch, dt.date(2026, 7, 14))  # two sessions after the bundled history's end: fine
    fresh = invoke(runner, tmp_path / "d.db", "doctor", env={"POLYGON_API_KEY": ""})
    assert fresh.exit_code == 0 and any(line.startswith("ok   market history") for line in fresh.stdout.splitlines())
    new_york(monkeypatch, dt.date(2026, 12, 4))
    stale = invoke(runner, tmp_path / "d.db", "doctor", env={"POLYGON_API_KEY": ""})
    assert stale.exit_code == 0
    line = next(line for line in stale.stdout.splitlines() if "market history" in line)
    assert line.startswith("warn market history") and "sessions behind, run spx-wheel update" in line


def test_trade_help_lists_its_exit_codes_and_source_help_names_every_source():
    from click.testing import CliRunner

    text = " ".join(CliRunner().invoke(cli, ["trade", "--help"]).stdout.split())
    assert "Exit codes: 0" in text and "1 a data, network, broker or database failure" in text and "2 bad input" in text
    for source in ("embedded", "polygon", "chains", "cboe"):
        assert source in text.split("--source")[1].split("--")[0]


def test_the_day_is_as_of_everywhere_and_date_is_an_alias(runner, book):
    db_path = book[0]
    shown = [invoke(runner, db_path, "quote", flag, "2020-02-03", "--expiry", "2020-03-20", "--strike", "3000",
                    "--json").stdout for flag in ("--as-of", "--date")]
    assert shown[0] == shown[1] and json.loads(shown[0])["date"] == "2020-02-03"
    assert invoke(runner, db_path, "check", "--date", "2020-01-03", "--json").exit_code in (0, 10)


def test_cron_names_the_database_given(runner, tmp_path):
    db = tmp_path / "my book.db"
    lines = [line for line in runner.invoke(cli, ["cron", "--db", str(db)]).stdout.splitlines()
             if not line.startswith("#")]
    assert lines and all(f"--db {shlex.quote(str(db))} >>" in line for line in lines)
    refused = runner.invoke(cli, ["cron", "--db", "postgresql+psycopg://me:secret@host/spx"])
    assert refused.exit_code == 2 and "secret" not in refused.output
