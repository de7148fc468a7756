"""The SQLite write path: writers of one process queue on a lock held until the connection
is back in the pool, so concurrent writers all succeed and nothing is left holding it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kb.db import make_engine, make_session, session_scope
from tests.conftest import sqlite_url


def test_concurrent_writers_in_one_process_all_commit(tmp_path):
    engine = make_engine(sqlite_url(tmp_path / "w.sqlite3"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")

    def bump(_):
        for _ in range(25):
            with session_scope(engine, write=True) as s:      # read-modify-write: lost updates show
                n = s.exec(text("SELECT n FROM counter")).scalar_one()
                s.exec(text("UPDATE counter SET n = :n"), params={"n": n + 1})
                s.commit()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bump, range(8)))
    with make_session(engine) as s:
        assert s.exec(text("SELECT n FROM counter")).scalar_one() == 200
    engine.dispose()


def test_a_failed_or_abandoned_write_releases_the_lock(tmp_path):
    engine = make_engine(sqlite_url(tmp_path / "w.sqlite3"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER NOT NULL)")
    with pytest.raises(IntegrityError), session_scope(engine, write=True) as s:
        s.exec(text("INSERT INTO t VALUES (NULL)"))            # fails: rolled back, connection returned
    s = make_session(engine, write=True)
    s.exec(text("INSERT INTO t VALUES (1)"))
    s.close()                                                  # never committed: rolled back on close
    with ThreadPoolExecutor(1) as pool:                        # another thread can write at once
        pool.submit(_insert, engine, 2).result(timeout=5)
    with make_session(engine) as s:
        assert s.exec(text("SELECT n FROM t")).scalars().all() == [2]
    engine.dispose()


def _insert(engine, n: int) -> None:
    with session_scope(engine, write=True) as s:
        s.exec(text("INSERT INTO t VALUES (:n)"), params={"n": n})
        s.commit()


def test_a_statement_session_sends_no_begin_on_postgresql_and_leaves_the_pool_transactional(db_url):
    # a suggestion's session opened a transaction for its two reads: BEGIN and ROLLBACK were two
    # of its round trips to the server
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite keeps its in-process transaction")
    from psycopg.pq import TransactionStatus

    engine = make_engine(db_url)
    try:
        with make_session(engine, read_only=True) as s:
            backend = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert s.connection().connection.dbapi_connection.info.transaction_status == TransactionStatus.IDLE
        with make_session(engine) as s:               # the same pooled connection, in a transaction again
            assert s.execute(text("SELECT pg_backend_pid()")).scalar_one() == backend
            assert s.connection().connection.dbapi_connection.info.transaction_status == TransactionStatus.INTRANS
            s.execute(text("CREATE TEMP TABLE t (x int)"))
            s.rollback()                              # rolled back: it was one transaction
            assert s.execute(text("SELECT to_regclass('pg_temp.t')")).scalar_one() is None
    finally:
        engine.dispose()
