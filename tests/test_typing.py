"""mypy --strict over everything but the click layer, cli.py and options.py (STYLE.md guideline 25)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRICT = ["data", "backtest", "db", *(str(p.relative_to(ROOT)) for p in (ROOT / "trading").glob("*.py")
                                     if p.name not in ("cli.py", "options.py", "__main__.py"))]


def test_mypy_strict():
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", *STRICT],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
