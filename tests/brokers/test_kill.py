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
