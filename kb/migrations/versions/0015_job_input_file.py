"""job input: on SQLite an uploaded sheet waits in a file of the var dir (``stored_as``)

A 23.7 MB sheet written into SQLite held its one write lock and set off a checkpoint of
5,800 WAL pages while agents saved cases (kb.uploads). The column names that file; rows
queued before this revision keep their bytes in ``content`` and are read from there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job_input", sa.Column("stored_as", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_input") as batch:
        batch.drop_column("stored_as")
