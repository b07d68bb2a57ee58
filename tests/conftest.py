import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wheel.db"


def calibrate(runner: CliRunner, db_path: Path, start: str, end: str, *options: str) -> Path:
    """A database whose active parameters are delta 0.2, DTE 30 (and `options`), calibrated on start..end
    (embedded source)."""
    from trading.cli import cli

    result = runner.invoke(cli, ["calibrate", start, "--end", end, "--deltas", "0.2", "--dtes", "30", *options,
                                 "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    return db_path


@pytest.fixture
def calibrated(runner: CliRunner, db_path: Path) -> Path:
    return calibrate(runner, db_path, "2018-01-01", "2019-12-31")


def table_counts(path: Path) -> dict[str, int]:
    """Row counts of every table of a SQLite file (empty when the file does not exist)."""
    if not path.exists():
        return {}
    with sqlite3.connect(path) as connection:
        names = [r[0] for r in connection.execute("select name from sqlite_master where type='table'")]
        return {n: connection.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}


def as_postgres_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server tools as 'nobody' then."""
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1 (skips where the server binaries are missing)."""
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
