"""search change feed: transaction ids on PostgreSQL, a cursor per index replica

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import kb.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('txid', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_search_outbox_txid'), ['txid'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE search_outbox SET txid = 0 WHERE txid IS NULL")
        op.execute("ALTER TABLE search_outbox ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)")
    op.create_table('index_replica',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('generation', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('cursor_txid', sa.BigInteger(), nullable=False),
    sa.Column('cursor_id', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', kb.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('index_replica')
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_outbox_txid'))
        batch_op.drop_column('txid')
