"""search feed: how far retention has pruned it (one row)

An index replica that finds itself unregistered (a new host name after a container restart, a
moved var directory, or silent longer than the retention) rebuilt its whole index every time.
With the last pruned row on record it keeps its index when nothing past its cursor was pruned.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kb.db

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table('search_feed_pruned',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cursor_txid', sa.BigInteger(), nullable=False),
    sa.Column('cursor_id', sa.BigInteger(), nullable=False),
    sa.Column('pruned_at', kb.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    # rows pruned before this revision are not on record: count everything written so far as
    # pruned. A replica that is unregistered and behind it rebuilds once, as it did before.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        txid, row = bind.execute(sa.text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")).scalar(), 0
    else:
        txid, row = 0, bind.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM search_outbox")).scalar()
    op.bulk_insert(table, [{"id": 1, "cursor_txid": txid, "cursor_id": row, "pruned_at": None}])


def downgrade() -> None:
    op.drop_table('search_feed_pruned')
