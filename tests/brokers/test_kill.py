"""Kill -9 at random moments of a broker run, against the fake Tastytrade, then run again: exactly one order
reaches the broker and the book agrees with it. SPX_WHEEL_KILL_ROUNDS sets the rounds (5 by default; the closing
note gives a 30-round run)."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import calibrate
from tests.fake_tastytrade import ACCOUNT, FakeTastytrade

ROUNDS = int(os.environ.get("SPX_WHEEL_KILL_ROUNDS", "5"))
DAY = "2020-01-02"
CLIENT_ID = "spx-wheel-20200102-open"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return calibrate(CliRunner(), tmp_path_factory.mktemp("book") / "wheel.db", "2018-01-01", "2019-12-31")


def spx_wheel(db: Path, env: dict[str, str], *args: str) -> list[str]:
    return [sys.executable, "-m", "trading", *args, "--db", str(db)]


def test_kill_9_never_sends_twice_and_the_book_follows(template, tmp_path, httpserver):
    rng = random.Random(20261206)
    moments = []
    for n in range(ROUNDS):
        fake = FakeTastytrade()
        fake.latency, fake.bid = 0.06, 3.20  # fills on the second reprice: a flow of a dozen requests
        httpserver.clear()
        httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
        db = Path(shutil.copy(template, tmp_path / f"round{n}.db"))
        env = {**os.environ, "HOME": str(tmp_path), "SPX_WHEEL_TASTYTRADE_URL": httpserver.url_for("/").rstrip("/"),
               "SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN": fake.refresh_token,
               "SPX_WHEEL_TASTYTRADE_CLIENT_SECRET": fake.client_secret}
        trade = spx_wheel(db, env, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send", "--reprice-wait",
                          "0.02", "--reprice-step", "0.10")
        moment = rng.uniform(0.5, 2.0)
        killed = subprocess.Popen(trade, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(moment)
        killed.kill()
        killed.wait()
        moments.append((round(moment, 2), len(fake.log)))
        finished = subprocess.run(trade, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr
        sent = [e for e in fake.log if e["method"] == "POST" and e["path"] == f"/accounts/{ACCOUNT}/orders"]
        assert [json.loads(e["body"])["external-identifier"] for e in sent] == [CLIENT_ID], moments
        agreed = subprocess.run(spx_wheel(db, env, "reconcile", "--broker", "tastytrade", "--as-of", DAY), env=env,
                                capture_output=True, text=True, timeout=120)
        assert agreed.returncode == 0 and "agree: 1 open position(s)" in agreed.stdout, (moments, agreed.stdout)
    print(f"kill moments (seconds, requests the fake had seen): {moments}")


def test_two_runs_at_once_send_one_order(template, tmp_path, httpserver):
    """Two cron lines firing together take turns on the database's broker lock: the second finds the day done."""
    fake = FakeTastytrade()
    fake.latency, fake.bid = 0.05, 9.0
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
    db = Path(shutil.copy(template, tmp_path / "both.db"))
    env = {**os.environ, "HOME": str(tmp_path), "SPX_WHEEL_TASTYTRADE_URL": httpserver.url_for("/").rstrip("/"),
           "SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN": fake.refresh_token,
           "SPX_WHEEL_TASTYTRADE_CLIENT_SECRET": fake.client_secret}
    trade = spx_wheel(db, env, "trade", "--as-of", DAY, "--broker", "tastytrade", "--send")
    runs = [subprocess.Popen(trade, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert sum("ORDER FILLED" in out for out in outputs) == 1 and sum("Already ran" in out for out in outputs) == 1
    assert len([e for e in fake.log if e["method"] == "POST" and e["path"] == f"/accounts/{ACCOUNT}/orders"]) == 1


def test_the_broker_run_on_postgresql(postgres, runner, httpserver, monkeypatch):
    """The same flow on PostgreSQL, where the runs take turns on an advisory lock."""
    from tests.conftest import fresh_database
    from trading.cli import cli

    url = fresh_database(postgres, "broker_run")
    assert runner.invoke(cli, ["calibrate", "2018-01-01", "--end", "2019-12-31", "--deltas", "0.2", "--dtes", "30",
                               "--db", url]).exit_code == 0
    done = runner.invoke(cli, ["trade", "--as-of", DAY, "--broker", "paper", "--send", "--db", url])
    assert done.exit_code == 0 and "ORDER FILLED" in done.output, done.output
    agreed = runner.invoke(cli, ["reconcile", "--broker", "paper", "--as-of", DAY, "--db", url])
    assert agreed.exit_code == 0 and "agree: 1 open position(s)" in agreed.output
