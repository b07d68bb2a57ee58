"""What every command hands the core: the database, the clock read once (New York), the environment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from db.session import open_database, shown_url

if TYPE_CHECKING:
    from data.market import MarketSource

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Context:
    """What every workflow gets from the command line."""

    db_url: str
    now: dt.datetime  # New York time, read once
    environ: Mapping[str, str]
    fetch_progress: Progress = lambda what, done, total: None

    @property
    def today(self) -> dt.date:
        return self.now.date()

    @property
    def shown_db(self) -> str:
        """The database as it may be printed: passwords hidden, the home folder as ~."""
        shown = shown_url(self.db_url)
        home = str(Path.home())
        return "~" + shown[len(home):] if shown.startswith(home + "/") else shown

    def open(self) -> sessionmaker[Session]:
        return open_database(self.db_url)

    def source(self, factory: sessionmaker[Session], name: str, offline: bool,
               underlying: str = "SPX") -> MarketSource:
        from trading.sources import SourceArgs, make_source  # the market data libraries: for commands that price

        return make_source(name, SourceArgs(offline, factory, self.now, self.environ, self.db_url,
                                            self.fetch_progress, underlying))
