"""The same commands on a real PostgreSQL server (a throwaway cluster made by the test), as SPX_WHEEL_DB allows."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from trading.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def as_postgres_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server tools as 'nobody' then."""
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres():
    if not shutil.which("initdb") or not shutil.which("pg_ctl") or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip("PostgreSQL server binaries are not installed")
    folder = Path(tempfile.mkdtemp(prefix="spx-wheel-pg-"))  # pytest's own temp tree is closed to 'nobody'
    os.chmod(folder, 0o777)
    data = folder / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(as_postgres_user(["initdb", "-D", str(data), "-A", "trust", "-U", "spx"]), check=True,
                   capture_output=True)
    subprocess.run(as_postgres_user(["pg_ctl", "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                                     f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://spx@127.0.0.1:{port}"
    finally:
        subprocess.run(as_postgres_user(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(base: str, name: str) -> str:
    engine = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"create database {name}"))
    engine.dispose()
    return f"{base}/{name}"


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
