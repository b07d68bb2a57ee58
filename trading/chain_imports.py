"""Chain files into the chain store, each recorded in the database by the hash of its bytes: a file imported
again (under any name) adds nothing, and a file that fails adds nothing either."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from data.chain_store import ChainStore, import_key, summary
from data.errors import BadInput
from db.models import ChainImport
from db.session import transaction


@dataclass(frozen=True)
class ImportResult:
    """One file's import: what it holds, and whether it was new."""

    file: str
    layout: str
    rows: int
    days: int
    expiries: int
    first_day: dt.date
    last_day: dt.date
    new: bool
    partial_days: int = 0  # days holding fewer expirations than were listed (known for a file imported now)


def _result(row: ChainImport, new: bool) -> ImportResult:
    return ImportResult(row.file, row.layout, row.rows, row.days, row.expiries, row.first_day, row.last_day, new)


def committed_keys(factory: sessionmaker[Session]) -> set[str]:
    """The keys of the imports the database has committed."""
    with transaction(factory) as session:
        return {import_key(d) for d in session.scalars(select(ChainImport.sha256))}


def committed_store(factory: sessionmaker[Session], root: Path) -> ChainStore:
    """The chain store at `root` as the database has it: only the files of committed imports are read."""
    return ChainStore(root, committed_keys(factory))


def store_chain(factory: sessionmaker[Session], root: Path, chain: pd.DataFrame, digest: str, name: str,
                layout: str, now: dt.datetime) -> ImportResult:
    """Store a chain read from a file (or a snapshot) whose bytes hash to `digest`, unless it is stored already.
    The files are written, then the record committed, while the store's lock is held: a reader sees the import
    whole or not at all, and a kill at any moment leaves files the next import sweeps away."""
    store, written = ChainStore(root, ()), []
    with store.writing(lambda: committed_keys(factory)):
        try:
            with transaction(factory, write=True) as session:  # committed on leaving, inside the lock
                known = session.scalar(select(ChainImport).where(ChainImport.sha256 == digest))
                if known is not None:
                    return _result(known, new=False)
                written = store.add(chain, import_key(digest))
                row = ChainImport(sha256=digest, file=name[-500:], layout=layout, imported_at=now,
                                  **summary(chain))
                session.add(row)
                session.flush()
                return replace(_result(row, new=True), partial_days=partial_days(chain))
        except BaseException:
            store.remove(written)
            raise


def import_files(factory: sessionmaker[Session], root: Path, paths: list[Path], now: dt.datetime,
                 progress: Callable[[str, int, int], None] = lambda name, done, total: None,
                 quote_date: dt.date | None = None) -> tuple[list[ImportResult], list[str]]:
    """Import each file on its own: (the files imported or already held, one line for each refused).
    `quote_date`: the day every file's quotes are of (data.chain_files.parse_chain)."""
    from data.chain_files import file_bytes, parse_chain, shown_path

    results, refused = [], []
    for done, path in enumerate(paths, start=1):
        progress(path.name, done, len(paths))
        try:
            data = file_bytes(path)
            digest = hashlib.sha256(data).hexdigest()
            with transaction(factory) as session:
                known = session.scalar(select(ChainImport).where(ChainImport.sha256 == digest))
                if known is not None:
                    results.append(_result(known, new=False))
                    continue
            layout, chain = parse_chain(data, shown_path(path), quote_date, now.date())
        except BadInput as exc:
            refused.append(str(exc))
            continue
        results.append(store_chain(factory, root, chain, digest, path.name, layout, now))
    return results, refused


def partial_days(chain: pd.DataFrame, reach: int = 45) -> int:
    """Quote days of an SPX chain that lack an expiration the calendar lists within `reach` days: a partial
    listing (the calendar's horizons are the short ones, so a whole chain holds every one)."""
    from data.listings import listed_expirations

    spx = chain[chain["root"] != "XSP"]
    held: dict[dt.date, set[dt.date]] = {}
    for day, expiry in zip(spx["quote_date"], spx["expiry"], strict=True):
        held.setdefault(day, set()).add(expiry)
    return sum(bool(set(listed_expirations(day, day + dt.timedelta(days=reach), False)) - expiries)
               for day, expiries in held.items())


def stored_imports(session: Session) -> list[ChainImport]:
    return list(session.scalars(select(ChainImport).order_by(ChainImport.first_day, ChainImport.id)))
