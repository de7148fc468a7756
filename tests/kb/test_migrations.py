"""The Alembic migrations produce exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import kb.models  # noqa: F401
from kb.db import migrate
from tests.conftest import POSTGRES_URL, fresh_postgres_database, sqlite_url


def test_models_and_migrations_agree(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), SQLModel.metadata)
    assert diff == []


def test_migrate_is_idempotent(engine):
    migrate(engine)
    migrate(engine)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request, tmp_path, worker_id) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "empty.sqlite3")
    if not POSTGRES_URL:
        pytest.skip("ZHIKU_TEST_POSTGRES_URL not set (make test starts a throwaway cluster)")
    return fresh_postgres_database(f"zhiku_votes_{worker_id}")


def test_upgrade_keeps_each_users_latest_vote_per_article(empty_db_url):
    """0009 makes votes one per user per article; the repeated clicks stored before it collapse
    to the user's latest vote, and every other row survives."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from kb.db import alembic_config

    db_url = empty_db_url
    engine = create_engine(db_url)
    config = alembic_config(db_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO user_account (username, display_name, role, active, created_at) "
                          "VALUES ('u1', 'u1', 'agent', true, '2026-01-01')"))
        conn.execute(text("INSERT INTO article (title, body, state, audience, tags, applies_to_versions, owner, "
                          "version, created_by, created_at, updated_at) VALUES ('t', 'b', 'published', 'public', '[]', "
                          "'[]', 'u1', 1, 'u1', '2026-01-01', '2026-01-01')"))
        article = conn.execute(text("SELECT id FROM article")).scalar_one()
        for by, helped in (("u1", True), ("u1", True), ("u2", True), ("u1", False)):
            conn.execute(text('INSERT INTO article_feedback (article_id, helped, "by", at) VALUES (:a, :h, :b, :at)'),
                         {"a": article, "h": helped, "b": by, "at": "2026-01-02"})
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with engine.connect() as conn:
        votes = sorted(conn.execute(text('SELECT "by", helped FROM article_feedback')).all())
    engine.dispose()
    assert [(by, bool(h)) for by, h in votes] == [("u1", False), ("u2", True)]


@pytest.mark.postgres
def test_an_uploaded_sheet_is_stored_uncompressed_on_postgres(postgres_engine):
    """pglz on a 20 MB sheet cost the queuing request's backend half a second of CPU (0014)."""
    from sqlalchemy import text

    with postgres_engine.connect() as conn:
        storage = conn.execute(text("SELECT attstorage FROM pg_attribute WHERE attname = 'content' "
                                    "AND attrelid = 'job_input'::regclass")).scalar_one()
    assert storage == "e"           # EXTERNAL: out of line, never compressed
