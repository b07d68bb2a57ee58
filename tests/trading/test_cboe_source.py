"""`trade --source cboe`: the day's decision on Cboe's delayed SPX quotes (a fake Cboe on 127.0.0.1 serving the
observed shape, tests/fixtures/cboe), each snapshot kept in the chain store; an outage and a changed shape."""

import gzip
import json
import math
import sqlite3

import pytest

from tests.conftest import calibrate, table_counts
from tests.fake_daily_files import QUOTES, QUOTES_PATH, FakeDailyFiles, serve_daily_files
from trading.cli import cli


@pytest.fixture
def cboe(httpserver, monkeypatch, tmp_path):
    return serve_daily_files(httpserver, monkeypatch, FakeDailyFiles(), tries=2)


@pytest.fixture
def calibrated(runner, db_path):
    return calibrate(runner, db_path, "2021-07-01", "2026-07-10", "--strike-rule", "bs-delta", "--fill", "mid")


def invoke(runner, db_path, *args):
    return runner.invoke(cli, [*args, "--db", str(db_path)])


def fixture_puts(root, expiry):
    """{strike: (bid, ask, delta)} of the fixture's puts of one root and expiration, read here from the JSON."""
    options = json.loads(gzip.decompress(QUOTES.read_bytes()))["data"]["options"]
    code = f"{root}{expiry[2:4]}{expiry[5:7]}{expiry[8:10]}P"  # SPX261218P: not a prefix of SPXW261218P
    return {int(o["option"][-8:]) / 1000: (o["bid"], o["ask"], o["delta"]) for o in options
            if o["option"].startswith(code)}


def test_trade_on_cboe_delayed_quotes(runner, calibrated, cboe, tmp_path):
    result = invoke(runner, calibrated, "trade", "--as-of", "2026-11-20", "--source", "cboe", "--update", "--json")
    assert result.exit_code == 0, result.output
    opened = json.loads(result.stdout)["opened"]
    # 30 days wanted: the chain's closest expiration is the December monthly (28 days), AM-settled SPX
    assert opened["ticker"].startswith("O:SPX261218P") and opened["price_source"] == "real"
    puts = fixture_puts("SPX", "2026-12-18")
    best = min(puts, key=lambda k: (abs(abs(puts[k][2]) - 0.2), k))  # the chain's delta nearest 0.20
    assert opened["strike"] == best
    bid, ask, _ = puts[best]
    mid = (bid + ask) / 2
    step = 0.05 if mid < 3 else 0.10
    assert opened["fill"] == pytest.approx(math.floor(round(mid / step, 6)) * step)  # --fill mid, to the tick
    assert cboe.requests.count(QUOTES_PATH) == 1

    stored = json.loads(invoke(runner, calibrated, "chains", "--json").stdout)
    assert stored["quote_dates"] == 1 and stored["layouts"][0]["layout"] == "Cboe delayed JSON"
    assert stored["files"][0]["rows"] == len(json.loads(gzip.decompress(QUOTES.read_bytes()))["data"]["options"])
    # a dry run takes the same snapshot again: the store keeps one copy
    again = invoke(runner, calibrated, "trade", "--as-of", "2026-11-21", "--source", "cboe", "--dry-run", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(invoke(runner, calibrated, "chains", "--json").stdout)["quote_dates"] == 1


@pytest.mark.parametrize("fault, message", [
    ("500", "Cboe server error HTTP 500 for the SPX delayed quotes after 2 tries"),
    ("changed", "Cboe's delayed-quotes answer changed shape: no data.options list"),
])
def test_cboe_outage_and_changed_shape_stop_the_run_cleanly(runner, calibrated, cboe, fault, message):
    invoke(runner, calibrated, "update")
    before = table_counts(calibrated)
    cboe.faults[QUOTES_PATH] = [fault] * 2
    result = invoke(runner, calibrated, "trade", "--as-of", "2026-11-20", "--source", "cboe")
    assert result.exit_code == 1 and result.stderr.strip() == f"Error: {message}"
    assert table_counts(calibrated) == before


def test_a_day_whose_close_is_not_published_trades_at_the_snapshot_and_settles_nothing(runner, db_path, httpserver,
                                                                                       monkeypatch):
    """A run in market hours (or before Cboe's daily file has the day): the day is taken at the snapshot's SPX level
    and VIX's of the same moment, and a put expiring that day waits for the official close."""
    daily = serve_daily_files(httpserver, monkeypatch, FakeDailyFiles(until="2026-11-19"), tries=2)
    db = calibrate(runner, db_path, "2021-07-01", "2026-07-10", "--dtes", "7")
    invoke(runner, db, "update")
    first = invoke(runner, db, "trade", "--as-of", "2026-11-13", "--json")
    assert first.exit_code == 0, first.output
    opened = json.loads(first.stdout)["opened"]
    assert opened["expiry"] == "2026-11-20"
    result = invoke(runner, db, "trade", "--as-of", "2026-11-20", "--source", "cboe", "--json")
    assert result.exit_code == 0, result.output
    day = json.loads(result.stdout)
    assert day["settled"] == [] and day["unsettled"] == [
        f"{opened['ticker']} expires today: it settles on today's close, which this run does not have yet (the next "
        "day's run settles it)"]
    assert daily.requests.count("/api/global/delayed_quotes/options/_VIX.json") == 1
    # the VIX filter saw the moment's 15.25 (the fixture's), inside 12..35: the day's decision went on to price
    assert day["outcome"] in ("opened", "skipped") and "VIX" not in day["message"]
    daily.until = None
    invoke(runner, db, "update")
    later = json.loads(invoke(runner, db, "trade", "--as-of", "2026-11-23", "--spot", "8300", "--vix", "16",
                              "--json").stdout)  # the fixture's files end on the 20th
    # an AM monthly (the third Friday): its opening value is not in Cboe's file, so the previous close stands in
    assert [(p["ticker"], p["settlement"], p["settlement_source"]) for p in later["settled"]] == [
        (opened["ticker"], 8316.05, "stand-in")]


def test_the_paper_broker_fills_a_real_quote_only_at_its_bid(runner, calibrated, cboe):
    """On Cboe's two-sided quotes the sale starts at the mid (--fill mid) and fills only once walked down to the
    fixture's bid, a tick at a time, never below it."""
    invoke(runner, calibrated, "update")
    result = invoke(runner, calibrated, "trade", "--as-of", "2026-11-20", "--source", "cboe", "--broker", "paper",
                    "--send", "--max-reprices", "50", "--json")
    assert result.exit_code == 0, result.output
    opened = json.loads(result.stdout)["opened"]
    puts = fixture_puts("SPX", "2026-12-18")
    bid, ask, _ = puts[opened["strike"]]
    mid = (bid + ask) / 2
    step = 0.05 if mid < 3 else 0.10
    start = math.floor(round(mid / step, 6)) * step
    with sqlite3.connect(calibrated) as connection:
        order = connection.execute("select status, limit_cents, fill_cents, reprices, far_cents from orders").fetchone()
        position = connection.execute("select fill_cents, fill_source from positions").fetchone()
    assert order[0] == "filled" and order[2] == round(bid * 100) and order[4] == round(bid * 100)
    assert bid > 3 and order[3] == round((start - bid) / 0.10)  # a $0.05 step moves one $0.10 tick above $3
    assert position == (round(bid * 100), "broker")
