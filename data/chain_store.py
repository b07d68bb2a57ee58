"""The chain store: imported option quotes (CHAIN_COLUMNS) as Parquet files in one folder per quote date, beside
the database, which records what was imported (db.models.ChainImport).

Parquet through pyarrow: columnar and compressed (a year of SPX and SPXW end-of-day quotes, several million rows,
takes tens of megabytes), read a column and a date range at a time with the filter pushed down, and pandas reads and
writes it natively. Each import writes its own file per day (named by the import's key), so an import is undone by
deleting its files, and two imports of one day are both kept (read back, the close snapshot wins).

The files and the database's record of them are one unit: a reader is given the keys of the committed imports and
sees only their files, so a half-written import, or one killed before its record was committed, is never read;
imports into one store take turns (a lock file), and each first sweeps away the files no record owns.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Callable, Collection
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pandas as pd

from data.chain_files import CHAIN_COLUMNS
from data.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

SNAPSHOT_RANK = {"close": 0, "intraday": 1, "overnight": 2}  # which of two quotes of one option a day keeps
PRICED = ["quote_date", "root", "expiry", "strike", "bid", "ask", "last", "delta"]  # what a backtest reads


def _schema() -> pa.Schema:
    import pyarrow as pa

    text, number, day = pa.string(), pa.float64(), pa.date32()
    kinds = {"quote_date": day, "expiry": day, "snapshot": text, "root": text, "right": text}
    return pa.schema([(c, kinds.get(c, number)) for c in CHAIN_COLUMNS])


def import_key(digest: str) -> str:
    """The name of an import's files: the start of its file's SHA-256."""
    return digest[:16]


class ChainStore:
    """Parquet files under `root`: root/YYYY/YYYY-MM-DD/<import key>.parquet. `committed`: the keys of the imports
    the database has recorded, the only files a reader sees."""

    def __init__(self, root: Path, committed: Collection[str]) -> None:
        self.root, self.committed = root, frozenset(committed)

    @contextmanager
    def writing(self, committed_now: Callable[[], Collection[str]]) -> Iterator[None]:
        """Hold the store's import lock (imports take turns; readers never wait) and sweep away what no committed
        import owns (the keys `committed_now` gives once the lock is held): the files of an import killed or
        failed before its record was committed."""
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock = os.open(self.root / ".import.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DataError(f"cannot write the chain store {self.root}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            owned = frozenset(committed_now())
            for path in [*self.root.glob("*/*/*.parquet"), *self.root.glob("*/*/*.partial")]:
                if path.suffix == ".partial" or path.stem not in owned:
                    path.unlink(missing_ok=True)
            yield
        finally:
            os.close(lock)  # releases the lock

    def _folder(self, day: dt.date) -> Path:
        return self.root / f"{day:%Y}" / day.isoformat()

    def add(self, chain: pd.DataFrame, key: str) -> list[Path]:
        """Write one file per quote date of `chain` (each written whole, then renamed into place)."""
        import pyarrow.parquet as pq

        written = []
        try:
            for day, quotes in chain[CHAIN_COLUMNS].groupby("quote_date", sort=True):
                folder = self._folder(day)  # type: ignore[arg-type]
                folder.parent.mkdir(mode=0o700, exist_ok=True)
                folder.mkdir(mode=0o700, exist_ok=True)
                path = folder / f"{key}.parquet"
                partial = path.with_suffix(".partial")
                pq.write_table(as_table(quotes), partial, compression="zstd")
                os.chmod(partial, 0o600)
                os.replace(partial, path)
                written.append(path)
        except OSError as exc:
            self.remove(written)
            raise DataError(f"cannot write the chain store {self.root}: {exc.strerror or exc}") from None
        return written

    @staticmethod
    def remove(paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    def files(self, start: dt.date, end: dt.date) -> list[Path]:
        """The committed imports' files of the quote dates start..end."""
        found = []
        for year in range(start.year, end.year + 1):
            folder = self.root / str(year)
            if not folder.is_dir():
                continue
            for day in sorted(folder.iterdir()):
                if start.isoformat() <= day.name <= end.isoformat():
                    found += sorted(p for p in day.glob("*.parquet") if p.stem in self.committed)
        return found

    def days(self) -> list[dt.date]:
        """Every quote date a committed import holds."""
        if not self.root.is_dir():
            return []
        return sorted(dt.date.fromisoformat(day.name) for year in self.root.iterdir() if year.is_dir()
                      for day in year.iterdir() if any(p.stem in self.committed for p in day.glob("*.parquet")))

    def puts(self, start: dt.date, end: dt.date, horizon: int | None = None, underlying: str = "SPX") -> pa.Table:
        """The stored puts on `underlying` (SPX: every root but XSP) quoted start..end expiring at most `horizon`
        days after their quote (None: any), one row per option and day (the close snapshot where a day has
        several), as an Arrow table: the engine takes its columns as arrays, never as Python objects."""
        import pyarrow as pa
        import pyarrow.dataset as ds

        xsp = ds.field("root") == "XSP"
        where = (ds.field("right") == "P") & (xsp if underlying == "XSP" else ~xsp)
        if horizon is not None:
            days = ds.field("expiry").cast(pa.int32()) - ds.field("quote_date").cast(pa.int32())
            where = where & (days <= horizon)
        return _read(self.files(start, end), where, PRICED)

    def each_day(self) -> Iterator[pd.DataFrame]:
        """Every stored day's whole chain (calls too), a day at a time."""
        for day in self.days():
            yield _read(self.files(day, day), None, CHAIN_COLUMNS).to_pandas()


def as_table(chain: pd.DataFrame | None = None) -> pa.Table:
    """A chain (CHAIN_COLUMNS; none: an empty one) as the store's Arrow table."""
    import pyarrow as pa

    frame = pd.DataFrame(columns=CHAIN_COLUMNS) if chain is None else chain[CHAIN_COLUMNS]
    return pa.Table.from_pandas(frame.reset_index(drop=True), schema=_schema(), preserve_index=False)


def _read(files: list[Path], where: Any, columns: list[str]) -> pa.Table:
    import pyarrow.dataset as ds

    if not files:
        return as_table().select(columns)
    twice = len({f.parent for f in files}) < len(files)
    wanted = columns if not twice else CHAIN_COLUMNS
    table = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=wanted, filter=where)
    if not twice:
        return table
    chain = table.to_pandas()  # a day imported twice: keep one quote an option, the close snapshot's first
    chain["rank"] = chain["snapshot"].map(SNAPSHOT_RANK).fillna(3)
    chain = (chain.sort_values("rank", kind="stable")
             .drop_duplicates(["quote_date", "root", "expiry", "right", "strike"]).drop(columns="rank"))
    return as_table(chain).select(columns)


def summary(chain: pd.DataFrame) -> dict[str, object]:
    """What an import holds: rows, days, expirations, first and last day."""
    days = np.unique(chain["quote_date"].to_numpy())
    return {"rows": len(chain), "days": len(days), "expiries": int(chain["expiry"].nunique()),
            "first_day": days[0], "last_day": days[-1]}
