"""Fit the VIX skew/term volatility model on real SPXW quotes and report its premium error.

Run: python -m data.fit_vol_model [SPX_2018.csv.gz]. Uses the 10-35-delta puts (by the vendor's delta) with a
positive bid, priced at the bid/ask mid, on the 40 sessions of Jan-Feb 2018. Prints the in-sample fit and a
hold-out check (fit on January, measured on February, which holds the 2018-02-05 volatility spike).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from data.market import load_bundled
from data.pricing import DIVIDEND_YIELD, FITTED, VolModel, estimate_put

DEFAULT_FILE = Path(__file__).parent / "raw" / "SPX_2018.csv.gz"


def load_puts(path: Path = DEFAULT_FILE) -> pd.DataFrame:
    """Real 10-35-delta SPXW puts with their market inputs from the bundled history."""
    raw = pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True)
    raw.columns = [c.strip() for c in raw.columns]
    puts = raw[(raw["type"] == "put") & (raw["bid"] > 0) & (raw["ask"] >= raw["bid"])].copy()
    puts = puts[puts["delta"].abs().between(0.10, 0.35)]
    puts["quote"] = pd.to_datetime(puts["quotedate"], format="%m/%d/%Y").dt.date
    puts["expiry"] = pd.to_datetime(puts["expiration"], format="%m/%d/%Y").dt.date
    puts["days"] = [(e - q).days for e, q in zip(puts["expiry"], puts["quote"], strict=True)]
    puts = puts[puts["days"] > 0]
    history = load_bundled()
    rows = [history.index_of(d) for d in puts["quote"]]
    puts["spot"] = history.spx_close[rows]
    puts["vix"] = history.vix[rows]
    puts["vix3m"] = history.vix3m[rows]
    puts["rate"] = history.rate[rows]
    puts["mid"] = (puts["bid"] + puts["ask"]) / 2.0
    return puts.reset_index(drop=True)


def premium_errors(puts: pd.DataFrame, model: VolModel) -> np.ndarray:
    """Model premium / real mid - 1 for every put."""
    price, _, _ = estimate_put(puts["spot"].to_numpy(), puts["strike"].to_numpy(float), puts["days"].to_numpy() / 365.0,
                               puts["rate"].to_numpy(), puts["vix"].to_numpy(), puts["vix3m"].to_numpy(),
                               DIVIDEND_YIELD, model)
    errors: np.ndarray = np.asarray(price) / puts["mid"].to_numpy() - 1.0
    return errors


def fit(puts: pd.DataFrame) -> VolModel:
    def loss(x: np.ndarray) -> float:
        model = VolModel(c=x[0], psi_1m=x[1], alpha=x[2])
        return float(np.mean(np.abs(np.log1p(premium_errors(puts, model)))))

    best = minimize(loss, x0=[1.2, 0.95, 0.45], method="Nelder-Mead",
                    bounds=[(1.0, 1.6), (0.3, 2.0), (0.0, 1.0)], options={"xatol": 1e-4, "fatol": 1e-6})
    return VolModel(*(round(float(v), 3) for v in best.x))


def describe(errors: np.ndarray) -> str:
    a = np.abs(errors)
    return (f"n={a.size} median {np.median(a):.1%} mean {a.mean():.1%} p90 {np.quantile(a, 0.9):.1%} "
            f"bias {np.median(errors):+.1%}")


def main(argv: list[str]) -> int:
    puts = load_puts(Path(argv[0]) if argv else DEFAULT_FILE)
    january = puts[[q.month == 1 for q in puts["quote"]]]
    february = puts[[q.month == 2 for q in puts["quote"]]]
    print("flat VIX vol        ", describe(premium_errors(puts, VolModel(c=1.0, psi_1m=0.0, alpha=0.0))))
    print("DOMAIN defaults     ", describe(premium_errors(puts, VolModel())))
    model = fit(puts)
    print(f"fitted all sessions  {model}:", describe(premium_errors(puts, model)))
    held = fit(january)
    print(f"fitted on January    {held}: February", describe(premium_errors(february, held)))
    print(f"in use (FITTED)      {FITTED}:", describe(premium_errors(puts, FITTED)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
