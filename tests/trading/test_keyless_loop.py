"""The keyless live loop past the end of the bundled history (2026-07-10): open by hand, `update` from the free
daily files (a fake Cboe and FRED on 127.0.0.1), settle on them or by hand, check."""

import json
import re
import sqlite3

import pytest

from tests.conftest import calibrate, table_counts
from tests.fake_daily_files import FakeDailyFiles
from trading.cli import cli


@pytest.fixture
def daily(httpserver, monkeypatch):
    server = FakeDailyFiles()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server)
    base = httpserver.url_for("/").rstrip("/")
    monkeypatch.setenv("SPX_WHEEL_CBOE_URL", base)
    monkeypatch.setenv("SPX_WHEEL_FRED_URL", base)
    monkeypatch.setenv("SPX_WHEEL_MAX_TRIES", "3")
    monkeypatch.delenv("POLYGON_API_KEY", raising=False)
    return server


def invoke(runner, db_path, *args):
    return runner.invoke(cli, [*args, "--db", str(db_path)])


def fixture_closes(name):
    """Closes by ISO date from a fixture file, read here independently of the code under test."""
    text = (FakeDailyFiles().body(f"/api/global/us_indices/daily_prices/{name}_History.csv")).decode()
    found = {}
    for line in text.splitlines()[1:]:
        cells = line.split(",")
        month, day, year = cells[0].split("/")
        found[f"{year}-{month}-{day}"] = float(cells[-1])
    return found


@pytest.fixture
def calibrated(runner, db_path):
    return calibrate(runner, db_path, "2021-07-01", "2026-07-10")


def test_the_loop_past_the_bundled_history(runner, calibrated, daily):
    spx = fixture_closes("SPX")
    # before any update, the source ends 2026-07-10: positions are opened by hand
    blocked = invoke(runner, calibrated, "trade", "--as-of", "2026-07-13")
    assert blocked.exit_code == 1 and "spx-wheel update" in blocked.stderr
    pm = json.loads(invoke(runner, calibrated, "trade", "--as-of", "2026-07-13", "--spot", "7500", "--vix", "17",
                           "--json").stdout)["opened"]
    am = json.loads(invoke(runner, calibrated, "trade", "--as-of", "2026-07-22", "--spot", "7550", "--vix", "16",
                           "--json").stdout)["opened"]
    assert pm["expiry"] == "2026-08-10" and am["expiry"] == "2026-08-21"  # SPXW Monday weekly, AM monthly

    updated = invoke(runner, calibrated, "update", "--json")
    assert updated.exit_code == 0, updated.output
    report = json.loads(updated.stdout)
    assert (report["first"], report["last"]) == ("2026-07-13", "2026-11-20")
    assert report["sessions"] == sum(1 for day in spx if day > "2026-07-10")

    on_pm = invoke(runner, calibrated, "trade", "--as-of", "2026-08-14", "--json")
    settled = json.loads(on_pm.stdout)["settled"]
    assert [p["ticker"] for p in settled] == [pm["ticker"]]
    assert settled[0]["settlement"] == spx[pm["expiry"]] and settled[0]["settlement_source"] == "real"  # its close
    assert settled[0]["pnl"] == round(pm["premium"] - max(pm["strike"] - spx[pm["expiry"]], 0) * 100, 2)

    on_am = invoke(runner, calibrated, "trade", "--as-of", "2026-08-21")
    assert "give the real opening value with: spx-wheel settle --expiry 2026-08-21 --value V" in on_am.stdout
    am_row = next(p for p in json.loads(invoke(runner, calibrated, "positions", "--json").stdout)
                  if p["ticker"] == am["ticker"])
    assert am_row["settlement_source"] == "stand-in" and am_row["settlement"] == spx["2026-08-20"]  # prior close
    assert am_row["closed_on"] == "2026-08-21"

    given = invoke(runner, calibrated, "settle", "--expiry", "2026-08-21", "--value", "7400.5")
    pnl = am["premium"] - max(am["strike"] - 7400.5, 0) * 100
    assert given.exit_code == 0
    assert (f"SETTLED AGAIN: {am['ticker']} at 7,400.50: P&L {'+' if pnl >= 0 else '-'}${abs(pnl):,.2f} "
            f"{'WIN' if pnl > 0 else 'LOSS'}") in given.stdout
    with sqlite3.connect(calibrated) as connection:
        row = connection.execute("select settlement_cents, settlement_source, pnl_cents from positions "
                                 "where ticker = ?", (am["ticker"],)).fetchone()
    assert row == (740050, "manual", round((am["premium"] - max(am["strike"] - 7400.5, 0) * 100) * 100))

    check = json.loads(invoke(runner, calibrated, "check", "--as-of", "2026-08-31", "--min-trades", "1",
                              "--json").stdout)
    assert check["closed_trades"] >= 2


def test_the_close_typed_on_an_expiry_day_settles_its_pm_position(runner, calibrated):
    pm = json.loads(invoke(runner, calibrated, "trade", "--as-of", "2026-07-13", "--spot", "7500", "--vix", "17",
                           "--json").stdout)["opened"]
    on_expiry = json.loads(invoke(runner, calibrated, "trade", "--as-of", "2026-08-10", "--spot", "7480", "--vix",
                                  "17", "--json").stdout)
    assert on_expiry["unsettled"] == []
    (settled,) = on_expiry["settled"]
    assert (settled["ticker"], settled["settlement"], settled["settlement_source"]) == (pm["ticker"], 7480.0, "manual")
    assert settled["pnl"] == round(pm["premium"] - max(pm["strike"] - 7480, 0) * 100, 2)


def test_a_value_given_before_expiry_settles_at_it(runner, calibrated, daily):
    invoke(runner, calibrated, "trade", "--as-of", "2026-07-22", "--spot", "7550", "--vix", "16")
    assert invoke(runner, calibrated, "settle", "--expiry", "2026-08-21", "--value", "7000").exit_code == 0
    invoke(runner, calibrated, "update")
    out = json.loads(invoke(runner, calibrated, "trade", "--as-of", "2026-08-21", "--json").stdout)
    assert [(p["settlement"], p["settlement_source"]) for p in out["settled"]] == [(7000.0, "manual")]


def test_a_close_not_yet_published_is_one_line(runner, calibrated, httpserver, monkeypatch):
    server = FakeDailyFiles(until="2026-11-19")
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server)
    base = httpserver.url_for("/").rstrip("/")
    monkeypatch.setenv("SPX_WHEEL_CBOE_URL", base)
    monkeypatch.setenv("SPX_WHEEL_FRED_URL", base)
    result = invoke(runner, calibrated, "trade", "--update", "--as-of", "2026-11-20")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no market data for 2026-11-20 yet" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    doctor = invoke(runner, calibrated, "doctor")
    assert "2026-11-19" in doctor.stdout


def test_update_twice_stores_the_same(runner, db_path, daily):
    invoke(runner, db_path, "update")
    with sqlite3.connect(db_path) as connection:
        first = connection.execute("select day, spx_close_cents, vix, vix3m, rate from market_updates").fetchall()
    invoke(runner, db_path, "update")
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("select day, spx_close_cents, vix, vix3m, rate from market_updates").fetchall() \
            == first
    days = [d for d, *_ in first]
    assert "2026-09-07" not in days  # Labor Day: Cboe's VIX row on a closed day is not a session


@pytest.mark.parametrize("faults", [["500", "500"], ["truncated"], ["bad-gzip"]])
def test_passing_faults_are_retried(runner, db_path, daily, faults):
    daily.faults["/api/global/us_indices/daily_prices/SPX_History.csv"] = list(faults)
    result = invoke(runner, db_path, "update")
    assert result.exit_code == 0, result.output
    assert table_counts(db_path)["market_updates"] > 80


@pytest.mark.parametrize("faults,message", [(["500"] * 3, "Cboe server error HTTP 500"),
                                            (["changed"], "unexpected layout"),
                                            (["truncated"] * 3, "a broken answer from Cboe")])
def test_lasting_faults_are_one_line_and_store_nothing(runner, db_path, daily, faults, message):
    daily.faults["/api/global/us_indices/daily_prices/VIX_History.csv"] = list(faults)
    result = invoke(runner, db_path, "update")
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert table_counts(db_path)["market_updates"] == 0


@pytest.mark.parametrize("url", ["ftp://example.com", "http://[::1", "not a url"])
def test_a_malformed_base_url_is_refused(runner, db_path, monkeypatch, url):
    monkeypatch.setenv("SPX_WHEEL_CBOE_URL", url)
    result = invoke(runner, db_path, "update")
    assert result.exit_code == 2 and "SPX_WHEEL_CBOE_URL" in result.stderr and "Traceback" not in result.output
