import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wheel.db"


def table_counts(path: Path) -> dict[str, int]:
    """Row counts of every table of a SQLite file (empty when the file does not exist)."""
    if not path.exists():
        return {}
    with sqlite3.connect(path) as connection:
        names = [r[0] for r in connection.execute("select name from sqlite_master where type='table'")]
        return {n: connection.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}
