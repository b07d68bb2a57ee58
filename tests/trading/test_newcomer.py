"""A new user's first hour: the defects found by trying the project as a newcomer, each pinned by a test."""

import json
import sqlite3
import stat

import pytest

from tests.conftest import table_counts
from trading.cli import cli


def invoke(runner, db_path, *args):
    return runner.invoke(cli, [*args, "--db", str(db_path)])


def fresh_env(home, **extra):
    return {"HOME": str(home), "XDG_DATA_HOME": None, "SPX_WHEEL_DB": None, "POLYGON_API_KEY": None, **extra}


@pytest.mark.parametrize("xdg", [False, True])
def test_first_command_creates_the_private_data_folder(runner, tmp_path, xdg):
    home = tmp_path / "home"
    home.mkdir()
    env = fresh_env(home, XDG_DATA_HOME=str(tmp_path / "xdg") if xdg else None)
    result = runner.invoke(cli, ["calibrate", "2022-01-01", "--deltas", "0.2", "--dtes", "30"], env=env)
    assert result.exit_code == 0, result.output
    folder = (tmp_path / "xdg" if xdg else home / ".local" / "share") / "spx-wheel"
    database = folder / "spx-wheel.db"
    assert table_counts(database)["wheel_parameters"] == 1
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_an_explicit_database_in_a_missing_folder_stays_an_error(runner, tmp_path):
    result = runner.invoke(cli, ["params", "--db", str(tmp_path / "missing" / "x.db")])
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("as_json", [False, True])
def test_dry_run_on_a_day_that_settles(runner, calibrated, as_json):
    opened = invoke(runner, calibrated, "trade", "--as-of", "2020-02-03", "--json")
    expiry = json.loads(opened.stdout)["opened"]["expiry"]
    before = table_counts(calibrated)
    with sqlite3.connect(calibrated) as connection:
        snapshot = connection.execute("select * from positions").fetchall()
    result = invoke(runner, calibrated, "trade", "--as-of", expiry, "--dry-run", *(["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    if as_json:
        document = json.loads(result.stdout)
        assert document["dry_run"] and len(document["settled"]) == 1
        assert document["settled"][0]["pnl"] is not None
    else:
        assert "SETTLED:" in result.stdout and "DRY RUN" in result.stdout
    assert table_counts(calibrated) == before
    with sqlite3.connect(calibrated) as connection:
        assert connection.execute("select * from positions").fetchall() == snapshot


def test_a_day_with_nothing_to_do_blocks_nothing(runner, calibrated):
    holiday = invoke(runner, calibrated, "trade", "--as-of", "2022-04-15")  # Good Friday
    assert "not an NYSE trading day" in holiday.stdout
    skipped = invoke(runner, calibrated, "trade", "--as-of", "2020-03-16")  # VIX 82.7: skipped, nothing settles
    assert "NO TRADE: VIX" in skipped.stdout
    earlier = invoke(runner, calibrated, "trade", "--as-of", "2020-02-03")
    assert earlier.exit_code == 0 and "OPENED:" in earlier.stdout


def test_refusing_to_go_back_says_how_to_replay(runner, calibrated):
    invoke(runner, calibrated, "trade", "--as-of", "2020-02-10")
    result = invoke(runner, calibrated, "trade", "--as-of", "2020-02-07")
    assert result.exit_code == 1 and "another database" in result.stderr and "--db" in result.stderr


def test_check_as_of_a_past_day_shows_the_book_of_that_day(runner, calibrated):
    for day in ("2020-01-06", "2020-02-03", "2020-03-02", "2020-06-01"):
        invoke(runner, calibrated, "trade", "--as-of", day)
    with sqlite3.connect(calibrated) as connection:
        connection.execute("insert into halts (created_at, as_of, reason) values ('2020-06-30', '2020-06-30', 'x')")
        lives = {i: (opened, expiry) for i, opened, expiry in connection.execute(
            "select id, opened_on, expiry from positions")}
    document = json.loads(invoke(runner, calibrated, "check", "--as-of", "2020-02-14", "--json").stdout)
    shown = {p["id"] for p in document["open_positions"]}
    assert shown == {i for i, (opened, expiry) in lives.items() if opened <= "2020-02-14" < expiry}
    assert shown and len(lives) > len(shown)  # later positions are not in the book of that day
    assert document["halted"] is False
    text = invoke(runner, calibrated, "check", "--as-of", "2020-02-14").stdout
    assert "halted" not in text
    later = json.loads(invoke(runner, calibrated, "check", "--as-of", "2020-07-01", "--json").stdout)
    assert later["halted"] is True


def test_calibration_without_enough_closed_trades_saves_nothing(runner, db_path):
    result = invoke(runner, db_path, "calibrate", "2026-06-20")
    assert result.exit_code == 1
    assert "no combination closed at least 10 trades" in result.stderr and "nothing saved" in result.stderr
    assert "not eligible" in result.stdout
    assert table_counts(db_path).get("wheel_parameters", 0) == 0
    assert table_counts(db_path).get("calibration_runs", 0) == 0


def test_a_thin_combination_is_shown_but_never_chosen(runner, db_path):
    result = invoke(runner, db_path, "calibrate", "2026-01-20", "--deltas", "0.2", "--dtes", "30,60", "--json")
    document = json.loads(result.stdout)
    by_dte = {r["dte_target"]: r for r in document["results"]}
    assert by_dte[60]["closed_trades"] < 10 and not by_dte[60]["eligible"]
    assert by_dte[30]["eligible"] and document["best"]["dte_target"] == 30


@pytest.mark.parametrize("expiry,strike,message", [
    ("2024-12-21", "5280", "no SPX put expiring 2024-12-21 was listed on 2024-11-05"),  # a Saturday
    ("2024-12-20", "5283.7", "the strike must be a multiple of 5"),
    ("2010-10-22", "1100", "no SPX put expiring 2010-10-22"),  # a Friday before PM weeklies were listed
])
def test_quote_refuses_contracts_that_never_existed(runner, db_path, expiry, strike, message):
    day = "2010-10-01" if expiry.startswith("2010") else "2024-11-05"
    result = invoke(runner, db_path, "quote", "--date", day, "--expiry", expiry, "--strike", strike)
    assert result.exit_code == 2 and message in result.stderr
