"""First-time setup under crashes and concurrency, databases that are not ours, and database URLs that cannot
work. Each round is a real process. SPX_WHEEL_STRESS_ROUNDS (default 5) sets the rounds; the closing note
reports a run with 30."""

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import fresh_database
from trading.cli import cli

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("SPX_WHEEL_STRESS_ROUNDS", "5"))
USABLE = "no parameters saved yet"  # what `params` says on a sound database without a calibration


def spx_wheel(*args):
    return subprocess.Popen([sys.executable, "-m", "trading", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def usable(db):
    done = subprocess.run([sys.executable, "-m", "trading", "params", "--db", db], cwd=ROOT, capture_output=True,
                          text=True)
    return done.returncode == 1 and USABLE in done.stderr, done.stderr


def test_a_crash_during_first_setup_leaves_a_usable_database(tmp_path):
    """Kill -9 the first command at a random moment of its migration (after it starts writing: the SQLite
    journal appears)."""
    hit = 0
    for round_ in range(ROUNDS):
        db = tmp_path / f"crash{round_}.db"
        process = spx_wheel("params", "--db", str(db))
        journal = Path(f"{db}-journal")
        deadline = time.monotonic() + 20
        while process.poll() is None and not journal.exists() and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(random.uniform(0.0, 0.15))  # the migration takes about 0.2 s
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            hit += 1
        process.communicate()
        ok, err = usable(str(db))
        assert ok, (round_, err)
    assert hit >= ROUNDS // 2  # most rounds really did die inside the migration


def test_simultaneous_first_opens_take_turns(tmp_path):
    for round_ in range(ROUNDS):
        db = tmp_path / f"race{round_}.db"
        processes = [spx_wheel("params", "--db", str(db)) for _ in range(5)]
        for process in processes:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 1 and USABLE in err, (round_, err)


def test_postgres_first_setup_under_crashes_and_concurrency(postgres):
    for round_ in range(ROUNDS):
        url = fresh_database(postgres, f"first{round_}")
        processes = [spx_wheel("params", "--db", url) for _ in range(5)]
        for process in processes:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 1 and USABLE in err, (round_, err)
    for round_ in range(ROUNDS):
        url = fresh_database(postgres, f"crash{round_}")
        process = spx_wheel("params", "--db", url)
        time.sleep(random.uniform(0.2, 0.9))  # start-up plus importing Alembic: the migration runs in this span
        process.send_signal(signal.SIGKILL)
        process.communicate()
        ok, err = usable(url)
        assert ok, (round_, err)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("tables", [["customers"], ["positions", "invoices"]])
def test_a_database_that_is_not_ours_is_refused_untouched(runner, tmp_path, tables):
    db = tmp_path / "theirs.db"
    with sqlite3.connect(db) as connection:
        for table in tables:
            connection.execute(f"create table {table} (id integer primary key, name text)")
            connection.execute(f"insert into {table} (name) values ('x')")
    before = digest(db)
    for args in (["params"], ["export", "-"], ["check"], ["trade"], ["positions"], ["calibrate", "2022-01-01"]):
        result = runner.invoke(cli, [*args, "--db", str(db)])
        assert result.exit_code == 1 and "not spx-wheel's" in result.stderr, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
    doctor = runner.invoke(cli, ["doctor", "--db", str(db)])
    assert doctor.exit_code == 1 and "not spx-wheel's" in doctor.stdout
    assert digest(db) == before


def test_an_in_memory_database_works(runner):
    result = runner.invoke(cli, ["calibrate", "2019-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30",
                                 "--db", "sqlite://"])
    assert result.exit_code == 0, result.output
    params = runner.invoke(cli, ["params", "--db", "sqlite://"])
    assert params.exit_code == 1 and USABLE in params.stderr  # a new process, a new (empty) memory


@pytest.mark.parametrize("url,message", [
    ("foo://x/y", "unknown kind of database 'foo'"),
    ("mysql://u@localhost/x", "install a MySQL driver"),
    ("postgresql+psycopg2://u@localhost/x", 'pip install -e ".[postgres]"'),
    ("postgresql+psycopg://u@[::1/x", "not a database URL or path"),
])
def test_database_urls_that_cannot_work_are_one_line(runner, url, message):
    result = runner.invoke(cli, ["params", "--db", url])
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["params"], ["doctor"], ["trade", "--as-of", "2020-02-03"],
                                  ["calibrate", "2022-01-01"]])
def test_a_password_in_the_query_is_never_printed(runner, args):
    url = "postgresql+psycopg:///spx?host=127.0.0.1&port=9&password=hunter2secret&user=spx"
    result = runner.invoke(cli, [*args, "--db", url])
    assert result.exit_code == 1 and "hunter2secret" not in result.output, result.output
    assert "password=***" in result.output
