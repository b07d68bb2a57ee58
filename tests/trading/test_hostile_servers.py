"""Servers that answer with numbers that cannot be (a close of 1e307 or 1e-300, an infinite IV, a session after
today): every number is held to data/plausible.py's bounds where it enters, the run stops in one line, and the
database is as it was. Against the fake Cboe and FRED on 127.0.0.1 (tests/fake_daily_files.py)."""

import datetime as dt
import gzip
import json
import re
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import calibrate, table_counts
from tests.fake_daily_files import QUOTES, QUOTES_PATH, FakeDailyFiles, serve_daily_files
from trading.cli import cli

SPX_PATH = "/api/global/us_indices/daily_prices/SPX_History.csv"


class Tampered(FakeDailyFiles):
    """The fake with one file's body rewritten."""

    def __init__(self, path, rewrite):
        super().__init__()
        self.path, self.rewrite = path, rewrite

    def body(self, path):
        body = super().body(path)
        return self.rewrite(body) if path == self.path else body


@pytest.fixture
def serve(httpserver, monkeypatch):
    return lambda server: serve_daily_files(httpserver, monkeypatch, server, tries=1)


def last_row_close(value):
    """Rewrite the SPX file's last row's close to `value`."""
    def rewrite(body):
        lines = body.decode().splitlines()
        fields = lines[-1].split(",")
        fields[-1] = value
        return ("\n".join([*lines[:-1], ",".join(fields)]) + "\n").encode()

    return rewrite


@pytest.mark.parametrize("value", ["1e307", "1e17", "1e-300", "0", "-5", "inf", "nan"])
def test_an_impossible_close_is_refused_and_nothing_is_stored(runner, db_path, serve, value):
    serve(Tampered(SPX_PATH, last_row_close(value)))
    runner.invoke(cli, ["params", "--db", str(db_path)])
    before = table_counts(db_path)
    result = runner.invoke(cli, ["update", "--db", str(db_path)])
    assert result.exit_code == 1, result.output
    assert re.fullmatch(r"Error: Cboe's SPX_History.csv line \d+: \S+ is not a plausible index level \(1, 1e\+06\]: "
                        r"nothing stored\n", result.stderr), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert table_counts(db_path) == before


def test_sessions_after_today_are_not_stored(runner, db_path, serve, monkeypatch):
    serve(FakeDailyFiles())
    monkeypatch.setattr("trading.cli.new_york_now",
                        lambda: dt.datetime(2026, 9, 30, 18, 0, tzinfo=ZoneInfo("America/New_York")))
    result = runner.invoke(cli, ["update", "--json", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["last"] == "2026-09-30"  # the files go on to 2026-11-20


def quotes_with(**changes):
    def rewrite(_):
        body = json.loads(gzip.decompress(QUOTES.read_bytes()))
        for key, value in changes.items():
            if key == "current_price":
                body["data"]["current_price"] = value
            else:
                body["data"]["options"][3][key] = value
        return json.dumps(body).encode()  # json.dumps writes Infinity for inf, as a hostile server would

    return rewrite


@pytest.mark.parametrize("changes, reason", [
    ({"iv": float("inf")}, "implied volatility inf outside [0, 1000]"),
    ({"bid": 1e300, "ask": 2e300}, "a price outside [0, 100000]"),
    ({"delta": -3.0}, "delta -3 outside [-1, 1]"),
    ({"current_price": 1e300}, "data.current_price 1e+300 is not a plausible index level"),
])
def test_impossible_delayed_quotes_stop_the_run_before_the_snapshot_is_kept(runner, db_path, serve, changes, reason):
    serve(Tampered(QUOTES_PATH, quotes_with(**changes)))
    calibrated = calibrate(runner, db_path, "2021-07-01", "2026-07-10")
    before = table_counts(calibrated)
    result = runner.invoke(cli, ["trade", "--as-of", "2026-11-20", "--source", "cboe", "--spot", "6600", "--vix",
                                 "18", "--db", str(calibrated)])
    assert result.exit_code == 1 and reason in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert table_counts(calibrated) == before
    assert json.loads(runner.invoke(cli, ["chains", "--json", "--db", str(calibrated)]).stdout)["files"] == []
