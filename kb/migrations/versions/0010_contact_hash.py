"""cases: keyed hash of the normalised contact, to find a customer's earlier cases

The raw contact was never stored, so cases logged before this revision have no hash and are
found by customer id only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 22:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('case', sa.Column('contact_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_index('ix_case_contact_hash', 'case', ['contact_hash'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_contact_hash', table_name='case')
    with op.batch_alter_table('case') as batch_op:
        batch_op.drop_column('contact_hash')
