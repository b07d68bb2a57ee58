"""Every command has help with an example and is shown in the README, every console command of the docs runs as
shown (a JSON sample key by key), and the scripts stay thin."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.fake_daily_files import FakeDailyFiles
from tests.fake_tastytrade import FakeTastytrade
from trading.cli import cli

ROOT = Path(__file__).resolve().parents[1]
BROKER_PATHS = ("/oauth/", "/customers/", "/accounts/")


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


def json_sample(lines):
    """A JSON document as the docs show it, `...` marking left-out rows or keys, parsed without them."""
    text = " ".join(lines)
    text = re.sub(r",\s*\.\.\.(?=\s*[\]}])", "", text)  # `{..., ...}` and `[..., ...]`: the tail left out
    text = re.sub(r"\.\.\.\s*,", "", text)  # `..., "key": v`: keys left out in the middle
    return json.loads(text)


def matches(shown, printed, where="$"):
    """Every value the docs show is the one printed: objects by their keys, lists by their first items, numbers at
    the precision shown."""
    if isinstance(shown, dict):
        assert isinstance(printed, dict), where
        for key, value in shown.items():
            assert key in printed, f"{where}.{key} is not printed"
            matches(value, printed[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(printed, list) and len(printed) >= len(shown), where
        for i, value in enumerate(shown):
            matches(value, printed[i], f"{where}[{i}]")
    elif isinstance(shown, float) and not isinstance(printed, bool) and isinstance(printed, (int, float)):
        decimals = len(repr(shown).partition(".")[2])
        assert round(printed, decimals) == shown, f"{where}: shown {shown}, printed {printed}"
    else:
        assert shown == printed and type(shown) is type(printed), f"{where}: shown {shown!r}, printed {printed!r}"


def test_json_samples_are_checked_key_by_key():
    shown = json_sample(['{"a": 0.78, "b": [{"c": 1, ..., "d": true}, ...], "e": "x"}'])
    matches(shown, {"a": 0.7777, "b": [{"c": 1, "z": 2, "d": True}, {}], "e": "x", "f": 0})
    for printed in ({"a": 0.77, "b": [{"c": 1, "d": True}], "e": "x"}, {"a": 0.78, "b": [{"c": 1.0, "d": True}],
                    "e": "x"}, {"a": 0.78, "b": [{"c": 1}], "e": "x"}, {"a": 0.78, "b": [], "e": "x"}):
        with pytest.raises(AssertionError):
            matches(shown, printed)


def test_every_console_command_in_the_docs_runs_as_shown(tmp_path, httpserver):
    """The README's and WORKFLOW's commands, run verbatim in order from the checkout, as a new user with an empty
    HOME and no key would (Cboe, FRED and Tastytrade's sandbox served by fakes on 127.0.0.1); each shown output
    line must appear."""
    daily, broker = FakeDailyFiles(), FakeTastytrade("your-refresh-token", "your-client-secret")
    httpserver.expect_request(re.compile(".*")).respond_with_handler(
        lambda request: broker(request) if request.path.startswith(BROKER_PATHS) else daily(request))
    base = httpserver.url_for("/").rstrip("/")
    commands = console_commands(ROOT / "README.md") + console_commands(ROOT / "WORKFLOW.md")
    assert len(commands) >= 15
    script = ["set -u"] + [f"{command} > {tmp_path}/{i}.out 2> {tmp_path}/{i}.err; echo $? > {tmp_path}/{i}.rc"
                           for i, (command, _) in enumerate(commands)]
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPX_WHEEL_DB", "XDG_DATA_HOME", "POLYGON_API_KEY", "VIRTUAL_ENV")}
    env.update(HOME=str(home), SPX_WHEEL_CBOE_URL=base, SPX_WHEEL_FRED_URL=base, SPX_WHEEL_TASTYTRADE_URL=base)
    subprocess.run(["bash", "-c", "\n".join(script)], cwd=ROOT, env=env, check=True, timeout=600)
    for i, (command, shown) in enumerate(commands):
        code = int((tmp_path / f"{i}.rc").read_text())
        assert code in (0, 10, 11, 12, 13), (command, (tmp_path / f"{i}.err").read_text())
        output = (tmp_path / f"{i}.out").read_text()
        if "--json" in command.split():
            matches(json_sample(shown), json.loads(output))
            continue
        printed = {words(line) for line in output.splitlines()}
        for line in shown:
            if line.strip() and line.strip() != "...":
                assert words(line) in printed, (command, line)


def test_the_crontab_sample_is_what_cron_prints_on_a_utc_machine():
    from zoneinfo import ZoneInfo

    from trading.schedule import crontab_text

    text = (ROOT / "README.md").read_text()
    sample = text.split("On a UTC machine, for a checkout in /opt/spx-wheel, the daily job reads:")[1]
    shown = re.search(r"```\n(.*?)```", sample, re.S).group(1).splitlines()
    printed = crontab_text(Path("/opt/spx-wheel"), ZoneInfo("UTC")).splitlines()
    assert shown and all(line in printed for line in shown)
