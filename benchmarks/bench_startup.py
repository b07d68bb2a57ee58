"""Wall time of the commands users wait on every day, each a fresh process as cron starts it.

Run: .venv/bin/python benchmarks/bench_startup.py [RUNS]. Prints the best and the median of RUNS runs per command
(default 7) on a database calibrated on 2015-2019 and traded through 2020-06-30 (so that positions and check
have something to show). `trade` acts for one new day on a fresh copy of that database each run.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [str(Path(sys.executable).parent / "spx-wheel")]
TARGETS = {"--help": 0.3, "--version": 0.3, "params": 0.3, "cron": 0.3, "positions": 0.3,
           "check --as-of 2020-06-30": 0.3, "trade --as-of 2020-07-01": 0.5}


def run(args: list[str], db: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([*COMMAND, *args, *(["--db", str(db)] if not args[0].startswith("--") and args[0] != "cron"
                                              else [])], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 10, 11, 12, 13):
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
    return elapsed


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    folder = Path(tempfile.mkdtemp())
    db = folder / "bench.db"
    for setup in (["calibrate", "2015-01-01", "--end", "2019-12-31"], ["replay", "2020-01-02", "2020-06-30"]):
        subprocess.run([*COMMAND, *setup, "--db", str(db)], check=True, capture_output=True)
    print(f"{'command':28} {'best':>7} {'median':>7} {'target':>7}")
    for name, target in TARGETS.items():
        times = []
        for _ in range(runs):
            copy = folder / "copy.db"
            shutil.copy(db, copy)
            times.append(run(name.split(), copy))
        print(f"{name:28} {min(times):7.3f} {statistics.median(times):7.3f} {target:7.1f}")
    shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
