"""`spx-wheel report` and `calibrate --report` as a person sees them: the page rendered in headless Chromium."""

import re
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from trading.cli import cli


class Page(HTMLParser):
    """What a page loads and shows: every src/href, the images, the table rows."""

    def __init__(self, text):
        super().__init__()
        self.links, self.images, self.rows, self.tables = [], 0, 0, 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[k] for k in ("src", "href") if k in attrs]
        self.images += tag == "img"
        self.rows += tag == "tr"
        self.tables += tag == "table"


def chromium(html_path, png_path, height=4000):
    """Render the page in headless Chromium: (the screenshot as an array, the console messages it logged)."""
    import matplotlib.image

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "Chromium is needed to render the report: ./scripts/test.sh installs Debian's chromium package"
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", f"--window-size=1280,{height}",
                           f"--screenshot={png_path}", html_path.as_uri()], capture_output=True, text=True,
                          timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return matplotlib.image.imread(png_path), console


def test_the_console_check_sees_a_broken_page(tmp_path):
    """The control: a page that throws is caught by the same check the report passes."""
    page = tmp_path / "broken.html"
    page.write_text('<html><body><p>x</p><script>throw new Error("broken on purpose")</script></body></html>')
    _, console = chromium(page, tmp_path / "broken.png", 600)
    assert any("broken on purpose" in line for line in console)


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    from click.testing import CliRunner

    folder = tmp_path_factory.mktemp("report")
    db, page = folder / "r.db", folder / "report.html"
    result = CliRunner().invoke(cli, ["calibrate", "2014-01-01", "--end", "2019-12-31", "--deltas", "0.15,0.3",
                                      "--dtes", "30,45", "--stop-losses", "0,2", "--walk-forward", "3y:1y",
                                      "--report", str(page), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"Wrote the report to {page}" in result.stderr
    return db, page


def test_the_report_is_one_self_contained_page_with_every_trade(reported):
    db, page = reported
    text = page.read_text()
    parsed = Page(text)
    assert parsed.links and all(link.startswith("data:image/png;base64,") for link in parsed.links)
    assert parsed.images == 5  # equity and drawdown, two heatmaps, the years, the walk-forward folds
    with sqlite3.connect(db) as connection:
        trades = connection.execute("select count(*) from backtest_trades t join combination_results r on "
                                    "r.id = t.result_id where r.best").fetchone()[0]
        folds = connection.execute("select count(*) from walk_forward_folds").fetchone()[0]
    assert f"<h2>Trades ({trades})</h2>" in text and folds == 3
    assert parsed.tables == 3  # the summary, the folds, the trades
    walk, trade_list = text.split("<h2>Walk-forward")[1].split("<h2>Trades")
    assert walk.count("<tr>") == 1 + folds and trade_list.count("<tr>") == 1 + trades  # with the header row
    assert re.search(r"deflated Sharpe ratio</td><td>\d+\.\d%", text)
    assert "Walk-forward 3y:1y (rolling)" in text


def test_the_report_renders_in_chromium_without_errors(reported, tmp_path):
    _, page = reported
    shot, console = chromium(page, tmp_path / "report.png")
    assert console == []
    ink = (shot[..., :3] < 0.9).any(axis=2)  # pixels that are not (near) white
    assert ink.mean() > 0.05
    assert len(np.unique((shot[..., :3] * 255).astype(int).reshape(-1, 3), axis=0)) > 200  # charts, not just text


def test_report_command_picks_a_run_and_refuses_what_is_not_one(runner, reported, tmp_path):
    db, _ = reported
    out = tmp_path / "first.html"
    result = runner.invoke(cli, ["report", "--run", "1", "--out", str(out), "--db", str(db)])
    assert result.exit_code == 0 and "Wrote" in result.stdout and "run #1" in result.stdout
    assert out.read_text().count("<img") == 5
    walk = runner.invoke(cli, ["report", "--run", "2", "--db", str(db)])
    assert walk.exit_code == 1 and "no calibration or backtest run #2" in walk.stderr
    empty = runner.invoke(cli, ["report", "--db", str(tmp_path / "new.db")])
    assert empty.exit_code == 1 and "no run stored yet" in empty.stderr
    missing = runner.invoke(cli, ["report", "--out", str(tmp_path / "no" / "such" / "r.html"), "--db", str(db)])
    assert missing.exit_code == 1 and "cannot write" in missing.stderr and "Traceback" not in missing.output


def test_the_trades_say_what_closed_them_and_when(reported):
    db, page = reported
    trade_list = page.read_text().split("<h2>Trades")[1]
    with sqlite3.connect(db) as connection:
        rows = connection.execute("select t.ticker, t.exit_reason, t.exit_date, t.expiry, t.pnl_cents from "
                                  "backtest_trades t join combination_results r on r.id = t.result_id where r.best"
                                  ).fetchall()
    assert any(reason for _, reason, *_ in rows) and any(not reason for _, reason, *_ in rows)
    for ticker, reason, exit_date, expiry, pnl in rows:
        row = next(r for r in trade_list.split("<tr>") if f"<td>{ticker}</td>" in r)
        if pnl is None:
            assert "<td>open</td>" in row
        elif reason:
            assert f"<td>{exit_date}</td><td>buy-back: {reason}</td>" in row
        else:
            assert f"<td>{expiry}</td><td>settlement</td>" in row


def test_years_without_a_published_put_return_are_said(runner, tmp_path):
    db, page = tmp_path / "late.db", tmp_path / "late.html"
    assert runner.invoke(cli, ["calibrate", "2021-01-01", "--deltas", "0.2", "--dtes", "30", "--report", str(page),
                               "--db", str(db)]).exit_code == 0
    note = page.read_text().split("<h2>Years against Cboe PUT</h2>")[1].split("</p>")[0]
    assert re.search(r"No PUT return is shipped for 2022-2026: those years have no PUT bar \(the shipped series "
                     r"ends 2021\)", note)


def test_a_heatmap_of_shares_has_its_scale_in_percent(monkeypatch):
    from types import SimpleNamespace

    from trading import report

    figures = []
    monkeypatch.setattr(report, "_png", figures.append)
    results = [SimpleNamespace(put_delta=d, dte_target=n, take_profit=0.0, stop_loss=0.0, close_dte=0,
                               win_rate=rate, sharpe=rate * 2, ruined=None)
               for (d, n), rate in {(0.15, 30): 0.93, (0.15, 45): 0.95, (0.3, 30): 0.97, (0.3, 45): 0.99}.items()]
    report.heatmap(results, results[0], "win_rate", "win rate")
    report.heatmap(results, results[0], "sharpe", "sharpe")
    scales = [[t.get_text() for t in f.axes[1].get_yticklabels()] for f in figures]
    assert scales[0] and all(label.endswith("%") for label in scales[0])
    assert not any(label.endswith("%") for label in scales[1])


def test_every_stored_text_is_escaped_in_the_page(runner, reported, tmp_path):
    """The database is not trusted to hold only what spx-wheel wrote: a script stored in any text field of the run,
    its walk-forward or its trades stays text on the page."""
    import json

    db, _ = reported
    tampered = tmp_path / "tampered.db"
    tampered.write_bytes(db.read_bytes())
    script = "<script>alert(1)</script>"
    with sqlite3.connect(tampered) as connection:
        walk_id, settings = connection.execute("select id, settings from calibration_runs where kind = "
                                               "'walk-forward'").fetchone()
        settings = json.loads(settings)
        settings["out_of_sample"].update(start=script, end=script, closed_trades=script, sharpe=script,
                                         total_return=script)
        settings.update(train=script, test=script)
        connection.execute("update calibration_runs set settings = ? where id = ?", (json.dumps(settings), walk_id))
        connection.execute("update calibration_runs set source = ? where kind = 'calibrate'", (script,))
        connection.execute("update backtest_trades set ticker = ?, exit_reason = coalesce(exit_reason, ?), "
                           "source = ?", (script, script, script))
        folds = connection.execute("select id, strategy, in_sample from walk_forward_folds").fetchall()
        for fold_id, strategy, in_sample in folds:
            strategy = json.loads(strategy) if strategy else {"dte_target": 30}
            strategy.update(put_delta=script, dte_target=script)
            connection.execute("update walk_forward_folds set strategy = ?, in_sample = ? where id = ?",
                               (json.dumps(strategy), json.dumps({"sharpe": script}), fold_id))
    out = tmp_path / "tampered.html"
    result = runner.invoke(cli, ["report", "--run", "1", "--out", str(out), "--db", str(tampered)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<script" not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") > 10


def test_the_live_report_shows_the_book_its_fills_and_orders(runner, tmp_path):
    """A month of the paper loop, then `report --live`: every position and order is a row, the page renders."""
    db, page = tmp_path / "live.db", tmp_path / "live.html"
    assert runner.invoke(cli, ["calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30",
                               "--db", str(db)]).exit_code == 0
    replayed = runner.invoke(cli, ["replay", "2020-01-02", "2020-02-14", "--broker", "paper", "--send", "--db", str(db)])
    assert replayed.exit_code == 0, replayed.output
    done = runner.invoke(cli, ["report", "--live", "--out", str(page), "--db", str(db)])
    assert done.exit_code == 0 and "the live book; open it in a browser" in done.output
    with sqlite3.connect(db) as connection:
        positions = connection.execute("select count(*) from positions").fetchone()[0]
        orders = connection.execute("select count(*) from orders").fetchone()[0]
        settled = connection.execute("select count(*) from positions where status = 'closed'").fetchone()[0]
    text = page.read_text()
    shown = Page(text)
    assert positions >= 2 and settled >= 1 and shown.rows == positions + orders + 3 + 9  # three header rows, nine of summary
    assert shown.images == 1 and not [link for link in shown.links if not link.startswith("data:")]
    assert f"fills from the broker / modelled</td><td>{positions} / 0" in text
    _, console = chromium(page, tmp_path / "live.png", 1600)
    assert console == []
    assert runner.invoke(cli, ["report", "--live", "--run", "1", "--db", str(db)]).exit_code == 2


def test_a_ruin_and_what_the_account_owed_are_stored_and_shown(tmp_path):
    """A crash the margin calls cannot meet (the index down 35% overnight, as tests/trading/test_grid_engine.py
    makes it): the ruined combinations keep their day and their deficit in the database, and the page says them."""
    import datetime as dt

    from data.market import EmbeddedSource
    from db.session import open_database, transaction
    from tests.trading.test_grid_engine import crashed
    from trading.optimizer import run_grid, save_calibration
    from trading.report import load_report, render_report
    from trading.strategy import StrategyParams
    from trading.validation import published_put_returns

    grid = [StrategyParams(put_delta=delta, dte_target=dte, contracts_per_trade=40, max_margin_pct=0.99, min_vix=0,
                           max_vix=100) for delta in (0.05, 0.1, 0.3) for dte in (9, 40)]
    grid.append(StrategyParams(put_delta=0.05, dte_target=60, margin="cash"))  # cash-secured: never ruined
    calibration = run_grid(EmbeddedSource(crashed(dt.date(2019, 3, 4), 0.35)), grid, dt.date(2019, 1, 2),
                           dt.date(2019, 6, 28), "sharpe")
    ruined = [c.result for c in calibration.combinations if c.result.ruined is not None]
    assert ruined and all(r.deficit > 0 for r in ruined)
    factory = open_database(str(tmp_path / "ruin.db"))
    with transaction(factory, write=True) as session:
        run, _ = save_calibration(session, calibration, "calibrate", dt.date(2026, 12, 6),
                                  dt.datetime(2026, 12, 6, 9, 0))
    with transaction(factory) as session:
        data = load_report(session, run.id, published_put_returns())
        stored = sorted((r.ruined, r.deficit_cents) for r in data.results if r.ruined)
        page = render_report(data)
    assert stored == sorted((r.ruined, round(r.deficit * 100)) for r in ruined)
    worst = max(r.deficit for r in ruined)
    assert f"{len(ruined)} of {len(calibration.combinations)}" in page and f"${worst:,.2f})" in page
