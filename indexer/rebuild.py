"""Full rebuild into a new generation, atomic switch, and reconcile (find and repair drift)."""

from __future__ import annotations

from sqlalchemy import delete, func
from sqlalchemy.engine import Engine
from sqlmodel import select

from indexer.documents import INDEXABLE, case_document
from indexer.whoosh_index import WhooshIndex
from kb.db import make_session
from kb.models import Case, SearchOutbox
from kb.outbox import record_change
from kb.text.segment import DictionarySnapshot


def rebuild(engine: Engine, index: WhooshIndex, snapshot: DictionarySnapshot, *, batch: int = 2000) -> str:
    """Write every indexable case into a fresh generation, then switch to it.

    The outbox high-water mark is read *before* the cases, so every outbox row up to it is
    covered by what was read and can be dropped; later rows are applied to the new generation."""
    with make_session(engine) as session:
        high_water = session.exec(select(func.max(SearchOutbox.id))).one()
        expected = session.exec(select(func.count()).select_from(Case).where(Case.status.in_(list(INDEXABLE)))).one()
    generation, ix = index.create_generation(snapshot)
    seg = index.segmenter(generation)
    writer = index.bulk_writer(ix, expected)
    last_id = 0
    try:
        while True:
            with make_session(engine) as session:
                cases = list(session.exec(select(Case).where(Case.status.in_(list(INDEXABLE)), Case.id > last_id)
                                          .order_by(Case.id).limit(batch)))
            if not cases:
                break
            for case in cases:
                writer.add_document(**case_document(case, seg))
            last_id = cases[-1].id
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    index.switch(generation)
    if high_water is not None:
        with make_session(engine, write=True) as session:
            session.exec(delete(SearchOutbox).where(SearchOutbox.id <= high_water))
            session.commit()
    return generation


def reconcile(engine: Engine, index: WhooshIndex, *, now) -> dict[str, int]:
    """Compare (id, updated_at) of indexable cases with the index; enqueue every difference."""
    with make_session(engine) as session:
        db = {cid: updated.isoformat() for cid, updated in
              session.exec(select(Case.id, Case.updated_at).where(Case.status.in_(list(INDEXABLE))))}
    with index.open().searcher() as searcher:
        indexed = {int(f["entity_id"]): f.get("updated_at") for f in searcher.all_stored_fields()
                   if f.get("kind") == "case"}
    missing = [cid for cid in db if cid not in indexed]
    stale = [cid for cid in db if cid in indexed and indexed[cid] != db[cid]]
    extra = [cid for cid in indexed if cid not in db]
    with make_session(engine, write=True) as session:
        for cid in missing + stale + extra:
            record_change(session, entity="case", entity_id=cid, at=now)
        session.commit()
    return {"missing": len(missing), "stale": len(stale), "extra": len(extra), "indexed": len(indexed),
            "indexable": len(db)}

