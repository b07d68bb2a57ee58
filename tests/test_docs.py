"""Every command has help with an example and is shown in the README; the scripts stay thin."""

from pathlib import Path

import pytest

from trading.cli import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_has_help_with_an_example_and_is_in_the_readme(name):
    command = cli.commands[name]
    assert command.help and "Example:" in command.help
    assert f"spx-wheel {name}" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("script,command", [("calibrate_spx_wheel.sh", "calibrate"),
                                            ("run_spx_daily.sh", "trade --update"),
                                            ("check_spx_performance.sh", "check")])
def test_scripts_only_bootstrap_and_exec(script, command):
    text = (ROOT / "scripts" / script).read_text()
    code = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert code == ["set -euo pipefail", 'source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"',
                    f'exec spx-wheel {command} "$@"']
    assert "set -x" not in (ROOT / "scripts" / "_bootstrap.sh").read_text()
