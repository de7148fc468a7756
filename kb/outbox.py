"""Writers call record_change() inside their transaction; the indexer drains the rows."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from kb.models import SearchOutbox


def record_change(session: Session, *, entity: str, entity_id: int, at: datetime, op: str = "upsert") -> None:
    session.add(SearchOutbox(entity=entity, entity_id=entity_id, op=op, created_at=at))
