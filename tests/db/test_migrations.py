"""Upgrading an existing database keeps its rows; a fresh one gets the whole schema."""

import sqlite3

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from db.session import open_database


def test_upgrade_from_0001_keeps_rows(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", "db:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with sqlite3.connect(path) as connection:
        connection.execute("insert into calibration_runs values (1, '2024-12-02 10:00:00', '2024-12-02', "
                           "'calibrate', '2022-01-03', '2024-11-29', 'embedded', 'sharpe', '{}')")
    open_database(str(path))
    with sqlite3.connect(path) as connection:
        head = ScriptDirectory.from_config(config).get_current_head()
        assert head >= "0002"
        assert connection.execute("select version_num from alembic_version").fetchone() == (head,)
        assert connection.execute("select id, objective from calibration_runs").fetchall() == [(1, "sharpe")]
        assert connection.execute("select name from locks").fetchall() == [("trade",)]


def test_opening_twice_is_harmless(tmp_path):
    path = tmp_path / "new.db"
    open_database(str(path))
    open_database(str(path))
    with sqlite3.connect(path) as connection:
        tables = {r[0] for r in connection.execute("select name from sqlite_master where type='table'")}
    assert {"positions", "daily_runs", "halts", "wheel_parameters", "backtest_trades"} <= tables


def test_the_schema_head_constant_is_alembics_head():
    from db.session import SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", "db:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


def test_a_newer_schema_is_refused_in_one_line(runner, tmp_path):
    from trading.cli import cli

    path = tmp_path / "newer.db"
    open_database(str(path))
    with sqlite3.connect(path) as connection:
        connection.execute("update alembic_version set version_num = '9999'")
    for command_line in (["params"], ["positions"], ["check"], ["trade"], ["export", "-"], ["doctor"]):
        result = runner.invoke(cli, [*command_line, "--db", str(path)])
        assert result.exit_code == 1 and "newer than this spx-wheel" in result.output, (command_line, result.output)
        assert "Traceback" not in result.output
