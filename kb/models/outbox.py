"""The search change log: written in the same transaction as the change it describes,
drained in id order by exactly one indexer."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime


class SearchOutbox(SQLModel, table=True):
    __tablename__ = "search_outbox"

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=16)
    entity_id: int = Field(index=True)
    op: str = Field(max_length=16, description="upsert | delete; the indexer re-reads the row anyway")
    created_at: datetime = Field(sa_type=UTCDateTime)
