"""job input: an uploaded sheet is stored uncompressed on PostgreSQL

PostgreSQL compresses a large bytea with pglz, in the backend of the request that queues the
import. A 20,000-row sheet (23.7 MB) took 0.52 s of that backend's CPU to store and 0.23 s to
read back; uncompressed (``STORAGE EXTERNAL``, still out of line) 0.13 s and 0.19 s. On a node
busy with agents that second of CPU stalled their suggestions (bench/write_load.py). The file
is kept only until its import ends, so the space it would save is brief. SQLite never
compresses: nothing to do there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 11:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE job_input ALTER COLUMN content SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE job_input ALTER COLUMN content SET STORAGE EXTENDED")
