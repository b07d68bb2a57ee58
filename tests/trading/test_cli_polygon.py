"""Backtests on (fake) real option prices through the CLI: tickers, real/estimated counts, the cache, faults."""

import datetime as dt
import json
import logging
import re

import pytest
from werkzeug.wrappers import Response

from tests.conftest import table_counts
from tests.fake_polygon import FakePolygon, has_bar, option_close
from trading.cli import cli

KEY = "pk_live_SECRET_0123456789abcdefXYZ"
WINDOW = ["--start", "2023-01-03", "--end", "2023-03-31"]


@pytest.fixture
def fake(httpserver, monkeypatch):
    server = FakePolygon(KEY, page_size=200)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server)
    monkeypatch.setenv("POLYGON_API_KEY", KEY)
    monkeypatch.setenv("POLYGON_BASE_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("POLYGON_RATE_LIMIT", "0")
    monkeypatch.setenv("POLYGON_MAX_WORKERS", "4")
    return server


def backtest(runner, db_path, *extra):
    return runner.invoke(cli, ["backtest", "--delta", "0.2", "--dte", "30", *WINDOW, "--db", str(db_path), "--json",
                               *extra])


def test_backtest_on_real_prices_matches_the_server(runner, db_path, fake):
    result = backtest(runner, db_path)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["source"] == "polygon" and doc["trades"]
    real = 0
    for trade in doc["trades"]:
        root, strike = trade["root"], trade["strike"]
        expiry, entry = dt.date.fromisoformat(trade["expiry"]), dt.date.fromisoformat(trade["entry_date"])
        assert strike % 25 == 0  # snapped to the strikes the server lists
        assert trade["ticker"] == f"O:{root}{expiry:%y%m%d}P{int(strike * 1000):08d}"
        if has_bar(trade["ticker"], entry):
            real += 1
            assert trade["price_source"] == "real"
            assert trade["price"] == pytest.approx(option_close(strike, expiry, entry))
        else:
            assert trade["price_source"] == "estimated"
    assert (doc["real"], doc["estimated"]) == (real, len(doc["trades"]) - real)
    assert 0 < real < len(doc["trades"])


def test_a_cached_rerun_makes_zero_requests(runner, db_path, fake):
    first = backtest(runner, db_path)
    assert first.exit_code == 0, first.output
    count = len(fake.requests)
    again = backtest(runner, db_path)
    assert again.exit_code == 0
    assert len(fake.requests) == count
    strip = lambda doc: {k: v for k, v in doc.items() if k != "run_id"}
    assert strip(json.loads(again.stdout)) == strip(json.loads(first.stdout))
    offline = backtest(runner, db_path, "--offline")
    assert offline.exit_code == 0 and len(fake.requests) == count


def test_requests_stay_near_what_the_backtest_uses(runner, db_path, fake):
    doc = json.loads(backtest(runner, db_path).stdout)
    paths = [r["path"] for r in fake.requests]
    option_bars = sum(1 for p in paths if p.startswith("/v2/aggs/ticker/O:"))
    index_bars = sum(1 for p in paths if p.startswith("/v2/aggs/ticker/I:"))
    assert index_bars == 3
    assert option_bars == len({t["ticker"] for t in doc["trades"]})  # one request per contract traded


def test_the_key_never_leaves_the_header(runner, db_path, fake, caplog):
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(cli, ["-vv", "backtest", "--delta", "0.2", "--dte", "30", *WINDOW, "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert KEY not in result.output and KEY not in caplog.text
    assert KEY.encode() not in db_path.read_bytes()
    assert all(KEY not in r["query"] for r in fake.requests)


def test_fetch_then_calibrate_offline(runner, db_path, fake):
    fetched = runner.invoke(cli, ["fetch", "2023-01-03", "2023-02-28", "--deltas", "0.2,0.3", "--dtes", "30",
                                  "--db", str(db_path)])
    assert fetched.exit_code == 0, fetched.output
    count = len(fake.requests)
    calibrated = runner.invoke(cli, ["calibrate", "2023-01-03", "--end", "2023-02-28", "--deltas", "0.2,0.3",
                                     "--dtes", "30", "--min-trades", "1", "--offline", "--db", str(db_path)])
    assert calibrated.exit_code == 0, calibrated.output
    assert len(fake.requests) == count
    assert "Real Data:" in calibrated.stdout and "Real Data:    0 (" not in calibrated.stdout


def test_offline_with_an_empty_cache(runner, db_path, fake):
    result = backtest(runner, db_path, "--offline")
    assert result.exit_code == 1 and "not in the cache" in result.stderr and not fake.requests


def test_no_key(runner, db_path, monkeypatch):
    monkeypatch.delenv("POLYGON_API_KEY", raising=False)
    result = runner.invoke(cli, ["backtest", "--delta", "0.2", "--dte", "30", "--source", "polygon", *WINDOW,
                                 "--db", str(db_path)])
    assert result.exit_code == 2 and "POLYGON_API_KEY" in result.stderr


@pytest.mark.parametrize("status,body,message", [
    (401, {"status": "ERROR", "request_id": "r", "error": "Unknown API Key"}, "rejected the API key"),
    (403, {"status": "NOT_AUTHORIZED", "request_id": "r", "message": "You are not entitled to this data."},
     "your Polygon plan does not include I:SPX"),
])
def test_plan_and_key_failures_are_one_line(runner, db_path, httpserver, fake, status, body, message):
    httpserver.expect_oneshot_request(re.compile("/v2/aggs/ticker/I:SPX/.*")).respond_with_json(body, status=status)
    result = backtest(runner, db_path)
    assert result.exit_code == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert KEY not in result.output


def test_a_failure_mid_fetch_leaves_only_whole_cache_entries(runner, db_path, httpserver, fake, monkeypatch):
    monkeypatch.setenv("POLYGON_MAX_WORKERS", "1")
    monkeypatch.setenv("POLYGON_MAX_TRIES", "2")
    httpserver.clear_all_handlers()
    broken = re.compile("/v2/aggs/ticker/O:.*")
    httpserver.expect_request(broken).respond_with_response(Response("bad gateway", status=502))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
    result = backtest(runner, db_path)
    assert result.exit_code == 1 and "HTTP 502" in result.stderr
    counts = table_counts(db_path)
    assert counts["polygon_bars"] > 0 and counts["polygon_listings"] > 0  # index bars and listings were kept
    import sqlite3

    with sqlite3.connect(db_path) as connection:
        options = connection.execute("select count(*) from polygon_bars where ticker like 'O:%'").fetchone()[0]
        covered = connection.execute("select count(*) from polygon_coverage where ticker like 'O:%'").fetchone()[0]
    assert options == 0 and covered == 0
    assert counts.get("backtest_trades", 0) == 0


def test_doctor(runner, db_path, fake, monkeypatch):
    from zoneinfo import ZoneInfo

    monkeypatch.setattr("trading.cli.new_york_now",
                        lambda: dt.datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("America/New_York")))
    result = runner.invoke(cli, ["doctor", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok   API key") and any("I:SPX day bars entitled, newest 2026-07-10" in l for l in lines)
    assert any(l.startswith("ok   options data") for l in lines) and any(l.startswith("ok   database") for l in lines)
    assert KEY not in result.output


def test_trade_daily_on_polygon(runner, db_path, fake):
    calibrated = runner.invoke(cli, ["calibrate", "2022-06-01", "--end", "2022-12-30", "--deltas", "0.2", "--dtes",
                                     "30", "--db", str(db_path)])
    assert calibrated.exit_code == 0, calibrated.output
    opened = runner.invoke(cli, ["trade", "--as-of", "2023-02-01", "--db", str(db_path), "--json"])
    assert opened.exit_code == 0, opened.output
    entry = json.loads(opened.stdout)["opened"]
    expiry, strike = dt.date.fromisoformat(entry["expiry"]), entry["strike"]
    assert strike % 25 == 0
    real = has_bar(entry["ticker"], dt.date(2023, 2, 1))
    assert entry["price_source"] == ("real" if real else "estimated")
    if real:
        assert entry["price"] == pytest.approx(option_close(strike, expiry, dt.date(2023, 2, 1)))
    settled = runner.invoke(cli, ["trade", "--as-of", expiry.isoformat(), "--db", str(db_path), "--json"])
    assert settled.exit_code == 0, settled.output
    rows = json.loads(settled.stdout)["settled"]
    assert [r["ticker"] for r in rows] == [entry["ticker"]]
    from data.market import load_bundled

    history = load_bundled()
    i = history.index_of(expiry)
    expected = history.spx_open[i] if entry["ticker"].startswith("O:SPX2") else history.spx_close[i]
    assert rows[0]["settlement"] == pytest.approx(expected, abs=0.005)


def test_concurrent_trades_share_the_cache(runner, db_path, fake):
    """Five `trade` processes for one day on a Polygon-calibrated database: all fetch and store the same cache
    entries at once; every one succeeds, and the day is traded once."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    calibrated = runner.invoke(cli, ["calibrate", "2024-10-01", "--end", "2024-12-31", "--deltas", "0.2", "--dtes",
                                     "30", "--min-trades", "1", "--db", str(db_path)])
    assert calibrated.exit_code == 0, calibrated.output
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "trading", "trade", "--as-of", "2025-01-02", "--db", str(db_path), "--json"]
    processes = [subprocess.Popen(command, cwd=root, env=dict(os.environ), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(5)]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        outcomes.append(json.loads(out)["outcome"])
    assert outcomes.count("already-ran") == 4
    assert table_counts(db_path)["daily_runs"] == 1


def test_xsp_on_polygon_is_priced_by_its_own_bars(runner, db_path, fake):
    """--underlying XSP asks Polygon for XSP's contracts and prices each put from its O:XSP bars."""
    result = backtest(runner, db_path, "--underlying", "XSP")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["trades"] and doc["real"] > 0
    for trade in doc["trades"]:
        expiry, entry = dt.date.fromisoformat(trade["expiry"]), dt.date.fromisoformat(trade["entry_date"])
        assert trade["root"] == "XSP" and trade["strike"] % 5 == 0  # the strikes the server lists for XSP
        if trade["price_source"] == "real":
            assert trade["price"] == pytest.approx(option_close(trade["strike"], expiry, entry, 0.1))
    listings = [r["query"] for r in fake.requests if r["path"] == "/v3/reference/options/contracts"]
    assert listings and all("underlying_ticker=XSP" in q for q in listings)


def test_the_daily_run_of_xsp_parameters_lists_xsp_on_polygon(runner, db_path, fake):
    calibrated = runner.invoke(cli, ["calibrate", *WINDOW, "--deltas", "0.2", "--dtes", "30", "--underlying", "XSP",
                                     "--min-trades", "0", "--db", str(db_path)])
    assert calibrated.exit_code == 0, calibrated.output
    traded = runner.invoke(cli, ["trade", "--as-of", "2023-04-03", "--json", "--db", str(db_path)])
    assert traded.exit_code == 0, traded.output
    opened = json.loads(traded.stdout)["opened"]
    assert opened["ticker"].startswith("O:XSP") and opened["strike"] % 5 == 0
    refused = runner.invoke(cli, ["trade", "--as-of", "2023-04-04", "--source", "cboe", "--db", str(db_path)])
    assert refused.exit_code == 2 and "Cboe's SPX quotes only" in refused.stderr
