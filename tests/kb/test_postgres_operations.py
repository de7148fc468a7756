"""PostgreSQL operations: a statement running past the timeout is cancelled, nodes starting
together migrate and seed one after another, and a start without a database says so and
exits non-zero."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from kb.db import make_engine
from kb.settings import PROJECT_ROOT, Settings
from tests.conftest import DATA_DIR, POSTGRES_URL, fresh_postgres_database


def _start_node(url: str, var: str, barrier, results) -> None:
    from kb.setup import prepare_database

    barrier.wait(timeout=120)          # both nodes start migrating at the same moment
    try:
        engine = prepare_database(Settings(data_dir=DATA_DIR, var_dir=var, database_url=url))
        with engine.connect() as conn:
            results.put(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
        engine.dispose()
    except Exception as exc:
        results.put(f"failed: {type(exc).__name__}: {exc}"[:300])


@pytest.mark.postgres
def test_two_nodes_starting_at_once_both_migrate_and_seed(tmp_path, worker_id):
    if not POSTGRES_URL:
        pytest.skip("ZHIKU_TEST_POSTGRES_URL not set (make test starts a throwaway cluster)")
    url = fresh_postgres_database(f"zhiku_twostart_{worker_id}")
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    nodes = [ctx.Process(target=_start_node, args=(url, str(tmp_path / n), barrier, results)) for n in "ab"]
    for node in nodes:
        node.start()
    revisions = [results.get(timeout=180) for _ in nodes]
    for node in nodes:
        node.join(60)
    assert len(set(revisions)) == 1 and not revisions[0].startswith("failed"), revisions
    engine = create_engine(url)
    with engine.connect() as conn:
        types = conn.execute(text("SELECT count(*) FROM label WHERE kind = 'type'")).scalar_one()
    engine.dispose()
    assert types == 5          # seeded once, not twice


@pytest.mark.postgres
def test_a_statement_past_the_timeout_is_cancelled(tmp_path):
    if not POSTGRES_URL:
        pytest.skip("ZHIKU_TEST_POSTGRES_URL not set (make test starts a throwaway cluster)")
    engine = make_engine(POSTGRES_URL, settings=Settings(var_dir=tmp_path, db_statement_timeout_ms=200))
    with pytest.raises(OperationalError, match="statement timeout"), engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(2)"))
    engine.dispose()


def test_starting_without_a_database_says_so_and_exits_non_zero(tmp_path):
    env = {**os.environ, "ZHIKU_DATABASE_URL": "postgresql+psycopg://zhiku@127.0.0.1:1/zhiku",
           "ZHIKU_VAR_DIR": str(tmp_path / "var"), "ZHIKU_DB_CONNECT_TIMEOUT_SECONDS": "2"}
    out = subprocess.run([sys.executable, "-m", "api"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "无法连接数据库" in out.stderr and "127.0.0.1:1" in out.stderr
