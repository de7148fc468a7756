"""Full rebuild into a new generation, atomic switch, and reconcile (find and repair drift)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from indexer import feed, integrity, packed
from indexer.documents import INDEXABLE, document_for
from indexer.whoosh_index import WhooshIndex
from kb.db import make_session
from kb.models import Article, ArticleState, Case
from kb.outbox import record_change
from kb.text.segment import DictionarySnapshot

# What the index holds, per entity: the table and the condition for being indexed.
INDEXED = {"case": (Case, Case.status.in_(list(INDEXABLE))),
           "article": (Article, Article.state == ArticleState.published)}


def _indexable_rows(engine: Engine, *, batch: int) -> Iterator[Case | Article]:
    for model, condition in INDEXED.values():
        last_id = 0
        while True:
            with make_session(engine) as session:
                rows = list(session.exec(select(model).where(condition, model.id > last_id)
                                         .order_by(model.id).limit(batch)))
            if not rows:
                break
            yield from rows
            last_id = rows[-1].id


def rebuild(engine: Engine, index: WhooshIndex, snapshot: DictionarySnapshot, *, batch: int = 2000) -> str:
    """Write every indexable case and published article into a fresh generation, switch to
    it, and register this replica with the feed cursor taken *before* the rows were read:
    every change from then on is applied to the new generation afterwards (harmlessly, if
    the rebuild already saw it). Nothing is deleted from the feed: other replicas read it too."""
    with make_session(engine) as session:
        cursor = feed.snapshot_cursor(session)
        expected = sum(session.exec(select(func.count()).select_from(model).where(condition)).one()
                       for model, condition in INDEXED.values())
    generation, ix = index.create_generation(snapshot)
    seg = index.segmenter(generation)
    writer = index.bulk_writer(ix, expected)
    try:
        for row in _indexable_rows(engine, batch=batch):
            writer.add_document(**document_for(row, seg))
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    packed.write_missing(ix, index.directory(generation))
    integrity.record(index.directory(generation))
    feed.save_cursor(index.directory(generation), cursor)
    index.switch(generation)
    feed.report(engine, feed.replica_name(index.root), generation, cursor, register=True)
    return generation


def reconcile(engine: Engine, index: WhooshIndex, *, now) -> dict[str, int]:
    """Compare (kind, id, updated_at) of what should be indexed with the index; enqueue every difference."""
    with make_session(engine) as session:
        db = {(kind, rid): updated.isoformat()
              for kind, (model, condition) in INDEXED.items()
              for rid, updated in session.exec(select(model.id, model.updated_at).where(condition))}
    indexed = index.stored_versions()
    missing = [key for key in db if key not in indexed]
    stale = [key for key in db if key in indexed and indexed[key] != db[key]]
    extra = [key for key in indexed if key not in db]
    with make_session(engine, write=True) as session:
        for kind, rid in missing + stale + extra:
            record_change(session, entity=kind, entity_id=rid, at=now)
        session.commit()
    return {"missing": len(missing), "stale": len(stale), "extra": len(extra), "indexed": len(indexed),
            "indexable": len(db)}
