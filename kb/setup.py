"""Preparing a database for use: shared by the service and the command-line tools."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from kb.articles.audience import load_default_audiences
from kb.clock import Clock
from kb.db import MIGRATION_LOCK_KEY, make_engine, migrate, session_scope
from kb.dictionary import load_default_dictionary
from kb.settings import Settings
from kb.taxonomy import load_default_taxonomy


def prepare_database(settings: Settings) -> Engine:
    """Engine + migrations + default taxonomy and dictionary; safe to run on every start."""
    engine = make_engine(settings.database_url, settings=settings)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        if engine.dialect.name == "postgresql":     # nodes starting together seed one after another
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        load_default_taxonomy(session, settings.taxonomy_file)
        load_default_audiences(session, settings.taxonomy_file)
        load_default_dictionary(session, settings.dictionary_file, now=Clock(tz=settings.tz).now())
        session.commit()
    return engine
