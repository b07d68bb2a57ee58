"""Crontab lines that fire at New York times whatever the machine's time zone."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from zoneinfo import ZoneInfo

from dateutil.tz import tzlocal

from data.errors import BadInput

NEW_YORK = ZoneInfo("America/New_York")
JOBS = [
    # (what, New York hour, minute, New York weekdays (ISO), script, the command it runs, log)
    ("settle and open: weekdays after the close", 16, 30, "1-5", "run_spx_daily.sh", "trade --update", "daily.log"),
    ("compare with the backtest: Fridays", 17, 0, "5", "check_spx_performance.sh", "check", "check.log"),
    ("recalibrate: first Saturday of the month", 9, 0, "6", "calibrate_spx_wheel.sh", "calibrate", "calibrate.log"),
]


def _shell(word: Path | str) -> str:
    """A path or a URL as one shell word in a crontab line: quoted, and % escaped (cron reads it as a newline)."""
    return shlex.quote(str(word)).replace("%", "\\%")


def local_zone() -> dt.tzinfo:
    """This machine's time zone, with its daylight-saving rules."""
    zone: dt.tzinfo = tzlocal()
    return zone


def local_times(hour: int, minute: int, zone: dt.tzinfo, year: int) -> list[tuple[int, int]]:
    """Every local (hour, minute) that New York's hour:minute falls on during the year (both DST sides)."""
    times = set()
    day = dt.date(year, 1, 1)
    while day.year == year:
        moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(zone)
        times.add((moment.hour, moment.minute))
        day += dt.timedelta(days=7)
    return sorted(times)


MARKET_HOURS = (dt.time(9, 30), dt.time(15, 45))  # an order needs the market open; SPXW expiring today stops at 16:00


def broker_time(text: str) -> dt.time:
    """HH:MM New York, inside market hours (BadInput otherwise)."""
    try:
        at = dt.datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise BadInput(f"--at takes HH:MM (New York time), got {text!r}") from None
    if not MARKET_HOURS[0] <= at <= MARKET_HOURS[1]:
        raise BadInput(f"--at {text}: orders need the market open, so pick a New York time from "
                       f"{MARKET_HOURS[0]:%H:%M} to {MARKET_HOURS[1]:%H:%M}")
    return at


def crontab_text(root: Path, zone: dt.tzinfo, year: int = 2027, installed: Path | None = None,
                 db: str | None = None, broker: str | None = None, at: dt.time | None = None) -> str:
    """Crontab lines for the checkout at `root` (its scripts, logs in root/logs), or, for a package installed
    without a checkout, for the `installed` spx-wheel command (logs in root). Each job is listed at every local
    time its New York time can fall on; a guard on the New York clock lets only the right one act (`trade` is
    idempotent, so even a double start would change nothing). `db`: the database every job names with --db.
    With a `broker`, the daily job runs at `at` inside market hours, on Cboe's delayed quotes of the moment, and
    sends its orders."""
    logs = root if installed is not None else root / "logs"
    if any(not part.isprintable() for part in (str(root), str(installed or ""), db or "")):
        raise BadInput("a path or database holds a line break or a control character: cron would read it as "
                       "more than one line; move the checkout or the database")
    lines = [f"# spx-wheel jobs for {installed or root}",
             "# Times are New York times: each job is listed at every local time that New York time can be,",
             f"# and acts only when the New York clock says so. Logs go to {logs}.",
             f"# Create the log folder once: mkdir -p {_shell(logs)}"]
    for what, hour, minute, weekdays, script, command, log in JOBS:
        extra = ""
        if broker is not None and script == "run_spx_daily.sh":
            assert at is not None
            what, hour, minute = f"orders through {broker}: weekdays in market hours", at.hour, at.minute
            extra = f" --source cboe --broker {broker} --send"
        lines.append(f"# {what}, {hour:02d}:{minute:02d} New York")
        day_test = "-le 5" if weekdays == "1-5" else f"= {weekdays}"
        day_guard = f' && [ "$(TZ=America/New_York date +\\%u)" {day_test} ]'
        if script.startswith("calibrate"):
            day_guard += ' && [ "$(TZ=America/New_York date +\\%d)" -le 7 ]'
        run = f"{_shell(installed)} {command}" if installed is not None else _shell(root / "scripts" / script)
        run += extra
        if db is not None:
            run += f" --db {_shell(db)}"
        for local_hour, local_minute in local_times(hour, minute, zone, year):
            lines.append(f'{local_minute} {local_hour} * * * [ "$(TZ=America/New_York date +\\%H)" = {hour:02d} ]'
                         f'{day_guard} && {run} >> {_shell(logs / log)} 2>&1')
    return "\n".join(lines)
