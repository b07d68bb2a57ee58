"""Start-up: what each command loads. Wall-clock figures are measured by benchmarks/bench_startup.py, never here;
this test pins the cause of a slow start, the libraries a command imports without needing them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"pandas", "scipy", "alembic", "exchange_calendars", "requests"}


def modules_loaded(*args):
    """Top-level modules in sys.modules after running the CLI with `args` in a fresh interpreter."""
    code = ("import sys\nfrom trading.cli import cli\n"
            f"try:\n    cli.main({list(args)!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print('\\n' + __import__('json').dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def traded(tmp_path_factory):
    db = tmp_path_factory.mktemp("startup") / "s.db"
    for args in (["calibrate", "2019-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30"],
                 ["trade", "--as-of", "2020-02-03"]):
        subprocess.run([sys.executable, "-m", "trading", *args, "--db", str(db)], check=True, cwd=ROOT,
                       capture_output=True)
    return str(db)


def test_help_and_cron_load_no_library_of_the_core():
    for args in (["--help"], ["cron"], ["--version"]):
        assert modules_loaded(*args) & (HEAVY | {"sqlalchemy", "numpy", "tabulate"}) == set(), args


@pytest.mark.parametrize("args", [["params"], ["positions"], ["check", "--as-of", "2020-02-14"],
                                  ["trade", "--as-of", "2020-02-04"]])
def test_daily_commands_load_only_what_they_use(traded, args):
    assert modules_loaded(*args, "--db", traded) & HEAVY == set(), args


@pytest.mark.parametrize("args", [["params"], ["positions"], ["export", "-"], ["resume"]])
def test_commands_that_only_read_the_book_never_load_the_engine(traded, args):
    assert modules_loaded(*args, "--db", traded) & (HEAVY | {"numpy"}) == set(), args
