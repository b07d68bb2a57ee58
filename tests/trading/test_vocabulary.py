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
    assert set(live_columns) - set(common) == {"id", "fill_source", "settled_on"}
    assert set(run_columns) - set(common) == {"put_delta", "dte_target"}
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
