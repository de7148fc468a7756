"""cases: index on (status, received_at) for the burst rule's snapshot of recent open cases

Without it the snapshot query walked every open case through the status index and sorted
them: 48 ms with 22,700 open cases (a 20,000-row import of open history), re-read after every
case saved in a worker — suggestions halved in speed during an import (bench/write_load.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:10:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_case_status_received_at', 'case', ['status', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_status_received_at', table_name='case')
