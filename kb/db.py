"""Engines, sessions and schema migration.

SQLite is the embedded default: WAL so readers never block the writer,
``busy_timeout`` so concurrent writers (several uvicorn workers, the CLI) wait
instead of failing, and foreign keys on. Write transactions on SQLite start with
``BEGIN IMMEDIATE``: a deferred transaction that reads first and writes later can
fail with SQLITE_BUSY_SNAPSHOT however long busy_timeout is, which would break
case numbering under concurrency from several processes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, text, types
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_SECONDS = 30          # how long a writer waits for the write lock before failing
_HOLDS_WRITE_LOCK = "zhiku_holds_write_lock"


class UTCDateTime(types.TypeDecorator):
    """Stores instants as naive UTC on every backend and returns aware UTC datetimes.

    SQLite has no timezone type; normalising to UTC keeps ordering and range
    queries correct everywhere."""

    impl = types.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def make_engine(url: str, *, echo: bool = False, settings=None) -> Engine:
    """An engine for ``url``; on PostgreSQL the pool, connect timeout and statement timeout
    come from ``settings`` (``ZHIKU_DB_*``), so a stuck query or a dead server turns into a
    clear error (503) instead of a request that hangs."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False,
                                                                       "timeout": SQLITE_BUSY_SECONDS})
        _configure_sqlite(engine)
        return engine
    if settings is None:
        return create_engine(url, echo=echo, pool_pre_ping=True)
    connect_args: dict = {"connect_timeout": settings.db_connect_timeout_seconds}
    if settings.db_statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={settings.db_statement_timeout_ms}"
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=settings.db_pool_size,
                         max_overflow=settings.db_max_overflow, pool_timeout=settings.db_pool_timeout_seconds,
                         connect_args=connect_args)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - driver hook
        # Let us emit BEGIN ourselves (pysqlite's own transaction handling is legacy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    # Writers of one process queue on a Python lock before BEGIN IMMEDIATE instead of in
    # SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries: under
    # concurrent writes those sleeps, not the writes, set the pace (measured: 16 requests in
    # flight served slower than one). Held until the connection goes back to the pool, i.e.
    # after COMMIT/ROLLBACK; other processes still meet in SQLite's own lock.
    write_lock = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # pragma: no cover - driver hook
        if not conn.get_execution_options().get("zhiku_write", False):
            conn.exec_driver_sql("BEGIN")
            return
        if not conn.info.get(_HOLDS_WRITE_LOCK):
            if not write_lock.acquire(timeout=SQLITE_BUSY_SECONDS):
                raise sqlite3.OperationalError("database is locked (waited for this process's other writers)")
            conn.info[_HOLDS_WRITE_LOCK] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    def _release(info: dict) -> None:
        if info.pop(_HOLDS_WRITE_LOCK, False):
            write_lock.release()

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record) -> None:  # pragma: no cover - driver hook
        _release(record.info)


def make_session(engine: Engine, *, write: bool = False, read_only: bool = False) -> Session:
    """A session; ``write=True`` takes the SQLite write lock at BEGIN (no-op elsewhere).

    ``read_only=True`` (a suggestion's or a proposal's reads) runs each statement on its own
    on PostgreSQL, without BEGIN and ROLLBACK: two round trips of the three a suggestion's
    session added to its two reads (measured at 100k cases, in-process: 1.9 → 1.5 ms for the
    session and both reads). Nothing such a request reads needs one snapshot: the hits are
    re-read by id and any that changed in between are dropped. SQLite keeps its transaction
    (in-process, it costs nothing)."""
    if write:
        bind = engine.execution_options(zhiku_write=True)
    elif read_only and engine.dialect.name == "postgresql":
        bind = engine.execution_options(isolation_level="AUTOCOMMIT")
    else:
        bind = engine
    return Session(bind, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    session = make_session(engine, write=write)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


MIGRATION_LOCK_KEY = 0x5A4B4D49     # "ZKMI": the advisory lock migrations take on PostgreSQL


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # nodes starting together migrate one after another; the later ones find head
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
