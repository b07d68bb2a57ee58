"""Input that must be refused, not stored or crashed on: each case one line on stderr, exit 2, the database as it
was, no traceback."""

import datetime as dt
import json
import os
import re
import sqlite3
import stat
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from werkzeug.wrappers import Response

from tests.conftest import table_counts
from tests.fake_polygon import FakePolygon
from trading.cli import cli
from trading.schedule import crontab_text

HOSTILE = ["inf", "-inf", "nan", "NaN", "1e308", "\u0663", "1_000", "0x10", ""]
NUMERIC = [  # (command line before the value, the option)
    (["trade", "--as-of", "2020-02-04", "--spot", "3200", "--vix", "15"], "--price"),
    (["trade", "--as-of", "2020-02-04", "--vix", "15"], "--spot"),
    (["trade", "--as-of", "2020-02-04", "--spot", "3200"], "--vix"),
    (["trade", "--as-of", "2020-02-04", "--spot", "3200", "--vix", "15"], "--vix3m"),
    (["calibrate", "2019-01-01", "--end", "2019-06-28"], "--capital"),
    (["calibrate", "2019-01-01", "--end", "2019-06-28"], "--fee"),
    (["calibrate", "2019-01-01", "--end", "2019-06-28"], "--max-vix"),
    (["calibrate", "2019-01-01", "--end", "2019-06-28"], "--slippage"),
    (["fill", "1"], "--price"),
    (["quote", "--date", "2020-02-03", "--expiry", "2020-03-20"], "--strike"),
    (["settle", "--expiry", "2020-03-20"], "--value"),
    (["backtest", "--dte", "30"], "--delta"),
]


@pytest.fixture
def book(runner, db_path):
    result = runner.invoke(cli, ["calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30",
                                 "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["trade", "--as-of", "2020-02-03", "--db", str(db_path)]).exit_code == 0
    return db_path


def snapshot(db_path):
    with sqlite3.connect(db_path) as connection:
        return {t: connection.execute(f'select * from "{t}"').fetchall() for t in table_counts(db_path)}


def refused(result, code=2):
    lines = result.stderr.strip().splitlines()
    return result.exit_code == code and len(lines) == 1 and "Traceback" not in result.output


def test_every_numeric_option_refuses_what_is_not_a_finite_number_in_range(runner, book):
    before = snapshot(book)
    for args, option in NUMERIC:
        for value in HOSTILE:
            result = runner.invoke(cli, [*args, option, value, "--db", str(book)])
            assert result.exit_code == 2 and "Traceback" not in result.output, (args, option, value, result.output)
            assert option in result.stderr, (option, value, result.stderr)
    assert snapshot(book) == before


@pytest.mark.parametrize("args,option", [(a, o) for a, o in NUMERIC if o in ("--price", "--spot", "--vix",
                                                                            "--strike", "--value", "--capital")])
def test_vanishing_numbers_are_refused(runner, book, args, option):
    result = runner.invoke(cli, [*args, option, "1e-308", "--db", str(book)])
    assert refused(result) and option in result.stderr, result.output


@pytest.mark.parametrize("args,message", [
    (["fill", "99999999999999999999", "--price", "5"], "POSITION_ID"),
    (["export", "-", "--run", "99999999999999999999"], "--run"),
    (["calibrate", "2019-01-01", "--contracts-per-trade", "99999999999999999999"], "--contracts-per-trade"),
    (["calibrate", "2019-01-01", "--max-open", "99999999999999999999"], "--max-open"),
    (["check", "--as-of", "9999-12-31"], "outside 1970-01-01 .. 2199-12-31"),
    (["check", "--as-of", "0001-01-01"], "outside 1970-01-01 .. 2199-12-31"),
    (["calibrate", "2019-01-01", "--deltas", "0.2,0.2"], "repeats a value"),
    (["calibrate", "2019-01-01", "--dtes", "30,45,30"], "repeats a value"),
    (["calibrate", "--start", "2019-01-01", "2018-01-01"], "START is given twice"),
    (["trade", "--as-of", "2020-02-04", "--send"], "--send sends orders through a broker: give --broker"),
    (["trade", "--as-of", "2020-02-04", "--broker", "etrade"], "'etrade' is not one of 'paper', 'tastytrade'"),
    (["trade", "--as-of", "2020-02-04", "--broker", "paper", "--max-contracts", "0"], "--max-contracts"),
    (["trade", "--as-of", "2020-02-04", "--broker", "paper", "--reprice-step", "inf"], "--reprice-step"),
    (["trade", "--as-of", "2020-02-04", "--broker", "tastytrade"], "SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN"),
    (["reconcile", "--as-of", "2020-02-04"], "give --broker"),
    (["cron", "--broker", "paper", "--at", "25:00"], "--at takes HH:MM"),
    (["report", "--live", "--run", "1"], "give one of them"),
    (["fill", "1", "--price", "99"], "more than 50% away from the put's price that day"),
])
def test_huge_ids_far_dates_and_repeated_grid_values_are_refused_up_front(runner, book, args, message):
    before = snapshot(book)
    result = runner.invoke(cli, [*args, "--db", str(book)])
    assert refused(result) and message in result.stderr, result.output
    assert snapshot(book) == before


def test_a_day_in_the_future_is_refused_and_blocks_nothing(runner, book):
    today = dt.datetime.now(ZoneInfo("America/New_York")).date()
    before = snapshot(book)
    for args in (["trade", "--as-of", str(today + dt.timedelta(days=30))],
                 ["replay", "2020-02-04", str(today + dt.timedelta(days=3))],
                 ["check", "--as-of", str(today + dt.timedelta(days=1))]):
        result = runner.invoke(cli, [*args, "--db", str(book)])
        assert refused(result) and "is after today" in result.stderr, (args, result.output)
    assert snapshot(book) == before
    assert runner.invoke(cli, ["trade", "--as-of", "2020-02-04", "--db", str(book)]).exit_code == 0


KEY = "pk_live_SECRET_0123456789abcdefXYZ"


@pytest.fixture
def polygon(httpserver, monkeypatch):
    server = FakePolygon(KEY, page_size=200)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server)
    monkeypatch.setenv("POLYGON_BASE_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("POLYGON_RATE_LIMIT", "0")
    monkeypatch.setenv("POLYGON_MAX_TRIES", "2")
    return server


def test_a_key_pasted_with_a_carriage_return_works_and_never_shows(runner, db_path, polygon, monkeypatch):
    monkeypatch.setenv("POLYGON_API_KEY", KEY + "\r")
    result = runner.invoke(cli, ["backtest", "--delta", "0.2", "--dte", "30", "--start", "2023-01-03", "--end",
                                 "2023-02-28", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    doctor = runner.invoke(cli, ["doctor", "--db", str(db_path)])
    assert doctor.exit_code == 0 and KEY not in doctor.output


@pytest.mark.parametrize("bad", [KEY[:10] + "\x01" + KEY[10:], KEY[:10] + " " + KEY[10:]])
def test_a_key_with_control_characters_is_refused_without_showing_it(runner, db_path, polygon, monkeypatch, bad):
    monkeypatch.setenv("POLYGON_API_KEY", bad)
    for args in (["doctor"], ["trade", "--as-of", "2023-02-01", "--source", "polygon"]):
        result = runner.invoke(cli, [*args, "--db", str(db_path)])
        assert result.exit_code == 1 and "paste the key again" in result.output, (args, result.output)
        assert KEY[10:] not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("url", ["ftp://example.com", "http://[::1", "api.polygon.io", "http://"])
def test_a_malformed_polygon_base_url_is_one_line(runner, db_path, monkeypatch, url):
    monkeypatch.setenv("POLYGON_API_KEY", KEY)
    monkeypatch.setenv("POLYGON_BASE_URL", url)
    result = runner.invoke(cli, ["backtest", "--delta", "0.2", "--dte", "30", "--db", str(db_path)])
    assert refused(result) and "POLYGON_BASE_URL" in result.stderr, result.output


@pytest.mark.parametrize("fault", ["truncated", "bad-gzip"])
def test_polygon_bodies_cut_off_or_corrupt_are_retried(httpserver, fault):
    from data.polygon import PolygonClient

    server = FakePolygon(KEY, page_size=200)
    faults = [fault]

    def handler(request):
        if faults:
            faults.pop()
            if fault == "truncated":
                response = Response(b'{"results": [', content_type="application/json")
                response.headers["Content-Length"] = "5000"
                response.automatically_set_content_length = False
                return response
            return Response(b"not gzip at all", headers={"Content-Encoding": "gzip"}, content_type="application/json")
        return server(request)

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handler)
    sleeps = []
    client = PolygonClient(KEY, httpserver.url_for("/").rstrip("/"), rate_limit=0, max_tries=3, sleep=sleeps.append)
    bars = client.daily_bars("I:SPX", dt.date(2023, 1, 3), dt.date(2023, 1, 31))
    assert len(bars) == 20 and len(sleeps) == 1 and client.requests_made == 2


def test_cron_paths_with_spaces_and_shell_syntax_stay_paths(tmp_path):
    root = tmp_path / "my spx $(touch pwned) 100%"
    (root / "scripts").mkdir(parents=True)
    (root / "logs").mkdir()
    script = root / "scripts" / "run_spx_daily.sh"
    script.write_text("#!/bin/sh\necho ran > \"$(dirname \"$0\")/../ran\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    lines = [line for line in crontab_text(root, ZoneInfo("UTC")).splitlines()
             if "run_spx_daily.sh" in line and not line.startswith("#")]
    command = lines[0].split(" ] && ", 2)[-1]  # what cron hands to sh once the New York guards pass
    subprocess.run(["sh", "-c", command.replace("\\%", "%")], cwd=tmp_path, check=True)
    assert (root / "ran").read_text() == "ran\n"
    assert (root / "logs" / "daily.log").exists()
    assert not (tmp_path / "pwned").exists() and not (root / "scripts" / "pwned").exists()
    assert "%" not in command.replace("\\%", "")  # cron would cut the line at a bare %


def test_cron_for_an_install_without_a_checkout_calls_the_installed_command(tmp_path):
    installed = Path("/opt/my env/bin/spx-wheel")
    text = crontab_text(tmp_path / "logs", ZoneInfo("UTC"), installed=installed)
    jobs = [line for line in text.splitlines() if not line.startswith("#")]
    assert jobs and all("'/opt/my env/bin/spx-wheel' " in line for line in jobs)
    assert {line.split("spx-wheel' ")[1].split(" >>")[0] for line in jobs} == {"trade --update", "check", "calibrate"}
    assert "scripts/" not in text


def test_cron_from_the_cli_points_at_this_checkout(runner):
    text = runner.invoke(cli, ["cron"]).stdout
    root = Path(__file__).resolve().parents[2]
    assert f"{root}/scripts/run_spx_daily.sh" in text


def test_the_key_never_reaches_the_database(runner, db_path, polygon, monkeypatch):
    monkeypatch.setenv("POLYGON_API_KEY", KEY)
    runner.invoke(cli, ["backtest", "--delta", "0.2", "--dte", "30", "--start", "2023-01-03", "--end", "2023-02-28",
                        "--db", str(db_path), "--json"])
    assert KEY.encode() not in db_path.read_bytes()
    assert KEY not in json.dumps(os.listdir(db_path.parent))


@pytest.mark.parametrize("name", ["q?mark/x y.db", "%41.db", "file:x.db?mode=ro", "hash#tag.db"])
def test_a_database_path_is_the_file_of_that_name(runner, tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "q?mark").mkdir()
    result = runner.invoke(cli, ["calibrate", "2019-01-01", "--end", "2019-06-28", "--deltas", "0.2", "--dtes", "30",
                                 "--db", name])
    assert result.exit_code == 0, result.output
    assert (tmp_path / name).is_file() and stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()] == [name]
    assert "Warning" not in result.output


def test_an_empty_db_is_refused(runner):
    result = runner.invoke(cli, ["params", "--db", ""])
    assert result.exit_code == 2 and "'--db': is empty" in result.stderr


def test_a_report_that_cannot_be_written_is_refused_before_the_run(runner, db_path, tmp_path):
    result = runner.invoke(cli, ["calibrate", "2019-01-01", "--end", "2019-06-28", "--deltas", "0.2", "--dtes", "30",
                                 "--report", str(tmp_path / "none" / "x.html"), "--db", str(db_path)])
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert table_counts(db_path).get("calibration_runs", 0) == 0 and table_counts(db_path).get("wheel_parameters",
                                                                                                0) == 0


def test_a_settlement_after_today_is_refused(runner, db_path, monkeypatch):
    monkeypatch.setattr("trading.cli.new_york_now",
                        lambda: dt.datetime(2026, 12, 4, 18, 0, tzinfo=ZoneInfo("America/New_York")))
    runner.invoke(cli, ["params", "--db", str(db_path)])
    before = table_counts(db_path)
    result = runner.invoke(cli, ["settle", "--expiry", "2026-12-18", "--value", "6900", "--db", str(db_path)])
    assert result.exit_code == 2 and "after today (2026-12-04)" in result.stderr
    assert table_counts(db_path) == before


def test_a_grid_past_the_bound_is_refused_before_it_runs(runner, db_path):
    deltas = ",".join(f"{0.01 * i:.2f}" for i in range(1, 100))
    dtes = ",".join(str(n) for n in range(7, 127))  # 99 x 120 = 11,880
    result = runner.invoke(cli, ["calibrate", "2019-01-01", "--deltas", deltas, "--dtes", dtes, "--db", str(db_path)])
    assert result.exit_code == 2 and "a grid of 11,880 combinations is more than 2,000" in result.stderr


def test_cron_refuses_a_path_with_a_line_break(tmp_path):
    from zoneinfo import ZoneInfo as Zone

    with pytest.raises(Exception, match="line break"):
        crontab_text(tmp_path / "spx\nwheel", Zone("UTC"))
    with pytest.raises(Exception, match="line break"):
        crontab_text(tmp_path, Zone("UTC"), db="/tmp/x\n* * * * * evil")


def test_reports_exports_and_the_chain_store_are_private(runner, tmp_path):
    from data.chain_files import SHIPPED_CHAINS

    db = tmp_path / "book.db"
    assert runner.invoke(cli, ["calibrate", "2019-01-01", "--end", "2019-06-28", "--deltas", "0.2", "--dtes", "30",
                               "--db", str(db)]).exit_code == 0
    report, export = tmp_path / "r.html", tmp_path / "e.csv"
    export.write_text("old")
    export.chmod(0o644)
    assert runner.invoke(cli, ["report", "--out", str(report), "--db", str(db)]).exit_code == 0
    assert runner.invoke(cli, ["export", str(export), "--run", "1", "--db", str(db)]).exit_code == 0
    assert runner.invoke(cli, ["import", str(SHIPPED_CHAINS[0]), "--db", str(db)]).exit_code == 0
    store = tmp_path / "book-chains"
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [report, export, store, *store.rglob("*")]}
    assert all(mode == (0o700 if p.is_dir() else 0o600) for p, mode in modes.items()), modes
