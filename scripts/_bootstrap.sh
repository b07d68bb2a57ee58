# Sourced by the scripts in this folder: creates the project's .venv on first use (from nothing but python3),
# reinstalls when pyproject.toml changes, and puts .venv/bin first on PATH. Progress goes to stderr.
# SPX_WHEEL_EXTRAS=test also installs the test tools.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
SUM="$(cksum < "$ROOT/pyproject.toml" | cut -d' ' -f1)"
STAMP="$VENV/.installed-$SUM${SPX_WHEEL_EXTRAS:+-$SPX_WHEEL_EXTRAS}"

if [ ! -f "$STAMP" ]; then
    command -v python3 >/dev/null || { echo "spx-wheel: python3 (3.10 or newer) is required" >&2; exit 1; }
    echo "spx-wheel: installing into $VENV (first run only) ..." >&2
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2
    LOG="$VENV/install.log"
    if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
           "$VENV/bin/python" -m pip install --disable-pip-version-check \
               -e "$ROOT${SPX_WHEEL_EXTRAS:+[$SPX_WHEEL_EXTRAS]}"; } >"$LOG" 2>&1; then
        tail -n 20 "$LOG" >&2
        echo "spx-wheel: installation failed (full log: $LOG)" >&2
        exit 1
    fi
    echo "spx-wheel: compiling the grid engine (once) ..." >&2
    "$VENV/bin/python" -c "from trading.grid_engine import warm; warm()" >>"$LOG" 2>&1 || true
    find "$VENV" -maxdepth 1 -name '.installed-*' ! -name ".installed-$SUM*" -delete
    touch "$STAMP" "$VENV/.installed-$SUM"
fi
export PATH="$VENV/bin:$PATH"
