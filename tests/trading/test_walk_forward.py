"""Walk-forward calibration and the checks of a calibration's choice, as the optimizer and the command line run
them on the bundled history."""

import datetime as dt
import json
import math
import sqlite3
from dataclasses import astuple

import pytest

from backtest.spx_premium_backtest import run_backtest
from data.market import EmbeddedSource
from tests.conftest import table_counts
from trading.cli import cli
from trading.optimizer import grid_combinations, run_grid
from trading.rules import Rules
from trading.selection import neighbours_of
from trading.walk_forward import Fold, folds, walk_forward

D = dt.date


def test_folds_roll_or_anchor_and_the_last_test_window_is_cut_at_the_end():
    rolling = folds(D(2000, 1, 3), D(2003, 6, 30), "2y", "6m", anchored=False)
    assert rolling == [Fold(D(2000, 1, 3), D(2002, 1, 2), D(2002, 1, 3), D(2002, 7, 2)),
                       Fold(D(2000, 7, 3), D(2002, 7, 2), D(2002, 7, 3), D(2003, 1, 2)),
                       Fold(D(2001, 1, 3), D(2003, 1, 2), D(2003, 1, 3), D(2003, 6, 30))]
    anchored = folds(D(2000, 1, 3), D(2003, 6, 30), "2y", "6m", anchored=True)
    assert [f.train_start for f in anchored] == [D(2000, 1, 3)] * 3
    assert [f.test_start for f in anchored] == [f.test_start for f in rolling]


def test_each_fold_trades_its_training_winner_and_the_record_is_their_product():
    """Checked against the optimizer run on each training window alone, the engine on each test window, and the
    compounding of the folds' returns by hand."""
    source = EmbeddedSource()
    grid = grid_combinations({"put_delta": (0.15, 0.3), "dte_target": (30, 45)}, {})
    walked = walk_forward(source, grid, D(2010, 1, 1), D(2014, 12, 31), "3y", "1y", False, "sharpe", 10)
    assert len(walked.results) == 2 and all(r.test is not None for r in walked.results)
    growth = 1.0
    for result in walked.results:
        f = result.fold
        alone = run_grid(source, grid, f.train_start, f.train_end, "sharpe", 10)
        assert result.winner.params == alone.best_combination.params
        p = result.winner.params
        traded = run_backtest(source, Rules(p), f.test_start, f.test_end, p.capital)
        assert astuple(result.test.metrics) == pytest.approx(astuple(traded.metrics), rel=1e-9, nan_ok=True)
        assert result.test.dates[0] >= f.test_start
        growth *= 1 + traded.metrics.total_return
    assert walked.metrics.total_return == pytest.approx(growth - 1, rel=1e-9)
    assert walked.metrics.trades == sum(r.test.metrics.trades for r in walked.results)
    assert walked.dates[0] == walked.results[0].test.dates[0] and walked.dates[-1] == D(2014, 12, 31)


def test_neighbours_are_one_step_in_one_dimension():
    grid = grid_combinations({"put_delta": (0.1, 0.2, 0.3), "dte_target": (30, 45, 60)}, {})
    names = [(p.put_delta, p.dte_target) for p in grid]

    def around(delta, dte):
        chosen = grid[names.index((delta, dte))]
        return {names[k] for k in neighbours_of(chosen, grid)}

    assert around(0.2, 45) == {(0.1, 45), (0.3, 45), (0.2, 30), (0.2, 60)}
    assert around(0.1, 30) == {(0.2, 30), (0.1, 45)}


def run(runner, db_path, *args):
    return runner.invoke(cli, ["calibrate", *args, "--db", str(db_path)])


def test_calibrate_walks_forward_and_stores_each_fold(runner, db_path):
    result = run(runner, db_path, "2010-01-01", "--end", "2014-12-31", "--deltas", "0.15,0.3", "--dtes", "30,45",
                 "--walk-forward", "3y:1y", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    walked = doc["walk_forward"]
    assert (walked["train"], walked["test"], walked["anchored"]) == ("3y", "1y", False)
    assert [(f["test_start"], f["test_end"]) for f in walked["folds"]] == [("2013-01-01", "2013-12-31"),
                                                                           ("2014-01-01", "2014-12-31")]
    assert all(f["chosen"]["put_delta"] in (0.15, 0.3) and f["out_of_sample"]["closed_trades"] > 0
               for f in walked["folds"])
    growth = math.prod(1 + f["out_of_sample"]["total_return"] for f in walked["folds"])
    assert walked["out_of_sample"]["total_return"] == pytest.approx(growth - 1)
    selection = doc["selection"]
    assert selection["trials"] == 4 and 0 <= selection["deflated_sharpe"] <= 1
    assert selection["probability_of_overfitting"] is None  # 4 combinations: too few for CSCV
    assert len(selection["neighbours"]) == 2
    with sqlite3.connect(db_path) as connection:
        kinds = connection.execute("select id, kind from calibration_runs order by id").fetchall()
        stored = connection.execute("select run_id, fold, test_start, json_extract(strategy, '$.put_delta'), "
                                    "json_extract(out_of_sample, '$.total_return') from walk_forward_folds "
                                    "order by fold").fetchall()
    assert kinds == [(doc["run_id"], "calibrate"), (walked["run_id"], "walk-forward")]
    assert [(s[0], s[1], s[2], s[3]) for s in stored] == [
        (walked["run_id"], n, f["test_start"], f["chosen"]["put_delta"])
        for n, f in enumerate(walked["folds"], start=1)]
    assert [s[4] for s in stored] == pytest.approx([f["out_of_sample"]["total_return"] for f in walked["folds"]])


def test_calibrate_text_shows_the_checks_and_the_walk_forward(runner, db_path):
    result = run(runner, db_path, "2005-01-01", "--end", "2014-12-31", "--walk-forward", "5y:1y", "--anchored")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    best = lines.index(next(line for line in lines if line.startswith("BEST: ")))
    assert lines[best + 1].startswith("  Deflated Sharpe ratio: ") and "best of 12 tries" in lines[best + 1]
    assert lines[best + 2].startswith("  Backtest overfitting: ") and "(CSCV, 16 blocks: " in lines[best + 2]
    assert "WALK-FORWARD 5y:1y (anchored): 5 folds, each trading the winner of its training window" in lines
    assert any(line.startswith("OUT OF SAMPLE 2010-01-04 .. 2014-12-31, stitched: Win=") for line in lines)
    assert any(line.startswith("IN-SAMPLE PROMISE of BEST on 2005-01-03 .. 2014-12-31: Win=") for line in lines)
    assert "walk-forward run #2" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["2022-01-01", "--walk-forward", "5y"], "is not TRAIN:TEST"),
    (["2022-01-01", "--walk-forward", "5y:0y"], "is not TRAIN:TEST"),
    (["2022-01-01", "--anchored"], "--anchored goes with --walk-forward"),
    (["2020-01-01", "--end", "2022-12-31", "--walk-forward", "5y:1y"], "shorter than one training window (5y)"),
])
def test_walk_forward_refuses_bad_spans_in_one_line_and_writes_nothing(runner, db_path, args, message):
    result = run(runner, db_path, *args)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
    assert table_counts(db_path).get("calibration_runs", 0) == 0


def test_backtest_and_calibrate_share_the_exit_knobs(runner, db_path):
    """`backtest --take-profit 0.5` is the combination `calibrate --take-profits 0.5` stores."""
    one = runner.invoke(cli, ["backtest", "--delta", "0.2", "--dte", "30", "--take-profit", "0.5", "--start",
                              "2019-01-01", "--end", "2019-12-31", "--json", "--db", str(db_path)])
    grid = run(runner, db_path, "2019-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30",
               "--take-profits", "0.5", "--min-trades", "0", "--json")
    assert one.exit_code == 0 and grid.exit_code == 0, (one.output, grid.output)
    single, row = json.loads(one.stdout), json.loads(grid.stdout)["results"][0]
    assert single["parameters"]["take_profit"] == 0.5 and row["take_profit"] == 0.5
    assert (single["closed_trades"], single["total_return"]) == (row["closed_trades"], row["total_return"])
    assert any(t["exit_reason"] == "take profit 50%" for t in single["trades"])


def test_workers_change_nothing_but_the_time(runner, tmp_path):
    """The grid and the folds in two forked processes give the very results of one process."""
    documents = []
    for workers in ("1", "2"):
        result = run(runner, tmp_path / f"w{workers}.db", "2012-01-01", "--end", "2016-12-31", "--deltas",
                     "0.15,0.3", "--dtes", "30,45", "--take-profits", "0,0.5", "--walk-forward", "2y:1y", "--workers",
                     workers, "--json")
        assert result.exit_code == 0, result.output
        documents.append(json.loads(result.stdout))
    one, two = documents
    assert one["results"] == two["results"] and one["selection"] == two["selection"]
    assert one["walk_forward"]["folds"] == two["walk_forward"]["folds"]
    assert len(one["walk_forward"]["folds"]) == 3


def test_work_in_processes_comes_back_whole_and_in_order():
    """The forked path that --workers opens for folds and combinations: every result, in order, made elsewhere."""
    import os

    from trading.parallel import mapped

    done = []
    results = mapped(lambda n: (n * n, os.getpid()), list(range(12)), 2, lambda k, total: done.append(k))
    assert [square for square, _ in results] == [n * n for n in range(12)] and done == list(range(1, 13))
    assert os.getpid() not in {pid for _, pid in results}


def test_a_walk_forward_too_small_to_gain_from_processes_runs_in_one(monkeypatch):
    """Forking costs more than a small grid's folds take (0.84 s in two processes against 0.25 s in one for 48
    combinations over 1990-2026): those run here; a large grid's folds go to the workers asked for."""
    import trading.walk_forward as wf
    from data.market import EmbeddedSource
    from trading.optimizer import grid_combinations

    asked = []
    monkeypatch.setattr(wf, "mapped", lambda work, items, workers, progress: asked.append(workers) or [])
    monkeypatch.setattr(wf, "_stitched", lambda *args: None)
    source, start, end = EmbeddedSource(), dt.date(1990, 1, 2), dt.date(2026, 7, 10)
    for deltas, dtes in (((0.15, 0.2, 0.25, 0.3), (30, 45, 60)),  # 12 combinations: 110,000 combination-sessions
                         (tuple(0.05 * i for i in range(1, 11)), tuple(range(20, 70, 2)))):  # 250: 2.3 million
        small = grid_combinations({"put_delta": deltas, "dte_target": dtes}, {})
        wf.walk_forward(source, small, start, end, "5y", "1y", False, "sharpe", 1, workers=2)
    big = grid_combinations({"put_delta": (0.1, 0.2), "dte_target": (30, 45), "take_profit": (0, 0.25, 0.5, 0.75),
                             "stop_loss": (0, 1.5, 2, 3, 4), "close_dte": tuple(range(0, 22, 2))},
                            {})  # 880 combinations: 8.1 million combination-sessions
    wf.walk_forward(source, big, start, end, "5y", "1y", False, "sharpe", 1, workers=2)
    assert asked == [1, 1, 2]
