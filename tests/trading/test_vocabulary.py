"""One vocabulary across commands: option names, JSON keys, signs, units, table widths."""

import json
import re
from pathlib import Path

import pytest

from trading.cli import cli
from trading.cli.render import likelihood

ROOT = Path(__file__).resolve().parents[2]


def invoke(runner, db_path, *args):
    return runner.invoke(cli, [*args, "--db", str(db_path)])


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    from click.testing import CliRunner

    runner, db_path = CliRunner(), tmp_path_factory.mktemp("vocabulary") / "v.db"
    assert invoke(runner, db_path, "calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2",
                  "--dtes", "30").exit_code == 0
    assert invoke(runner, db_path, "replay", "2020-01-02", "2020-02-28").exit_code == 0
    return db_path


@pytest.mark.parametrize("name", sorted(set(cli.commands) - {"cron"}))
def test_every_reporting_command_has_json_and_verbose_after_its_name(name):
    options = {opt for param in cli.commands[name].params for opt in getattr(param, "opts", [])}
    assert {"--json", "-v"} <= options, name


def test_verbose_after_the_command_and_version(runner, book):
    assert invoke(runner, book, "params", "-v").exit_code == 0
    assert invoke(runner, book, "params", "-vv").exit_code == 0
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0 and re.fullmatch(r"spx-wheel \d+\.\d+\.\d+\n", version.stdout)


def test_open_and_closed_together_are_refused(runner, book):
    result = invoke(runner, book, "positions", "--open", "--closed")
    assert result.exit_code == 2 and "exclude each other" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_deltas_are_positive_everywhere(runner, book):
    positions = json.loads(invoke(runner, book, "positions", "--json").stdout)
    assert positions and all(0 < p["entry_delta"] < 1 for p in positions)
    backtest = json.loads(invoke(runner, book, "backtest", "--delta", "0.2", "--dte", "30", "--start", "2019-01-01",
                                 "--end", "2019-06-28", "--json").stdout)
    assert all(0 < t["entry_delta"] < 1 for t in backtest["trades"])
    quote = json.loads(invoke(runner, book, "quote", "--date", "2020-02-03", "--expiry", "2020-03-20", "--strike",
                              "3000", "--json").stdout)
    assert 0 < quote["delta"] < 1
    dry = json.loads(invoke(runner, book, "trade", "--as-of", "2020-03-02", "--dry-run", "--json").stdout)
    assert dry["opened"] is None or 0 < dry["opened"]["delta"] < 1


def test_live_and_backtest_exports_share_their_columns(runner, book, tmp_path):
    live, run = tmp_path / "live.csv", tmp_path / "run.csv"
    assert invoke(runner, book, "export", str(live)).exit_code == 0
    assert invoke(runner, book, "export", str(run), "--run", "1").exit_code == 0
    live_columns = live.read_text().splitlines()[0].split(",")
    run_columns = run.read_text().splitlines()[0].split(",")
    common = [c for c in live_columns if c in run_columns]
    assert common == [c for c in run_columns if c in live_columns]
    assert set(live_columns) - set(common) == {"id", "fill_source"}
    assert set(run_columns) - set(common) == {"put_delta", "dte_target", "take_profit", "stop_loss", "close_dte"}
    summary = json.loads(invoke(runner, book, "export", str(live), "--json").stdout)
    assert summary == {"path": str(live), "rows": len(live.read_text().splitlines()) - 1}


def test_money_in_dollars_and_rates_in_percent(runner, book):
    document = json.loads(invoke(runner, book, "params", "--json").stdout)
    assert document["capital"] == 500_000 and document["fee"] == 1.5
    assert not any(key.endswith("_cents") for key in document)
    text = invoke(runner, book, "params").stdout
    assert "$500,000.00" in text and "50.0%" in text
    quote = invoke(runner, book, "quote", "--date", "2020-02-03", "--expiry", "2020-03-20", "--strike", "3000").stdout
    assert re.search(r"^iv\s+\d+\.\d%$", quote, re.M)


def test_tables_fit_120_columns(runner, book):
    for args in (["positions"], ["backtest", "--delta", "0.2", "--dte", "30", "--start", "2019-01-01", "--end",
                                 "2019-12-31", "--show-trades"]):
        text = invoke(runner, book, *args).stdout
        assert max(len(line) for line in text.splitlines()) <= 120, args


def test_dry_run_says_so_first(runner, book):
    lines = invoke(runner, book, "trade", "--as-of", "2020-03-02", "--dry-run").stdout.splitlines()
    assert lines[0].startswith("DRY RUN")


@pytest.mark.parametrize("value,shown", [(0.0004, "<0.1%"), (0.00099, "<0.1%"), (0.001, "0.1%"), (0.006, "0.6%"),
                                         (None, "n/a")])
def test_likelihood_is_never_printed_as_zero(value, shown):
    assert likelihood(value) == shown


def test_no_likelihood_without_a_closed_trade(runner, tmp_path):
    db_path = tmp_path / "fresh.db"
    invoke(runner, db_path, "calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30")
    invoke(runner, db_path, "trade", "--as-of", "2020-02-03")
    text = invoke(runner, db_path, "check", "--as-of", "2020-02-04").stdout
    assert "Likelihood" not in text
    assert json.loads(invoke(runner, db_path, "check", "--as-of", "2020-02-04", "--json").stdout)["likelihood"] is None


@pytest.mark.parametrize("document", ["README.md", "WORKFLOW.md"])
def test_the_docs_link_only_to_files_in_the_repository(document):
    text = (ROOT / document).read_text()
    assert "../" not in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        assert target.startswith("http") or (ROOT / target).exists(), target
    for path in re.findall(r"`((?:data|db|tests|trading|backtest|benchmarks|scripts)/[\w./-]+)`", text):
        assert (ROOT / path.rstrip("/")).exists() or "{" in path, path


MONEY = r"[+-]\$\d{1,3}(,\d{3})*\.\d\d"  # P&L: signed dollars and cents, everywhere


def test_every_backtest_trade_says_the_day_it_closed(runner, book):
    """A take-profit's day is the first session after entry whose close marks the put (priced here by `quote`, the
    same estimate at that day's close) at half the price it was sold at or less; a settled trade closes on expiry."""
    document = json.loads(invoke(runner, book, "backtest", "--delta", "0.2", "--dte", "30", "--take-profit", "50%",
                                 "--start", "2019-01-01", "--end", "2019-06-28", "--json").stdout)
    closed = [t for t in document["trades"] if t["pnl"] is not None]
    taken = [t for t in closed if t["exit_reason"] == "take profit 50%"]
    assert taken and len(taken) < len(closed)
    for t in closed:
        if t["exit_reason"] is None:
            assert t["closed_on"] == t["expiry"]
    sessions = [day for day, _ in document["equity"]]
    for t in taken[:2]:
        def mark(day):
            return json.loads(invoke(runner, book, "quote", "--as-of", day, "--expiry", t["expiry"], "--strike",
                                     str(t["strike"]), "--json").stdout)["premium"]

        assert t["entry_date"] < t["closed_on"] < t["expiry"]
        assert mark(t["closed_on"]) <= t["price"] / 2
        before = sessions[sessions.index(t["closed_on"]) - 1]
        assert before == t["entry_date"] or mark(before) > t["price"] / 2
    shown = invoke(runner, book, "backtest", "--delta", "0.2", "--dte", "30", "--take-profit", "0.5", "--start",
                   "2019-01-01", "--end", "2019-06-28", "--show-trades").stdout
    header = next(line for line in shown.splitlines() if line.lstrip().startswith("ticker"))
    assert header.split() == ["ticker", "entry", "strike", "n", "source", "fill", "delta", "closed", "settled", "at",
                              "bought", "P&L"]
    assert re.search(rf"{taken[0]['ticker']}.*{taken[0]['closed_on']}\s+{taken[0]['exit_fill']:.2f}\s+{MONEY}$",
                     shown, re.M)


@pytest.mark.parametrize("given", [["--max-margin", "50%"], ["--max-margin-pct", "0.5"], ["--max-margin", "0.5"]])
def test_a_share_is_a_fraction_or_a_percentage(runner, book, given):
    document = json.loads(invoke(runner, book, "backtest", "--delta", "0.2", "--dte", "30", "--start", "2019-01-01",
                                 "--end", "2019-03-29", "--slippage", "5%", "--size-target", "100%", *given,
                                 "--json").stdout)
    assert (document["parameters"]["max_margin_pct"], document["parameters"]["slippage"],
            document["parameters"]["size_target"]) == (0.5, 0.05, 1.0)


@pytest.mark.parametrize("given,problem", [("150%", "1.5 is outside (0, 1]"), ("50%%", "is not a percentage"),
                                           ("%", "is not a percentage"), ("nan%", "is not a percentage")])
def test_a_share_out_of_range_is_one_line(runner, book, given, problem):
    result = invoke(runner, book, "backtest", "--delta", "0.2", "--dte", "30", "--max-margin", given)
    assert result.exit_code == 2 and problem in result.stderr


def test_params_show_each_knob_in_its_unit(runner, book, tmp_path):
    text = invoke(runner, book, "params").stdout
    for knob in ("take_profit", "stop_loss", "close_dte"):
        assert re.search(rf"^{knob}\s+off$", text, re.M), knob
    db_path = tmp_path / "exits.db"
    assert invoke(runner, db_path, "calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes",
                  "30", "--take-profits", "50%", "--stop-losses", "2", "--close-dtes", "7").exit_code == 0
    text = invoke(runner, db_path, "params").stdout
    assert re.search(r"^take_profit\s+50.0%$", text, re.M) and re.search(r"^stop_loss\s+2x$", text, re.M)
    assert re.search(r"^close_dte\s+7 days$", text, re.M)


def test_divergence_in_points_and_no_alarm_without_a_sample(runner, book):
    text = invoke(runner, book, "check", "--as-of", "2020-02-28").stdout
    line = next(line for line in text.splitlines() if "Divergence" in line)
    assert re.fullmatch(r"  Divergence: [+-]\d+\.\d pp - INSUFFICIENT SAMPLE", line), line


def test_pnl_is_one_money_style_and_a_broker_fill_shows_as_such(runner, book, tmp_path):
    db_path = tmp_path / "copy.db"
    db_path.write_bytes(book.read_bytes())
    rows = [line.split() for line in invoke(runner, db_path, "positions").stdout.splitlines()[2:]]
    assert rows and all(re.fullmatch(MONEY, row[-1]) or row[-1] == "open" for row in rows)
    (opened,) = [row for row in rows if row[-1] == "open"][:1]
    assert invoke(runner, db_path, "fill", opened[0], "--price", f"{float(opened[6]) + 0.1:.2f}").exit_code == 0
    after = next(line.split() for line in invoke(runner, db_path, "positions").stdout.splitlines()
                 if line.split()[0] == opened[0])
    assert after[5] == "broker"
    check = invoke(runner, db_path, "check", "--as-of", "2020-02-28").stdout
    assert re.search(rf"Total P&L: {MONEY}$", check, re.M)


def test_json_export_to_stdout_is_json(runner, book):
    document = json.loads(invoke(runner, book, "export", "-", "--json").stdout)
    assert document["rows"] == len(document["trades"]) > 0 and "closed_on" in document["trades"][0]
    assert invoke(runner, book, "export", "-").stdout.splitlines()[0].startswith("id,ticker,")
