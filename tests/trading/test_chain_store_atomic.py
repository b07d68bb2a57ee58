"""The chain store and its record in the database are one unit: an import killed at any moment, two imports of one
file at once and a backtest reading during an import, each as real processes, on SQLite and PostgreSQL.
SPX_WHEEL_STRESS_ROUNDS (default 2 here) sets the kill rounds; the closing note reports 30."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data.chain_files import REAL_CHAINS, SHIPPED_CHAINS
from tests.conftest import fresh_database

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("SPX_WHEEL_STRESS_ROUNDS", "2"))
NOVEMBER_2008 = REAL_CHAINS / "deltaneutral_spx_200811.csv.gz"  # 18 quote dates
FEBRUARY_2018 = SHIPPED_CHAINS[0]  # 40 quote dates


def spx_wheel(db, store, *args, wait=True):
    command = [sys.executable, "-m", "trading", *args, "--db", str(db)]
    env = {**os.environ, "SPX_WHEEL_CHAINS": str(store)}
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def held(db, store):
    """(the files the database records, the quote dates a reader sees)."""
    shown = json.loads(spx_wheel(db, store, "chains", "--json").stdout)
    return [f["file"] for f in shown["files"]], shown["quote_dates"]


def parquet_stems(store):
    return sorted(p.stem for p in Path(store).glob("*/*/*.parquet"))


def database(kind, tmp_path, postgres_url, name):
    return tmp_path / f"{name}.db" if kind == "sqlite" else fresh_database(postgres_url, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request):
    return request.param


@pytest.fixture
def postgres_url(kind, request):
    return request.getfixturevalue("postgres") if kind == "postgresql" else None


def test_an_import_killed_at_any_moment_is_whole_or_absent(tmp_path, kind, postgres_url):
    outcomes = []
    for round_ in range(ROUNDS):
        db, store = database(kind, tmp_path, postgres_url, f"killed{round_}"), tmp_path / f"store{round_}"
        process = spx_wheel(db, store, "import", str(NOVEMBER_2008), wait=False)
        if round_ % 2:  # at a random moment
            time.sleep(random.uniform(0.5, 2.5))
        else:  # as its first file lands: in the middle of writing the store
            deadline = time.monotonic() + 30
            while not any(store.glob("*/*/*.p*")) and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        files, days = held(db, store)
        if files:
            assert (files, days) == (["deltaneutral_spx_200811.csv.gz"], 18), round_
            outcomes.append("whole")
        else:
            assert days == 0, round_  # orphaned files, if any, are not read
            backtest = spx_wheel(db, store, "backtest", "--delta", "0.2", "--dte", "30", "--source", "chains",
                                 "--start", "2008-11-03", "--end", "2008-11-28")
            assert backtest.returncode == 1 and "no option chain imported" in backtest.stderr
            outcomes.append("absent, files left" if any(store.glob("*/*/*.p*")) else "absent")
        # the next import sweeps what no record owns and lands whole
        assert spx_wheel(db, store, "import", str(NOVEMBER_2008)).returncode == 0
        assert held(db, store) == (["deltaneutral_spx_200811.csv.gz"], 18)
        assert len(parquet_stems(store)) == 18 and len(set(parquet_stems(store))) == 1
    print(f"kill rounds on {kind}: " + ", ".join(f"{outcomes.count(o)} {o}" for o in sorted(set(outcomes))))


def test_one_file_imported_twice_at_once_is_held_once(tmp_path, kind, postgres_url):
    for round_ in range(ROUNDS):
        db, store = database(kind, tmp_path, postgres_url, f"twice{round_}"), tmp_path / f"store{round_}"
        assert spx_wheel(db, store, "params").returncode in (0, 1)  # the schema first: the imports race on data
        both = [spx_wheel(db, store, "import", str(NOVEMBER_2008), "--json", wait=False) for _ in range(2)]
        outcomes = [(p.communicate(timeout=300), p.returncode) for p in both]
        assert [code for _, code in outcomes] == [0, 0], outcomes
        new = sorted(f["new"] for (out, _), _ in outcomes for f in json.loads(out)["files"])
        assert new == [False, True], round_
        assert held(db, store) == (["deltaneutral_spx_200811.csv.gz"], 18), round_
        assert len(parquet_stems(store)) == 18, round_


def test_a_backtest_during_an_import_sees_it_whole_or_not_at_all(tmp_path, kind, postgres_url):
    window = ["backtest", "--delta", "0.2", "--dte", "30", "--source", "chains", "--start", "2008-11-03", "--end",
              "2018-03-01", "--max-vix", "100", "--json"]  # November 2008's VIX was 55-80
    seen_during = []
    for round_ in range(ROUNDS):
        db, store = database(kind, tmp_path, postgres_url, f"reading{round_}"), tmp_path / f"store{round_}"
        assert spx_wheel(db, store, "import", str(FEBRUARY_2018)).returncode == 0

        def counts():
            result = spx_wheel(db, store, *window)
            assert result.returncode == 0, result.stderr
            document = json.loads(result.stdout)
            return document["real"], document["estimated"]

        before = counts()
        importing = spx_wheel(db, store, "import", str(NOVEMBER_2008), wait=False)
        seen = []
        while importing.poll() is None:
            seen.append(counts())
        importing.communicate()
        assert importing.returncode == 0
        after = counts()
        assert before != after and set(seen) <= {before, after}, round_
        seen_during += seen
    print(f"backtests during an import on {kind}: {len(seen_during)}, each saw it whole or not at all")
