"""The domain dictionary in the database: what knowledge managers edit, and the snapshot
the text pipeline is built from."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session, func, select

from kb.db import make_session
from kb.errors import Conflict, NotFound
from kb.models import DictionaryTerm, DictionaryTermCreate
from kb.text.segment import (
    DictionarySnapshot,
    Segmenter,
    for_version,
    install,
    read_dictionary_file,
    snapshot_of,
)


def load_default_dictionary(session: Session, path: Path, *, now: datetime) -> int:
    """Seed an empty dictionary table from the shipped file."""
    if session.exec(select(func.count()).select_from(DictionaryTerm)).one():
        return 0
    snap = read_dictionary_file(path)
    rows = ([DictionaryTerm(kind="word", term=t, freq=f) for t, f, _ in snap.words]
            + [DictionaryTerm(kind="synonym", term=v, canonical=c) for v, c in snap.synonyms]
            + [DictionaryTerm(kind="typo", term=w, canonical=r) for w, r in snap.typos])
    for row in rows:
        row.created_by, row.created_at = "system", now
        session.add(row)
    session.flush()
    return len(rows)


def list_terms(session: Session, kind: str | None = None) -> list[DictionaryTerm]:
    stmt = select(DictionaryTerm).order_by(DictionaryTerm.kind, DictionaryTerm.term)
    if kind:
        stmt = stmt.where(DictionaryTerm.kind == kind)
    return list(session.exec(stmt))


def add_term(session: Session, data: DictionaryTermCreate, *, actor: str, now: datetime) -> DictionaryTerm:
    exists = session.exec(select(DictionaryTerm).where(DictionaryTerm.kind == data.kind,
                                                       DictionaryTerm.term == data.term)).first()
    if exists:
        raise Conflict(f"词条「{data.term}」已存在", field="term")
    term = DictionaryTerm(**data.model_dump(), created_by=actor, created_at=now)
    session.add(term)
    session.commit()
    return term


def delete_term(session: Session, term_id: int) -> DictionaryTerm:
    term = session.get(DictionaryTerm, term_id)
    if term is None:
        raise NotFound(f"词条 {term_id} 不存在", field="id")
    session.delete(term)
    session.commit()
    return term


def snapshot(session: Session) -> DictionarySnapshot:
    terms = list_terms(session)
    return snapshot_of(
        [(t.term, t.freq, None) for t in terms if t.kind == "word"],
        [(t.term, t.canonical) for t in terms if t.kind == "synonym"],
        [(t.term, t.canonical) for t in terms if t.kind == "typo"],
    )


def install_segmenter_from_db(engine, cache_dir: Path | None) -> Segmenter:
    """Build (or reuse) the segmenter for the database's dictionary and make it current."""
    with make_session(engine) as session:
        snap = snapshot(session)
    seg = for_version(snap.version, snap, cache_dir)
    install(seg)
    return seg
