"""A read-only database (a file: URI with mode=ro, which binds root too) serves every reading command and dry
run, writes nothing, and doctor says it is read-only."""

import hashlib
import json

import pytest

from trading.cli import cli


@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    from click.testing import CliRunner

    runner, path = CliRunner(), tmp_path_factory.mktemp("ro") / "book.db"
    for args in (["calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30"],
                 ["replay", "2020-01-02", "2020-02-28"]):
        assert runner.invoke(cli, [*args, "--db", str(path)]).exit_code == 0
    return path, f"sqlite:///file:{path}?mode=ro&uri=true"


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("args", [["params"], ["positions"], ["export", "-"], ["export", "-", "--run", "1"],
                                  ["check", "--as-of", "2020-02-28"], ["trade", "--as-of", "2020-02-28"],
                                  ["trade", "--as-of", "2020-03-02", "--dry-run"],
                                  ["trade", "--as-of", "2020-03-20", "--dry-run"]])
def test_reading_commands_and_dry_runs_work(runner, read_only, args):
    path, url = read_only
    before = digest(path)
    result = runner.invoke(cli, [*args, "--db", url])
    assert result.exit_code in (0, 10), (args, result.output)
    assert digest(path) == before


def test_a_dry_run_that_settles_decides_as_the_real_run_would(runner, read_only, tmp_path):
    path, url = read_only
    dry = json.loads(runner.invoke(cli, ["trade", "--as-of", "2020-03-20", "--dry-run", "--json", "--db", url]).stdout)
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())
    real = json.loads(runner.invoke(cli, ["trade", "--as-of", "2020-03-20", "--json", "--db", str(copy)]).stdout)
    assert dry["settled"] and [p["pnl"] for p in dry["settled"]] == [p["pnl"] for p in real["settled"]]
    assert (dry["outcome"], dry["message"]) == (real["outcome"], real["message"])


def test_writing_is_one_line_and_doctor_says_read_only(runner, read_only):
    path, url = read_only
    result = runner.invoke(cli, ["trade", "--as-of", "2020-03-02", "--db", url])
    assert result.exit_code == 1 and "readonly" in result.stderr.replace("-", "").replace(" ", ""), result.output
    assert len(result.stderr.strip().splitlines()) == 1
    doctor = runner.invoke(cli, ["doctor", "--db", url])
    assert doctor.exit_code == 1 and "is read-only" in doctor.stdout
    assert "is read-only" not in runner.invoke(cli, ["doctor", "--db", str(path)]).stdout
