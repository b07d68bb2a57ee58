"""The live half replayed offline on the bundled history: trade day by day, settle, check, halt, resume."""

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from backtest.spx_premium_backtest import run_backtest
from data.calendar import nyse_sessions
from data.market import EmbeddedSource
from tests.conftest import table_counts
from trading.cli import cli
from trading.rules import Rules
from trading.strategy import StrategyParams

ROOT = Path(__file__).resolve().parents[2]


def invoke(runner, db_path, *args):
    return runner.invoke(cli, [*args, "--db", str(db_path)])


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """Calibrate on 2015-2019, then run `trade` on every trading day of 2020 and `check` at the end."""
    from click.testing import CliRunner

    runner = CliRunner()
    db_path = tmp_path_factory.mktemp("replay") / "live.db"
    result = invoke(runner, db_path, "calibrate", "2015-01-01", "--end", "2019-12-31", "--json")
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["best"]
    outputs = {}
    for day in nyse_sessions(dt.date(2020, 1, 1), dt.date(2020, 12, 31)):
        result = invoke(runner, db_path, "trade", "--as-of", day.isoformat())
        assert result.exit_code == 0, result.output
        outputs[day] = result.stdout
    check = invoke(runner, db_path, "check", "--as-of", "2020-12-31", "--json")
    return db_path, best, outputs, check


def live_positions(db_path):
    with sqlite3.connect(db_path) as connection:
        return connection.execute("select ticker, opened_on, contracts, premium_cents, status, pnl_cents, "
                                  "settled_on from positions order by opened_on, id").fetchall()


def test_replayed_positions_equal_the_backtest_trade_for_trade(replay):
    db_path, best, outputs, _ = replay
    params = StrategyParams(put_delta=best["put_delta"], dte_target=best["dte_target"])
    backtest = run_backtest(EmbeddedSource(), Rules(params), dt.date(2020, 1, 1), dt.date(2020, 12, 31),
                            params.capital)
    live = live_positions(db_path)
    assert len(backtest.trades) > 10
    for row, trade in zip(live, backtest.trades, strict=False):
        ticker, opened_on, contracts, premium_cents, status, pnl_cents, settled_on = row
        assert (ticker, opened_on, contracts) == (trade.ticker, trade.entry_date.isoformat(), trade.contracts)
        assert premium_cents == round(trade.premium * 100)
        if trade.pnl is None:
            assert status == "open"
        else:
            closed_on = trade.exit_date or trade.expiry
            assert (status, pnl_cents, settled_on) == ("closed", round(trade.pnl * 100), closed_on.isoformat())


def test_a_replay_with_exits_equals_the_backtest_and_says_close(runner, db_path):
    """Take-profit at 50% and a stop at 2x over 2020, replayed day by day: every position opens and closes as
    the backtest's trades do (the same day, reason, buy-back price and P&L), and each buy-back is a CLOSE line."""
    assert invoke(runner, db_path, "calibrate", "2015-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes",
                  "30", "--take-profits", "0.5", "--stop-losses", "2").exit_code == 0
    result = invoke(runner, db_path, "replay", "2020-01-01", "2020-12-31")
    assert result.exit_code == 0, result.output
    params = StrategyParams(put_delta=0.2, dte_target=30, take_profit=0.5, stop_loss=2)
    backtest = run_backtest(EmbeddedSource(), Rules(params), dt.date(2020, 1, 1), dt.date(2020, 12, 31),
                            params.capital)
    with sqlite3.connect(db_path) as connection:
        live = connection.execute("select ticker, opened_on, status, settled_on, exit_reason, exit_fill_cents, "
                                  "pnl_cents from positions order by opened_on, id").fetchall()
    expected = [(t.ticker, t.entry_date.isoformat(), "open" if t.pnl is None else "closed",
                 None if t.pnl is None else (t.exit_date or t.expiry).isoformat(), t.exit_reason,
                 None if t.exit_fill is None else round(t.exit_fill * 100),
                 None if t.pnl is None else round(t.pnl * 100))
                for t in backtest.trades]
    assert live == expected
    reasons = {t.exit_reason for t in backtest.trades}
    assert {"take profit 50%", "stop loss 2x"} <= reasons
    closes = [line for line in result.stdout.splitlines() if line.startswith("CLOSE: ")]
    bought = [t for t in backtest.trades if t.exit_reason is not None]
    assert closes == [f"CLOSE: {t.ticker} @ ${t.exit_fill:.2f} ({t.exit_reason}): P&L "
                      f"{'-' if t.pnl < 0 else '+'}${abs(t.pnl):,.2f} {'WIN' if t.pnl > 0 else 'LOSS'}"
                      for t in sorted(bought, key=lambda t: (t.exit_date, t.entry_date))]


def test_march_2020_shows_as_losses_in_check(replay):
    db_path, _, outputs, check = replay
    settled_in_march = [line for day, text in outputs.items() if day.month in (3, 4) for line in text.splitlines()
                        if line.startswith("SETTLED")]
    assert any("LOSS" in line for line in settled_in_march)
    doc = json.loads(check.stdout)
    assert doc["losers"] >= 1 and doc["closed_trades"] == doc["winners"] + doc["losers"]
    with sqlite3.connect(db_path) as connection:
        losers = connection.execute("select count(*) from positions where pnl_cents <= 0").fetchone()[0]
        total = connection.execute("select sum(pnl_cents) from positions where status='closed'").fetchone()[0]
    assert doc["losers"] == losers and doc["total_pnl"] == pytest.approx(total / 100)
    assert check.exit_code == doc["exit_code"]


def test_every_trading_day_left_one_log_row(replay):
    db_path = replay[0]
    with sqlite3.connect(db_path) as connection:
        outcomes = dict(connection.execute("select outcome, count(*) from daily_runs group by outcome").fetchall())
    assert sum(outcomes.values()) == len(nyse_sessions(dt.date(2020, 1, 1), dt.date(2020, 12, 31)))
    assert outcomes["opened"] == len(live_positions(db_path))


def test_same_day_twice_changes_nothing(runner, calibrated):
    first = invoke(runner, calibrated, "trade", "--as-of", "2020-02-03")
    assert "OPENED:" in first.stdout
    before = table_counts(calibrated)
    again = invoke(runner, calibrated, "trade", "--as-of", "2020-02-03")
    assert again.exit_code == 0 and "Already ran for 2020-02-03" in again.stdout
    assert table_counts(calibrated) == before


def test_non_trading_day_says_so(runner, calibrated):
    result = invoke(runner, calibrated, "trade", "--as-of", "2022-04-15")  # Good Friday
    assert result.exit_code == 0 and "not an NYSE trading day" in result.stdout
    assert table_counts(calibrated)["positions"] == 0


def test_settlement_am_and_pm(runner, calibrated):
    # 2022-03-15 + 30 days: the April monthly, moved by Good Friday to Thursday 2022-04-14, AM-settled (SPX root);
    # from 2022-03-21 the closest to 30 days is the PM-settled weekly of 2022-04-22 (SPXW).
    am = invoke(runner, calibrated, "trade", "--as-of", "2022-03-15").stdout.split("OPENED: ")[1].split()[0]
    pm = invoke(runner, calibrated, "trade", "--as-of", "2022-03-21").stdout.split("OPENED: ")[1].split()[0]
    assert am.startswith("O:SPX220414P") and pm.startswith("O:SPXW2204")
    expiries = {am: dt.date(2022, 4, 14), pm: dt.datetime.strptime(pm[6:12], "%y%m%d").date()}
    settled = "".join(invoke(runner, calibrated, "trade", "--as-of", day.isoformat()).stdout
                      for day in sorted(set(expiries.values())))
    assert f"SETTLED: {am}" in settled and "AM open of 2022-04-14" in settled
    assert f"SETTLED: {pm}" in settled and f"PM close of {expiries[pm]}" in settled
    from data.market import load_bundled

    history = load_bundled()
    with sqlite3.connect(calibrated) as connection:
        rows = dict(connection.execute("select ticker, settlement_cents from positions where status='closed'"))
    assert rows[am] == round(history.spx_open[history.index_of(expiries[am])] * 100)
    assert rows[pm] == round(history.spx_close[history.index_of(expiries[pm])] * 100)


def test_runs_must_go_forward_in_time(runner, calibrated):
    invoke(runner, calibrated, "trade", "--as-of", "2020-02-10")
    before = table_counts(calibrated)
    result = invoke(runner, calibrated, "trade", "--as-of", "2020-02-07")
    assert result.exit_code == 1 and "must go forward in time" in result.stderr
    assert table_counts(calibrated) == before


def test_no_parameters(runner, db_path):
    result = invoke(runner, db_path, "trade", "--as-of", "2020-02-03")
    assert result.exit_code == 1 and "run calibrate first" in result.stderr
    assert "Traceback" not in result.output


def test_dry_run_writes_nothing(runner, calibrated):
    before = table_counts(calibrated)
    result = invoke(runner, calibrated, "trade", "--as-of", "2020-02-03", "--dry-run")
    assert "OPENED:" in result.stdout and "DRY RUN" in result.stdout
    assert table_counts(calibrated) == before


def test_beyond_the_data_needs_manual_inputs(runner, calibrated):
    result = invoke(runner, calibrated, "trade", "--as-of", "2026-11-23")
    assert result.exit_code == 1 and "--spot" in result.stderr and "--vix" in result.stderr
    manual = invoke(runner, calibrated, "trade", "--as-of", "2026-11-23", "--spot", "6600", "--vix", "18",
                    "--price", "12.5")
    assert manual.exit_code == 0, manual.output
    assert "Price 12.50 (manual)" in manual.stdout


def test_crash_mid_run_leaves_no_partial_rows(runner, calibrated, monkeypatch):
    invoke(runner, calibrated, "trade", "--as-of", "2020-02-03")
    before = table_counts(calibrated)
    with sqlite3.connect(calibrated) as connection:
        snapshot = connection.execute("select * from positions").fetchall()

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr("trading.trader._decide", crash)
    # 2020-03-06 settles the position opened on 2020-02-03; the crash comes right after that settlement
    with pytest.raises(RuntimeError):
        runner.invoke(cli, ["trade", "--as-of", "2020-03-06", "--db", str(calibrated)], catch_exceptions=False)
    assert table_counts(calibrated) == before
    with sqlite3.connect(calibrated) as connection:
        assert connection.execute("select * from positions").fetchall() == snapshot


def test_bad_inputs_leave_the_database_unchanged(runner, calibrated):
    invoke(runner, calibrated, "trade", "--as-of", "2020-02-03")
    before = table_counts(calibrated)
    with sqlite3.connect(calibrated) as connection:
        snapshot = connection.execute("select * from positions").fetchall()
    for args, code, message in [(["trade", "--as-of", "2020-02-30"], 2, "not a date"),
                                (["trade", "--as-of", "2020-02-04", "--price", "-3"], 2, "--price"),
                                (["trade", "--as-of", "2031-01-02"], 2, "is after today"),
                                (["check", "--as-of", "9999-12-31"], 2, "outside 1970-01-01 .. 2199-12-31"),
                                (["quote", "--date", "2020-02-03", "--expiry", "2031-01-02", "--strike", "3000"], 2,
                                 "beyond the NYSE calendar"),
                                (["fill", "99", "--price", "5"], 1, "no position #99"),
                                (["fill", "1", "--price", "-5"], 2, "--price"),
                                (["export", "x.csv", "--run", "42"], 1, "no calibration or backtest run #42"),
                                (["export", "/no/such/folder/x.csv"], 1, "cannot write /no/such/folder/x.csv")]:
        result = invoke(runner, calibrated, *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.stderr and "Traceback" not in result.output
    assert table_counts(calibrated) == before
    with sqlite3.connect(calibrated) as connection:
        assert connection.execute("select * from positions").fetchall() == snapshot


def test_fill_records_the_broker_price(runner, calibrated):
    invoke(runner, calibrated, "trade", "--as-of", "2020-02-03")
    result = invoke(runner, calibrated, "fill", "1", "--price", "7.25")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(calibrated) as connection:
        fill, source, premium, contracts, fees = connection.execute(
            "select fill_cents, fill_source, premium_cents, contracts, fees_cents from positions").fetchone()
    assert (fill, source) == (725, "broker")
    assert premium == 725 * 100 * contracts - fees


def test_fill_refuses_a_price_far_from_the_days_unless_forced(runner, calibrated):
    day = json.loads(invoke(runner, calibrated, "trade", "--as-of", "2020-02-03", "--json").stdout)["opened"]
    price = day["price"]  # the put's price that day; 50% either side is the bound
    before = table_counts(calibrated)
    far = invoke(runner, calibrated, "fill", "1", "--price", f"{price * 1.6:.2f}")
    assert far.exit_code == 2 and "more than 50% away from the put's price that day" in far.stderr
    assert table_counts(calibrated) == before
    assert invoke(runner, calibrated, "fill", "1", "--price", f"{price * 1.4:.2f}").exit_code == 0
    forced = invoke(runner, calibrated, "fill", "1", "--price", f"{price * 0.3:.2f}", "--force")
    assert forced.exit_code == 0, forced.output


def test_halt_and_resume(runner, calibrated):
    with sqlite3.connect(calibrated) as connection:
        connection.execute("update wheel_parameters set backtest_win_rate = 0.40")  # live will diverge > 20 points
    for day in nyse_sessions(dt.date(2021, 1, 1), dt.date(2021, 12, 31)):
        invoke(runner, calibrated, "trade", "--as-of", day.isoformat())
    check = invoke(runner, calibrated, "check", "--as-of", "2021-12-31")
    assert check.exit_code == 13, check.output
    assert "STOP TRADING" in check.stdout and "halt was set" in check.stdout
    halted = invoke(runner, calibrated, "trade", "--as-of", "2022-01-03")
    assert "Trading halted since 2021-12-31" in halted.stdout and "OPENED" not in halted.stdout
    assert "Trading resumed." in invoke(runner, calibrated, "resume").stdout
    after = json.loads(invoke(runner, calibrated, "trade", "--as-of", "2022-01-04", "--json").stdout)
    assert after["outcome"] in ("opened", "skipped") and "halted" not in after["message"]


def test_two_concurrent_runs_are_serialised(calibrated):
    command = [sys.executable, "-m", "trading", "trade", "--as-of", "2020-02-03", "--db", str(calibrated), "--json"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    outcomes = []
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outcomes.append(json.loads(out)["outcome"])
    assert sorted(outcomes) == ["already-ran", "opened"]
    assert table_counts(calibrated)["positions"] == 1


def test_positions_and_export(runner, calibrated, tmp_path):
    for day in ("2020-02-03", "2020-02-10", "2020-03-06"):
        invoke(runner, calibrated, "trade", "--as-of", day)
    listed = json.loads(invoke(runner, calibrated, "positions", "--json").stdout)
    closed = json.loads(invoke(runner, calibrated, "positions", "--closed", "--json").stdout)
    opened = json.loads(invoke(runner, calibrated, "positions", "--open", "--json").stdout)
    assert len(listed) == len(closed) + len(opened) and closed and all(p["pnl"] is not None for p in closed)
    out = tmp_path / "trades.csv"
    assert invoke(runner, calibrated, "export", str(out)).exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("id,ticker,root,entry_date,expiry") and len(lines) == len(listed) + 1
    run_csv = tmp_path / "run.csv"
    assert invoke(runner, calibrated, "export", str(run_csv), "--run", "1").exit_code == 0
    with sqlite3.connect(calibrated) as connection:
        stored = connection.execute("select count(*) from backtest_trades").fetchone()[0]
    assert len(run_csv.read_text().splitlines()) == stored + 1


def test_the_replay_command_equals_trade_day_by_day(replay, tmp_path):
    """`replay` over 2020 in one process leaves the same positions and daily log as 253 separate `trade` runs."""
    from click.testing import CliRunner

    db_path, _, outputs, _ = replay
    runner, replayed = CliRunner(), tmp_path / "replayed.db"
    assert invoke(runner, replayed, "calibrate", "2015-01-01", "--end", "2019-12-31").exit_code == 0
    result = invoke(runner, replayed, "replay", "2020-01-01", "2020-12-31")
    assert result.exit_code == 0, result.output
    assert live_positions(replayed) == live_positions(db_path)
    query = "select as_of, outcome, message, settled, position_id from daily_runs order by as_of"
    with sqlite3.connect(db_path) as one, sqlite3.connect(replayed) as other:
        assert one.execute(query).fetchall() == other.execute(query).fetchall()
    assert result.stdout == "".join(outputs[day] for day in sorted(outputs))


def test_the_trader_records_a_margin_call_buy_back_and_fill_corrects_it(runner, db_path):
    """The live side applies the backtest's margin rule: all equity committed (20 contracts, a 100% cap), the
    first adverse marks call margin; the run records the buy-back, and `fill --buy-back` puts the broker's price
    in its place (P&L moved by the difference x 100 x contracts)."""
    assert invoke(runner, db_path, "calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes",
                  "30", "--contracts-per-trade", "20", "--max-margin-pct", "1").exit_code == 0
    days = json.loads(invoke(runner, db_path, "replay", "2020-01-02", "2020-03-31", "--json").stdout)["days"]
    calls = [row for d in days for row in d["closed"]]
    assert calls and all(row["exit_reason"] == "margin call" and row["settlement_source"] == "exit" for row in calls)
    first = calls[0]
    fixed = json.loads(invoke(runner, db_path, "fill", str(first["id"]), "--price",
                              f"{first['exit_fill'] + 1:.2f}", "--buy-back", "--json").stdout)
    assert fixed["exit_fill"] == pytest.approx(first["exit_fill"] + 1)
    assert fixed["pnl"] == pytest.approx(first["pnl"] - 100 * first["contracts"])
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("select exit_fill_source from positions where id = ?",
                                  (first["id"],)).fetchone() == ("broker",)
    held = next(p for d in days if d["opened"] for p in [d["opened"]] if p["position_id"] not in
                {row["id"] for row in calls})
    refused = invoke(runner, db_path, "fill", str(held["position_id"]), "--price", "1", "--buy-back")
    assert refused.exit_code == 1 and "was not bought back" in refused.output


def test_a_halt_stops_new_positions_but_not_the_exits(runner, db_path):
    """Halted before the February 2020 fall: nothing opens after the halt, yet the 2x stops still buy back."""
    assert invoke(runner, db_path, "calibrate", "2015-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes",
                  "30", "--stop-losses", "2").exit_code == 0
    assert invoke(runner, db_path, "replay", "2020-01-02", "2020-02-20").exit_code == 0
    with sqlite3.connect(db_path) as connection:
        connection.execute("insert into halts (created_at, as_of, reason) values ('2020-02-20 17:00:00', "
                           "'2020-02-20', 'set by the test')")
    days = json.loads(invoke(runner, db_path, "replay", "2020-02-21", "2020-03-31", "--json").stdout)["days"]
    assert all(d["outcome"] == "halted" and d["opened"] is None for d in days if d["outcome"] != "closed-market")
    stops = [row for d in days for row in d["closed"]]
    assert stops and all(row["exit_reason"] == "stop loss 2x" for row in stops)


def test_check_shows_the_books_account_by_the_rules(runner, calibrated):
    """The account `check` shows, from the positions as `positions --json` lists them: cash is the capital, the
    realised P&L and the open premiums; notional is strike x 100 x contracts of the open puts; net liquidation is
    cash less the marks check prints; margin is the Reg-T amount a margin call holds net liquidation to."""
    for day in ("2020-01-02", "2020-01-03", "2020-01-06", "2020-02-03"):
        invoke(runner, calibrated, "trade", "--as-of", day)
    rows = json.loads(invoke(runner, calibrated, "positions", "--json").stdout)
    report = json.loads(invoke(runner, calibrated, "check", "--as-of", "2020-02-03", "--json").stdout)
    account, held = report["account"], [r for r in rows if r["status"] == "open"]
    assert held and account["source"] == "book"
    realised = sum(r["pnl"] for r in rows if r["status"] != "open")
    assert account["cash"] == pytest.approx(500_000 + realised + sum(r["premium"] for r in held), abs=0.01)
    assert account["notional"] == pytest.approx(sum(r["strike"] * 100 * r["contracts"] for r in held))
    marks = {o["id"]: o["mark"] for o in report["open_positions"]}
    assert account["net_liquidation"] == pytest.approx(
        account["cash"] - sum(100 * marks[r["id"]] * r["contracts"] for r in held), abs=0.01)
    assert account["buying_power"] == pytest.approx(account["net_liquidation"] - account["maintenance"], abs=0.01)


def test_exposure_beyond_the_backtests_is_warned():
    from trading.account import exposure_warnings
    from trading.brokers.protocol import Account
    from trading.strategy import StrategyParams

    params = StrategyParams(put_delta=0.2, dte_target=30, max_margin_pct=0.5, max_open_positions=3)
    account = Account(net_liquidation=100_000, cash=101_000, buying_power=40_000, maintenance=60_000)
    warned = exposure_warnings(params, account, 4, notional=500_000, peak_exposure=4.0)
    assert warned == (
        "notional exposure 500% of net liquidation is over the most the calibrated backtest ever carried (400%)",
        "margin in use $60,000.00 is over the backtest's cap of 50% of net liquidation ($50,000.00)",
        "4 positions open, over the backtest's limit of 3")
    assert exposure_warnings(params, Account(100_000, 101_000, 50_000, 50_000), 3, 400_000, 4.0) == ()
