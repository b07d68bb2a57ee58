"""Engine and session scope. Migrations are applied when a database is opened."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError, SQLAlchemyError
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


SCHEMA_HEAD = "0004"  # the newest migration in db/migrations/versions (a test holds the two together)


def _reason(exc: SQLAlchemyError) -> str:
    return " ".join(str(getattr(exc, "orig", exc)).split())  # drivers' messages can span lines


def schema_version(engine: Engine) -> str | None:
    """The database's Alembic revision; None for a database without one (new, or not ours)."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("select version_num from alembic_version")).scalar()
    except OperationalError:
        return None  # no such table
    except ProgrammingError:
        return None  # PostgreSQL: no such table


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (existing rows are kept)."""
    from alembic import command  # 0.2 s to import: only when the schema is behind
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "db:migrations")
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
                           f"{_reason(exc)}") from exc


def open_database(url: str) -> sessionmaker[Session]:
    """An engine on the database, its schema brought up to date (nothing is asked of Alembic when it is)."""
    engine = make_engine(url)
    try:
        version = schema_version(engine)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open database {shown_url(url)}: {_reason(exc)}") from exc
    if version is not None and version > SCHEMA_HEAD:
        raise StorageError(f"database {shown_url(url)} has schema {version}, newer than this spx-wheel knows "
                           f"({SCHEMA_HEAD}): upgrade spx-wheel")
    if version != SCHEMA_HEAD:
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
