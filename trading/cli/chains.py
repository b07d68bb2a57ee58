"""Commands of the chain store: import, chains."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from trading.cli.params import DATE, command, context, db_option, json_option


def _progress(name: str, done: int, total: int) -> None:
    click.echo(f"importing {name} ({done}/{total})", err=True)


@command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--quote-date", type=DATE, help="The day the files' quotes are of: settles a Cboe download whose "
                                               "Date: line cannot be read (a file dated otherwise is refused).")
@db_option
@json_option
def import_cmd(files: tuple[Path, ...], quote_date: dt.date | None, db_url: str, as_json: bool) -> None:
    """Import option chain files as their vendors publish them into the chain store.

    Layouts are recognised from the file's header: OptionsDX EOD, Cboe DataShop Option EOD Summary (with or
    without Calcs), DeltaNeutral / historicaloptiondata L2, iVolatility RawIV, the Cboe delayed-quotes page
    download and Polygon flat-file option day aggregates, plain or gzip-compressed. A file is imported whole or
    not at all (a bad row is named by its line); a file imported before adds nothing. The store is the folder
    SPX_WHEEL_CHAINS, else `<database name>-chains` beside the database file.

    \b
    Example:
      spx-wheel import ~/data/spx_eod_2023*.txt ~/data/UnderlyingOptionsEODCalcs_2024-*.csv
    """
    from trading import spx_wheel_system as system
    from trading.cli import render

    results, refused = system.import_chains(context(db_url), list(files),
                                            _progress if sys.stderr.isatty() else lambda *_: None, quote_date)
    for line in refused:
        click.echo(line, err=True)
    click.echo(render.to_json(render.imports_json(results, refused)) if as_json else
               "\n".join(render.import_lines(results, refused)))
    if refused:
        sys.exit(2)


@command("chains")
@db_option
@json_option
def chains_cmd(db_url: str, as_json: bool) -> None:
    """What the chain store holds: the files imported, their days, expirations and rows, by layout.

    \b
    Example:
      spx-wheel chains
    """
    from trading import spx_wheel_system as system
    from trading.cli import render

    folder, imports, days = system.stored_chains(context(db_url))
    click.echo(render.to_json(render.chains_json(folder, imports, days)) if as_json else
               "\n".join(render.chains_lines(folder, imports, days)))


COMMANDS = [import_cmd, chains_cmd]
