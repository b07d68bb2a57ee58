"""The chain store at full size: import speed and memory, and a one-year backtest on chains against the same
backtest on the bundled source.

Run: .venv/bin/python benchmarks/bench_chains.py [YEAR]. Generates a year (default 2023) of SPX end-of-day chains in
the OptionsDX layout, one file a month as OptionsDX publishes them: every expiration data/listings.py lists on each
session (dailies, weeklies, monthlies, quarterlies, end-of-month) with 5-point strikes within 12% of the index and
25-point ones down to half of it, a call and a put a line, priced by the estimator off the real index and VIX
closes. Then, each a fresh process: `spx-wheel import` of the twelve files (rows a second, peak memory), and
`backtest --delta 0.2 --dte 45 --strike-rule bs-delta` over the year on `--source chains` and `--source embedded`.
Targets (issue 9): at least 200,000 rows/s, under 1 GB, chains at most twice the bundled source's time.
"""

from __future__ import annotations

import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from data.calendar import nyse_sessions
from data.dividends import dividend_yield
from data.listings import listed_expirations
from data.market import load_bundled
from data.pricing import estimate_put, years_to_settlement

COMMAND = [str(Path(sys.executable).parent / "spx-wheel")]
HEADER = ("[QUOTE_UNIXTIME], [QUOTE_READTIME], [QUOTE_DATE], [QUOTE_TIME_HOURS], [UNDERLYING_LAST], [EXPIRE_DATE], "
          "[EXPIRE_UNIX], [DTE], [C_DELTA], [C_GAMMA], [C_VEGA], [C_THETA], [C_RHO], [C_IV], [C_VOLUME], [C_LAST], "
          "[C_SIZE], [C_BID], [C_ASK], [STRIKE], [P_BID], [P_ASK], [P_SIZE], [P_LAST], [P_DELTA], [P_GAMMA], "
          "[P_VEGA], [P_THETA], [P_RHO], [P_IV], [P_VOLUME], [STRIKE_DISTANCE], [STRIKE_DISTANCE_PCT]")


def day_lines(day: dt.date, spot: float, vix: float, vix3m: float, rate: float) -> pd.DataFrame:
    expiries = listed_expirations(day, day + dt.timedelta(days=400), False)
    near = np.arange(np.ceil(spot * 0.88 / 5) * 5, spot * 1.12, 5.0)
    far = np.arange(np.ceil(spot * 0.5 / 25) * 25, near[0], 25.0)
    strikes = np.concatenate([far, near])
    expiry = np.repeat(np.array(expiries, dtype=object), len(strikes))
    strike = np.tile(strikes, len(expiries))
    days = np.array([(e - day).days for e in expiry], dtype=float)
    t = years_to_settlement(days, False)
    q = dividend_yield(day)
    put, iv, delta = estimate_put(spot, strike, t, rate, q, vix, vix3m)
    call = put + spot * np.exp(-q * t) - strike * np.exp(-rate * t)
    half = 0.05 + 0.01 * put
    frame = pd.DataFrame({
        "unix": 0, "read": f"{day} 16:00", "date": str(day), "hours": "16.000000", "spot": f"{spot:.2f}",
        "expire": [str(e) for e in expiry], "expire_unix": 0, "dte": days, "c_delta": np.round(1 + delta, 5),
        "c_gamma": 0.0, "c_vega": 0.0, "c_theta": 0.0, "c_rho": 0.0, "c_iv": np.round(iv, 5), "c_volume": 0,
        "c_last": 0.0, "c_size": "1 x 1", "c_bid": np.round(np.maximum(call - half, 0), 2),
        "c_ask": np.round(call + half, 2), "strike": strike, "p_bid": np.round(np.maximum(put - half, 0), 2),
        "p_ask": np.round(put + half, 2), "p_size": "1 x 1", "p_last": 0.0, "p_delta": np.round(delta, 5),
        "p_gamma": 0.0, "p_vega": 0.0, "p_theta": 0.0, "p_rho": 0.0, "p_iv": np.round(iv, 5), "p_volume": 0,
        "distance": np.round(np.abs(strike - spot), 2), "distance_pct": np.round(np.abs(strike / spot - 1), 3)})
    return frame


def generate(year: int, folder: Path) -> tuple[list[Path], int]:
    history = load_bundled()
    files, options = [], 0
    for month in range(1, 13):
        last = (dt.date(year, month, 28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        frames = []
        for day in nyse_sessions(dt.date(year, month, 1), last):
            i = history.index_of(day)
            frames.append(day_lines(day, float(history.spx_close[i]), float(history.vix[i]),
                                    float(history.vix3m[i]), float(history.rate[i])))
        month_frame = pd.concat(frames, ignore_index=True)
        path = folder / f"spx_eod_{year}{month:02d}.txt"
        with open(path, "w") as handle:
            handle.write(HEADER + "\n")
            month_frame.to_csv(handle, header=False, index=False, sep=",", lineterminator="\n")
        files.append(path)
        options += 2 * len(month_frame)
    return files, options


def timed(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident memory in MB of the largest child so far: the first is the import) of one
    fresh spx-wheel process."""
    started = time.perf_counter()
    done = subprocess.run([*COMMAND, *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> int:
    year = int(sys.argv[1]) if len(sys.argv) > 1 else 2023
    folder = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    files, options = generate(year, folder)
    size = sum(f.stat().st_size for f in files) / 1e6
    print(f"generated {options:,} options in {len(files)} OptionsDX files ({size:,.0f} MB) in "
          f"{time.perf_counter() - started:.0f} s")
    db = ["--db", str(folder / "bench.db")]
    seconds, peak = timed(["import", *map(str, files), *db])
    print(f"import: {seconds:.1f} s, {options / seconds:,.0f} rows/s, peak memory {peak:,.0f} MB "
          "(target: 200,000 rows/s, under 1,024 MB)")
    window = ["--start", f"{year}-01-01", "--end", f"{year}-12-31", "--delta", "0.2", "--dte", "45",
              "--strike-rule", "bs-delta"]
    results = {}
    for source in ("embedded", "chains"):
        runs = [timed(["backtest", *window, "--source", source, *db]) for _ in range(3)]
        results[source] = sorted(r[0] for r in runs)[1]
        print(f"backtest {year} on {source}: median of 3 {results[source]:.2f} s")
    print(f"chains / embedded: {results['chains'] / results['embedded']:.2f}x (target: at most 2x)")
    store = sum(p.stat().st_size for p in (folder / "bench-chains").rglob("*.parquet")) / 1e6
    print(f"chain store on disk: {store:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
