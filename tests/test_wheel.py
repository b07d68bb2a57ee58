"""The wheel ships every file the packages hold: code, migrations and the vendored data the code reads (a
`pip install` runs outside the checkout). scripts/check_wheel.sh, run by CI, installs it and runs the commands."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("trading", "backtest", "data", "db")


def checkout_files(*paths):
    """The files git tracks or would track (not ignored), as paths relative to the checkout."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *paths], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return {name for name in listed.stdout.splitlines() if (ROOT / name).is_file()}


def test_the_wheel_holds_every_file_of_the_packages(tmp_path):
    source = tmp_path / "source"  # a clean copy: setuptools would reuse a stale build/ folder in the checkout
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source)], check=True,
                   capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("spx_wheel-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = checkout_files(*PACKAGES)
    assert {"data/raw/cboe_put_index_yearly.csv.gz", "data/raw/SPX_2018.csv.gz", "trading/cli/__init__.py"} <= wanted
    assert wanted - shipped == set()
