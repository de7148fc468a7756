"""The search change feed: a row per change, written in the same transaction as the change.
Each index replica reads the rows past its own cursor (``indexer/feed.py``); rows are pruned
only once every registered replica has read them and they are older than the retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, FetchedValue
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime


class SearchOutbox(SQLModel, table=True):
    __tablename__ = "search_outbox"

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=16)
    entity_id: int = Field(index=True)
    op: str = Field(max_length=16, description="upsert | delete; the indexer re-reads the row anyway")
    created_at: datetime = Field(sa_type=UTCDateTime)
    # PostgreSQL: the writing transaction's id (server default pg_current_xact_id()); readers
    # take only rows below the oldest transaction still running, so none committing later
    # with a lower id is ever skipped. SQLite has one writer at a time: ids are commit order.
    txid: int | None = Field(default=None, sa_column=Column(BigInteger, server_default=FetchedValue(),
                                                             nullable=True, index=True))


class IndexReplica(SQLModel, table=True):
    """One row per index replica (a node's Whoosh directory): how far it has read the feed.
    Retention keeps every row some live replica has not read yet."""

    __tablename__ = "index_replica"

    name: str = Field(primary_key=True, max_length=80)
    generation: str | None = Field(default=None, max_length=40)
    cursor_txid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    cursor_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    updated_at: datetime = Field(sa_type=UTCDateTime)


class FeedPruned(SQLModel, table=True):
    """How far retention has pruned the feed: the last pruned row, in feed order (one row, id 1).

    A replica that finds itself unregistered — its node came back under a new host name (a
    container), its directory moved, or it was silent longer than the retention — keeps its
    index when nothing past its cursor was pruned, instead of rebuilding. Pruning and that
    check both lock this row first, so neither can slip between the other's read and write."""

    __tablename__ = "search_feed_pruned"

    id: int = Field(default=1, primary_key=True)
    cursor_txid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    cursor_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    pruned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
