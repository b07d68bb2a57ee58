"""Engine and session scope. A database's schema is brought up to date when it is opened, in one transaction
(the DDL included) under a lock, so that a crash leaves it as it was and simultaneous first opens take turns."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool, StaticPool

from data.errors import SpxWheelError

SCHEMA_HEAD = "0009"  # the newest migration in db/migrations/versions (a test holds the two together)
SECRET_QUERY_KEYS = {"password", "passwd", "pwd", "sslpassword"}
MIGRATION_LOCK = 0x5358_5700  # a PostgreSQL advisory lock number: "SPXW"
DRIVERS = {"postgresql": 'the PostgreSQL driver: .venv/bin/pip install -e ".[postgres]" and use postgresql+psycopg://',
           "mysql": "a MySQL driver (spx-wheel is tested on SQLite and PostgreSQL only)"}


class StorageError(SpxWheelError):
    """The database cannot be opened, migrated or written."""


def _parse(url: str) -> URL:
    """A SQLAlchemy URL, or a plain path as the SQLite file of exactly that name (built, not parsed, so that ?,
    %, # and spaces stay part of the name)."""
    return make_url(url) if "://" in url else URL.create("sqlite", database=str(Path(url).expanduser()))


def shown_url(url: str) -> str:
    """A database URL or path fit to print: any password, in the user part or the query, replaced by ***."""
    if "://" not in url:
        return url
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "(a malformed database URL)"
    hidden = {k: "***" if k.lower() in SECRET_QUERY_KEYS else v for k, v in parsed.query.items()}
    return parsed.set(query=hidden).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def _in_memory(parsed: URL) -> bool:
    return parsed.database in (None, "", ":memory:")


def _new_file(parsed: URL) -> Path | None:
    """The SQLite file a plain path or sqlite:///PATH names (a file: URI is taken as given)."""
    uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
    return None if _in_memory(parsed) or uri else Path(str(parsed.database))


def database_file(url: str) -> Path | None:
    """The SQLite file a database URL or path names (None: in memory, or a database on a server)."""
    try:
        parsed = _parse(url)
    except (ArgumentError, ValueError):
        return None
    return _new_file(parsed) if parsed.get_backend_name() == "sqlite" else None


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL or a plain file path (taken as SQLite). SQLite gets foreign keys on and
    real transactions: the driver would otherwise commit each CREATE TABLE on its own."""
    try:
        parsed = _parse(url)
    except (ArgumentError, ValueError):
        raise StorageError(f"not a database URL or path: {shown_url(url)}") from None
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and (path := _new_file(parsed)) is not None:
        _create_private(path)
    # one short command per process: no pool, so every connection closes with its session (an in-memory
    # database lives as long as its one connection)
    pool = StaticPool if sqlite and _in_memory(parsed) else NullPool
    try:
        engine = create_engine(parsed, poolclass=pool, connect_args={"timeout": 30} if sqlite else {})
    except NoSuchModuleError:
        raise StorageError(f"unknown kind of database {parsed.drivername!r} in {shown_url(url)}: give a file path, "
                           "sqlite:///FILE or postgresql+psycopg://...") from None
    except ImportError as exc:
        needed = DRIVERS.get(parsed.get_backend_name(), f"the Python package {exc.name}")
        raise StorageError(f"cannot open {shown_url(url)}: install {needed}") from None
    if sqlite:
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
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
        raise StorageError(f"cannot create database {path}: {exc.strerror}") from None


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None  # the driver's own BEGIN skips DDL: ours below does not
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _sqlite_begin(connection: Any) -> None:
    """BEGIN, or BEGIN IMMEDIATE (the write lock at once) for a connection marked `sqlite_immediate`."""
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _reason(exc: SQLAlchemyError) -> str:
    return " ".join(str(getattr(exc, "orig", exc)).split())  # drivers' messages can span lines


def schema_state(engine: Engine) -> tuple[str | None, list[str]]:
    """The database's Alembic revision (None without one) and its table names, read without writing."""
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        if "alembic_version" not in tables:
            return None, tables
        return connection.execute(text("select version_num from alembic_version")).scalar(), tables


def writable(engine: Engine) -> bool:
    """Whether this process may write to the database: a write that changes no row, rolled back (SQLite refuses
    it on a read-only file), or the server's mode."""
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                return connection.execute(text("show transaction_read_only")).scalar() == "off"
            with connection.begin() as transaction:
                connection.execute(text("update locks set name = name where 0 = 1"))
                transaction.rollback()
            return True
    except OperationalError:
        return False


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision in one transaction, after taking the database's write
    lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), so that concurrent first opens take turns and
    the second finds the work done. Existing rows are kept."""
    from alembic import command  # 0.2 s to import: only when the schema is behind
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "db:migrations")
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        if sqlite:  # SQLite's recipe for a change ALTER cannot make: copy the table, foreign keys checked at the end
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            connection = connection.execution_options(sqlite_immediate=True)
            with connection.begin():
                if not sqlite:
                    connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise StorageError("the schema upgrade would break a foreign key: nothing was changed")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def open_database(url: str) -> sessionmaker[Session]:
    """An engine on the database, its schema brought up to date (nothing is asked of Alembic when it is).
    A database holding tables that are not ours, or a schema newer than this version, is refused untouched."""
    engine = make_engine(url)
    try:
        version, tables = schema_state(engine)
        if version is None and tables:
            raise StorageError(f"{shown_url(url)} holds tables that are not spx-wheel's ({', '.join(tables[:4])}"
                               f"{', ...' if len(tables) > 4 else ''}): give another database with --db")
        if version is not None and version > SCHEMA_HEAD:
            raise StorageError(f"database {shown_url(url)} has schema {version}, newer than this spx-wheel knows "
                               f"({SCHEMA_HEAD}): upgrade spx-wheel")
        if version != SCHEMA_HEAD:
            migrate(engine)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open database {shown_url(url)}: {_reason(exc)}") from None
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session], write: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. A `write` transaction takes SQLite's write
    lock when it begins, so that two writers that both read first cannot deadlock."""
    try:
        with factory.begin() as session:
            if write:
                session.connection(execution_options={"sqlite_immediate": True})
            yield session
    except SQLAlchemyError as exc:
        raise StorageError(f"database error: {_reason(exc)}") from None


@contextmanager
def held_lock(factory: sessionmaker[Session], name: str) -> Iterator[None]:
    """A lock held across many transactions until the block ends or the process dies (a killed run never
    leaves it taken): flock on a file beside an SQLite database, a session-level advisory lock on PostgreSQL."""
    import fcntl
    import zlib

    engine = factory.kw["bind"]
    if engine.dialect.name == "sqlite":
        path = database_file(engine.url.render_as_string(hide_password=False))
        if path is None:  # in memory: one process only
            yield
            return
        handle = os.open(f"{path}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)
        return
    key = zlib.crc32(f"spx-wheel {name}".encode())
    with engine.connect() as connection:
        connection.execute(text("select pg_advisory_lock(:key)"), {"key": key})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("select pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
