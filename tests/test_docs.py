"""Every command has help with an example and is shown in the README, every console command of the docs runs as
shown, and the scripts stay thin."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.fake_daily_files import FakeDailyFiles
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


def console_commands(path):
    """Each `$ command` of the ```console blocks of a document, with the output lines shown under it."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", path.read_text(), re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
    return found


def words(line):
    return " ".join(line.split())


def test_every_console_command_in_the_docs_runs_as_shown(tmp_path, httpserver):
    """The README's and WORKFLOW's commands, run verbatim in order from the checkout, as a new user with an empty
    HOME and no key would (Cboe and FRED served by the fake on 127.0.0.1); each shown output line must appear."""
    httpserver.expect_request(re.compile(".*")).respond_with_handler(FakeDailyFiles())
    base = httpserver.url_for("/").rstrip("/")
    commands = console_commands(ROOT / "README.md") + console_commands(ROOT / "WORKFLOW.md")
    assert len(commands) >= 15
    script = ["set -u"] + [f"{command} > {tmp_path}/{i}.out 2> {tmp_path}/{i}.err; echo $? > {tmp_path}/{i}.rc"
                           for i, (command, _) in enumerate(commands)]
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPX_WHEEL_DB", "XDG_DATA_HOME", "POLYGON_API_KEY", "VIRTUAL_ENV")}
    env.update(HOME=str(home), SPX_WHEEL_CBOE_URL=base, SPX_WHEEL_FRED_URL=base)
    subprocess.run(["bash", "-c", "\n".join(script)], cwd=ROOT, env=env, check=True, timeout=600)
    for i, (command, shown) in enumerate(commands):
        code = int((tmp_path / f"{i}.rc").read_text())
        assert code in (0, 10, 11, 12, 13), (command, (tmp_path / f"{i}.err").read_text())
        printed = {words(line) for line in (tmp_path / f"{i}.out").read_text().splitlines()}
        for line in shown:
            if line.strip() and line.strip() != "...":
                assert words(line) in printed, (command, line)
