"""The dependency direction and the purity of the core, checked on the source."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = ["trading/rules.py", "trading/strategy.py", "data/pricing.py", "data/contracts.py", "backtest/metrics.py",
        "backtest/types.py", "backtest/decision.py", "backtest/records.py", "backtest/spx_premium_backtest.py"]
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


@pytest.mark.parametrize("module", ["backtest/spx_premium_backtest.py", "backtest/decision.py", "trading/trader.py"])
def test_the_engine_and_the_trader_do_not_reimplement_the_rules(module):
    """Both sides reach the rules only through the Rules object and `settle`, never piece by piece."""
    source = (ROOT / module).read_text()
    for rule in ("seed_strike", "choose_expiry", "margin_per_contract", "entry_fill", "settlement_loss",
                 "settlement_value", "size_contracts", "0.15", "0.04"):
        assert rule not in source, f"{module} uses {rule}"


def test_the_kernel_compiles_the_rules_it_does_not_rewrite_them():
    """The grid kernel reaches every rule through trading.rules' own functions (compiled by numba): no formula of
    a rule, no constant of one, stands in its source."""
    source = (ROOT / "trading" / "grid_kernel.py").read_text()
    for formula in ("0.15", "0.10", "0.05", "0.01", "0.04", "round(max(", "def _tick(", "def _fill(", "def _margin(",
                    "round(price / step", "stop_loss * ", "(1 - "):
        assert formula not in source, f"grid_kernel.py holds {formula!r}"
    imported = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    assert "trading.rules" in imported


def run_time_nodes(tree: ast.AST):
    """Every node of a module but those under `if TYPE_CHECKING:` (imports for the type checker, never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in ast.walk(child))
            continue
        yield node
        yield from run_time_nodes(node)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports when it runs, at the top or inside a function, in full (a.b.c)."""
    found = set()
    for node in run_time_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def test_only_the_cli_package_imports_click():
    for path in python_files("trading", "backtest", "data", "db"):
        if "cli" not in path.relative_to(ROOT).parts:
            assert not {m for m in imported_modules(path) if m.split(".")[0] == "click"}, path


def test_the_cli_imports_no_sqlalchemy_and_no_concrete_source():
    for path in (ROOT / "trading" / "cli").glob("*.py"):
        modules = imported_modules(path)
        assert not {m for m in modules if m.split(".")[0] in ("sqlalchemy", "db", "alembic")}, path
        assert not modules & {"data.polygon", "data.polygon_source", "data.market", "data.free_daily"}, path


def test_the_live_trader_does_not_import_the_engine():
    for module in ("trading/trader.py", "trading/monitor.py", "trading/ledger.py", "trading/spx_wheel_system.py"):
        assert "backtest.spx_premium_backtest" not in imported_modules(ROOT / module), module


def test_command_bodies_are_short():
    """Each command parses, calls one function of the core and renders: at most 25 lines after its docstring."""
    for path in (ROOT / "trading" / "cli").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_cmd"):
                body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body
                assert body[-1].end_lineno - body[0].lineno + 1 <= 25, (path.name, node.name)


def test_a_new_knob_is_one_declaration():
    """A field added to the strategy's declaration gets its option, validation and stored form with no other
    edit; it enters the grid kernel's record of knobs by itself, and the guard names it until a rule reads it (or
    grid_kernel.NOT_IN_THE_LOOP says why it does not apply): shown on a copy of StrategyParams with one field
    more."""
    import dataclasses
    import json

    import click
    from click.testing import CliRunner

    from trading.cli.params import strategy_options_of
    from trading.grid_kernel import NOT_IN_THE_LOOP
    from trading.strategy import StrategyError, StrategyParams, knob

    extended = dataclasses.make_dataclass(
        "Extended", [("max_loss", float, knob(0.0, "Close when the loss reaches this share of equity (0: off).",
                                              low=0, high=1, unit="share", off=True))],
        bases=(StrategyParams,), frozen=True)
    seen = {}
    command = strategy_options_of(extended)(lambda **kw: seen.update(kw))
    result = CliRunner().invoke(click.command()(command), ["--max-loss", "5%", "--fee", "2"])
    assert result.exit_code == 0, result.output
    assert seen["max_loss"] == 0.05 and seen["fee"] == 2.0
    assert CliRunner().invoke(click.command()(command), ["--max-loss", "2"]).exit_code == 2
    params = extended(put_delta=0.2, dte_target=30, **seen)
    assert extended(**json.loads(json.dumps(params.stored()))) == params
    with pytest.raises(StrategyError, match="max loss must be in"):
        extended(put_delta=0.2, dte_target=30, max_loss=1.5)
    in_the_record = {f.name for f in dataclasses.fields(extended)} - set(NOT_IN_THE_LOOP)
    code = "".join((ROOT / "trading" / name).read_text() for name in ("grid_kernel.py", "rules.py"))
    unread = {name for name in in_the_record if f"p.{name}" not in code}
    assert unread == {"max_loss"}  # what test_grid_engine's guard refuses until a rule reads it
