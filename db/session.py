"""Engine and session scope. Migrations are applied when a database is opened."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from data.errors import SpxWheelError


class StorageError(SpxWheelError):
    """The database cannot be opened, migrated or written."""


def shown_url(url: str) -> str:
    """A database URL or path fit to print: any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True) if "://" in url else url
    except ArgumentError:
        return "(a malformed database URL)"


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL or a plain file path (taken as SQLite); SQLite gets foreign keys on."""
    try:
        parsed = make_url(url) if "://" in url else make_url(f"sqlite:///{Path(url).expanduser()}")
    except ArgumentError as exc:
        raise StorageError(f"not a database URL or path: {shown_url(url)}") from exc
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        _create_private(Path(parsed.database))
    # one short command per process: no pool, so every connection closes with its session
    engine = create_engine(parsed, poolclass=NullPool,
                           connect_args={"timeout": 30} if parsed.drivername.startswith("sqlite") else {})
    if parsed.drivername.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (SQLite itself would follow the umask)."""
    if not path.parent.is_dir():
        raise StorageError(f"cannot open database {path}: folder {path.parent} does not exist")
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageError(f"cannot create database {path}: {exc.strerror}") from exc


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (existing rows are kept)."""
    config = Config()
    config.set_main_option("script_location", "db:migrations")
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", exc)).split())  # drivers' messages can span lines
        raise StorageError(f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
                           f"{reason}") from exc


def open_database(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    try:
        with factory.begin() as session:
            yield session
    except SQLAlchemyError as exc:
        raise StorageError(f"database error: {' '.join(str(getattr(exc, 'orig', exc)).split())}") from exc
