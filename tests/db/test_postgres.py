"""The same commands on a real PostgreSQL server (a throwaway cluster made by the test), as SPX_WHEEL_DB allows."""

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import fresh_database
from trading.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_calibrate_trade_and_check_on_postgres(runner, postgres):
    url = fresh_database(postgres, "loop")
    result = runner.invoke(cli, ["calibrate", "2019-01-01", "--end", "2019-12-31", "--deltas", "0.2,0.3", "--dtes",
                                 "30", "--db", url])
    assert result.exit_code == 0, result.output
    for day in ("2020-02-03", "2020-02-10", "2020-03-06"):
        assert runner.invoke(cli, ["trade", "--as-of", day, "--db", url]).exit_code == 0
    again = runner.invoke(cli, ["trade", "--as-of", "2020-03-06", "--db", url])
    assert "Already ran" in again.stdout
    positions = json.loads(runner.invoke(cli, ["positions", "--json", "--db", url]).stdout)
    assert len(positions) == 2 and any(p["status"] in ("win", "loss") for p in positions)
    check = runner.invoke(cli, ["check", "--as-of", "2020-03-06", "--db", url, "--json"])
    assert json.loads(check.stdout)["closed_trades"] == 1


def test_two_concurrent_runs_are_serialised_on_postgres(runner, postgres):
    url = fresh_database(postgres, "race")
    assert runner.invoke(cli, ["calibrate", "2019-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30",
                               "--db", url]).exit_code == 0
    command = [sys.executable, "-m", "trading", "trade", "--as-of", "2020-02-03", "--db", url, "--json"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
                 for _ in range(2)]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outcomes.append(json.loads(out)["outcome"])
    assert sorted(outcomes) == ["already-ran", "opened"]


def test_a_password_in_the_url_is_never_printed(runner, postgres, tmp_path):
    url = fresh_database(postgres, "secret").replace("spx@", "spx:hunter2secret@")
    result = runner.invoke(cli, ["calibrate", "2019-01-01", "--end", "2019-06-30", "--deltas", "0.2", "--dtes", "30",
                                 "--db", url])
    assert result.exit_code == 0, result.output  # trust authentication ignores the password
    assert "hunter2secret" not in result.output and "spx:***@" in result.stdout
    doctor = runner.invoke(cli, ["doctor", "--db", url])
    assert "hunter2secret" not in doctor.output


def test_trades_copied_into_postgres_read_back_as_sqlite_stores_them(runner, postgres, tmp_path):
    """PostgreSQL takes a calibration's trades by COPY; what export reads back equals, cell for cell, the same
    calibration stored in SQLite (by executemany)."""
    url, sqlite = fresh_database(postgres, "copied"), str(tmp_path / "same.db")
    grid = ["calibrate", "2015-01-01", "--end", "2019-12-31", "--deltas", "0.1,0.2", "--dtes", "30,45",
            "--take-profits", "0,0.5"]
    exported = []
    for db in (url, sqlite):
        assert runner.invoke(cli, [*grid, "--db", db]).exit_code == 0
        exported.append(runner.invoke(cli, ["export", "-", "--run", "1", "--db", db]).stdout)
    assert exported[0] == exported[1] and exported[0].count("\n") > 400
