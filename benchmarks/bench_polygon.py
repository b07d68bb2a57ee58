"""Calibrate 2022-01-01 .. 2025-12-31 against a local fake Polygon with 50 ms of latency per request.

Run: .venv/bin/python benchmarks/bench_polygon.py   (needs the test extras: ./scripts/test.sh installs them)
Reports requests and wall time cold (POLYGON_RATE_LIMIT=0, 8 workers) and warm (everything cached), split by
kind, against what the calibration actually traded.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fake_polygon import FakePolygon  # noqa: E402
from trading.cli import cli  # noqa: E402

KEY = "bench-key"
START, END = "2022-01-01", "2025-12-31"


def kind(path: str) -> str:
    if path.startswith("/v2/aggs/ticker/I:"):
        return "index series"
    if path.startswith("/v2/aggs/ticker/O:"):
        return "option bars"
    return "contract lists"


def main() -> None:
    fake = FakePolygon(KEY, latency=0.05)
    server = make_server("127.0.0.1", 0, Request.application(fake), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.update({"POLYGON_API_KEY": KEY, "POLYGON_BASE_URL": f"http://127.0.0.1:{server.server_port}",
                       "POLYGON_RATE_LIMIT": "0", "POLYGON_MAX_WORKERS": "8"})
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "bench.db")
        for label in ("cold", "warm"):
            before = len(fake.requests)
            wall, cpu = time.perf_counter(), time.process_time()
            result = runner.invoke(cli, ["calibrate", START, "--end", END, "--db", db, "--json"])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if result.exit_code != 0:
                raise SystemExit(result.output)
            made = Counter(kind(r["path"]) for r in fake.requests[before:])
            print(f"{label}: {sum(made.values())} requests {dict(made)}, {wall:.1f} s wall, {cpu:.1f} s CPU")
        doc = json.loads(result.stdout)
        run = runner.invoke(cli, ["export", "-", "--run", str(doc["run_id"]), "--db", db])
        tickers = {line.split(",")[2] for line in run.stdout.splitlines()[1:]}
        quality = doc["data_quality"]
        lists = Counter("expirations" if "expiration_date.gte" in r["query"] and "cursor" not in r["query"]
                        and r["query"].split("expiration_date.gte=")[1][:10]
                        != r["query"].split("expiration_date.lte=")[1][:10] else "strikes or pages"
                        for r in fake.requests if r["path"] == "/v3/reference/options/contracts")
        print(f"distinct contracts traded: {len(tickers)}; trade entries real {quality['real']}, "
              f"estimated {quality['estimated']}; contract lists {dict(lists)}")
    server.shutdown()


if __name__ == "__main__":
    main()
