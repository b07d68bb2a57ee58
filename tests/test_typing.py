"""mypy --strict over the whole package, the click layer included."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRICT = ["data", "backtest", "db", "trading"]  # every package, no file left out


def test_mypy_strict():
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", *STRICT],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
