"""solution_use: which suggested case or article an agent used for a case (用这个方案)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 01:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from kb.db import UTCDateTime

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'solution_use',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('source_kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('source_case_id', sa.Integer(), nullable=True),
        sa.Column('source_article_id', sa.Integer(), nullable=True),
        sa.Column('suggestion_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('rank', sa.Integer(), nullable=True),
        sa.Column('shown', sa.Integer(), nullable=True),
        sa.Column('model_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('index_generation', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('used_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['source_case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['source_article_id'], ['article.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    for column in ('case_id', 'source_case_id', 'source_article_id', 'suggestion_id', 'model_version', 'used_at'):
        op.create_index(f'ix_solution_use_{column}', 'solution_use', [column], unique=False)


def downgrade() -> None:
    op.drop_table('solution_use')
