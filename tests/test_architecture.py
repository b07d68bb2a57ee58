"""The dependency direction and the purity of the core, checked on the source."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = ["trading/rules.py", "data/pricing.py", "data/contracts.py", "backtest/metrics.py", "backtest/types.py",
        "backtest/spx_premium_backtest.py"]
FORBIDDEN_IN_PURE = {"requests", "sqlalchemy", "click", "db", "os", "logging", "time"}
CLOCK_CALLS = {"today", "now", "utcnow", "time"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", ["data", "backtest"])
def test_lower_packages_never_import_trading_db_or_click(package):
    for path in (ROOT / package).rglob("*.py"):
        assert not imports(path) & {"trading", "db", "click"}, path


@pytest.mark.parametrize("module", PURE)
def test_core_modules_do_no_io_and_read_no_clock(module):
    path = ROOT / module
    assert not imports(path) & FORBIDDEN_IN_PURE, module
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in CLOCK_CALLS:
            raise AssertionError(f"{module} reads the clock: .{node.attr}")
        if isinstance(node, ast.Name) and node.id in ("open", "print", "environ"):
            raise AssertionError(f"{module} does I/O: {node.id}")


@pytest.mark.parametrize("module", ["backtest/spx_premium_backtest.py", "trading/trader.py"])
def test_the_engine_and_the_trader_do_not_reimplement_the_rules(module):
    """Both sides reach the rules only through the Rules object and `settle`, never piece by piece."""
    source = (ROOT / module).read_text()
    for rule in ("seed_strike", "choose_expiry", "margin_per_contract", "entry_fill", "settlement_loss",
                 "settlement_value", "size_contracts", "0.15", "0.04"):
        assert rule not in source, f"{module} uses {rule}"
