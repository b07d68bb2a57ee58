"""Upgrading an existing database keeps its rows; a fresh one gets the whole schema."""

import re
import sqlite3

import pytest

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from db.session import open_database

RUN_ROW = ("insert into calibration_runs values (1, '2024-12-02 10:00:00', '2024-12-02', 'calibrate', "
           "'2022-01-03', '2024-11-29', 'embedded', 'sharpe', '{}')")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "db:migrations")
    return config


def database_at(path, revision) -> Config:
    """A SQLite file migrated to `revision` only, as an older spx-wheel left it."""
    config = alembic_config()
    with create_engine(f"sqlite:///{path}").begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return config


def test_upgrade_from_0001_keeps_rows(tmp_path):
    path = tmp_path / "old.db"
    config = database_at(path, "0001")
    with sqlite3.connect(path) as connection:
        connection.execute(RUN_ROW)
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

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


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


def test_upgrade_to_0005_moves_the_knobs_into_one_json_object(tmp_path):
    """A parameter set saved under 0004 (one column per knob) reads back the same after the upgrade."""
    import json

    from trading.ledger import strategy_of

    path = tmp_path / "v4.db"
    database_at(path, "0004")
    with sqlite3.connect(path) as connection:
        connection.execute(RUN_ROW)
        connection.execute("insert into combination_results (id, run_id, put_delta, dte_target, trades, wins, "
                           "total_return, max_drawdown, real, estimated, best) values "
                           "(1, 1, 0.3, 30, 100, 98, 0.5, 0.1, 0, 100, 1)")
        connection.execute(
            "insert into wheel_parameters (id, created_at, calibration_date, run_id, result_id, put_delta, dte_target, "
            "strike_rule, expiries, margin, capital_cents, contracts_per_trade, max_open_positions, max_margin_pct, "
            "min_vix, max_vix, slippage, fee_cents, backtest_trades, backtest_win_rate, backtest_total_return, "
            "backtest_max_drawdown, backtest_sharpe, source, window_start, window_end, objective) values (1, "
            "'2024-12-02 10:00:00', '2024-12-02', 1, 1, 0.3, 30, 'bs-delta', 'monthly', 'cash', 25000000, 2, 4, 0.6, "
            "13.0, 40.0, 0.04, 125, 100, 0.98, 0.5, 0.1, 1.5, 'embedded', '2022-01-03', '2024-11-29', 'sharpe')")
    factory = open_database(str(path))
    from db.models import WheelParameters

    with factory() as session:
        saved = session.get(WheelParameters, 1)
        params = strategy_of(saved)
    assert (params.put_delta, params.dte_target, params.strike_rule, params.expiries, params.margin) == (
        0.3, 30, "bs-delta", "monthly", "cash")
    assert (params.capital, params.contracts_per_trade, params.max_open_positions, params.fee) == (250_000, 2, 4, 1.25)
    assert (params.max_margin_pct, params.min_vix, params.max_vix, params.slippage) == (0.6, 13.0, 40.0, 0.04)
    with sqlite3.connect(path) as connection:
        columns = [r[1] for r in connection.execute("pragma table_info(wheel_parameters)")]
        assert "capital_cents" not in columns and json.loads(
            connection.execute("select strategy from wheel_parameters").fetchone()[0])["fee"] == 1.25


PARAMETERS_0004 = (
    "insert into wheel_parameters (id, created_at, calibration_date, run_id, result_id, put_delta, dte_target, "
    "strike_rule, expiries, margin, capital_cents, contracts_per_trade, max_open_positions, max_margin_pct, "
    "min_vix, max_vix, slippage, fee_cents, backtest_trades, backtest_win_rate, backtest_total_return, "
    "backtest_max_drawdown, backtest_sharpe, source, window_start, window_end, objective) values (1, "
    "'2024-12-02 10:00:00', '2024-12-02', 1, 1, 0.3, 30, 'seed', 'all', 'regt', 50000000, 1, 3, 0.5, "
    "12.0, 35.0, 0.05, 150, 100, 0.98, 0.5, 0.1, 1.5, 'embedded', '2022-01-03', '2024-11-29', 'sharpe')")
PARAMETERS_0005 = (  # the strategy of that era: no exits, no underlying, no sizing modes, no fill model
    "insert into wheel_parameters (id, created_at, calibration_date, run_id, result_id, backtest_trades, "
    "backtest_win_rate, backtest_total_return, backtest_max_drawdown, backtest_sharpe, source, window_start, "
    "window_end, objective, strategy) values (1, '2024-12-02 10:00:00', '2024-12-02', 1, 1, 100, 0.98, 0.5, 0.1, "
    "1.5, 'embedded', '2022-01-03', '2024-11-29', 'sharpe', '{\"put_delta\": 0.3, \"dte_target\": 30, "
    "\"strike_rule\": \"seed\", \"expiries\": \"all\", \"margin\": \"regt\", \"capital\": 500000.0, "
    "\"contracts_per_trade\": 1, \"max_open_positions\": 3, \"max_margin_pct\": 0.5, \"min_vix\": 12.0, "
    "\"max_vix\": 35.0, \"slippage\": 0.05, \"fee\": 1.5}')")


@pytest.mark.parametrize("revision", ["0004", "0005", "0006"])
def test_every_earlier_head_with_a_parameter_set_upgrades_and_every_command_reads_it(runner, tmp_path, revision):
    """A database an older spx-wheel left, holding a run, its result and the active parameters: after the upgrade
    params, check, positions, doctor and a dry run read it (a knob the old set lacks reads as its default)."""
    import json

    from trading.cli import cli

    path = tmp_path / f"v{revision}.db"
    database_at(path, revision)
    with sqlite3.connect(path) as connection:
        connection.execute(RUN_ROW)
        connection.execute("insert into combination_results (id, run_id, put_delta, dte_target, trades, wins, "
                           "total_return, max_drawdown, real, estimated, best) values "
                           "(1, 1, 0.3, 30, 100, 98, 0.5, 0.1, 0, 100, 1)")
        connection.execute(PARAMETERS_0004 if revision == "0004" else PARAMETERS_0005)
    shown = json.loads(runner.invoke(cli, ["params", "--json", "--db", str(path)]).stdout)
    assert (shown["put_delta"], shown["take_profit"], shown["stop_loss"], shown["underlying"]) == (0.3, 0.0, 0.0, "SPX")
    assert re.search(r"^take_profit\s+off$", runner.invoke(cli, ["params", "--db", str(path)]).stdout, re.M)
    for command_line in (["check", "--as-of", "2024-12-02"], ["positions"], ["doctor"],
                         ["trade", "--as-of", "2024-12-02", "--dry-run"]):
        result = runner.invoke(cli, [*command_line, "--db", str(path)])
        assert result.exit_code in (0, 10), (command_line, result.output)
        assert "Traceback" not in result.output


def test_every_grid_dimension_is_a_stored_column_and_part_of_the_unique_key():
    """A dimension declared in StrategyParams (a `grid` option) is stored with each combination and keys it: adding
    one is its column in db/models.py, then the revision Alembic autogenerates from it."""
    from db.models import CombinationResult
    from trading.strategy import GRID_DIMENSIONS

    table = CombinationResult.__table__
    assert set(GRID_DIMENSIONS) <= set(table.columns.keys())
    (unique,) = [c for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"]
    assert [column.name for column in unique.columns] == ["run_id", *GRID_DIMENSIONS]
