"""background jobs: training_job becomes job (training, imports, rebuilds), with the upload apart

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import kb.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.rename_table('training_job', 'job')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default='train'))
        batch_op.add_column(sa.Column('started_at', kb.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('result', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('log', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('node', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_job_kind', ['kind'])
        batch_op.create_index('ix_job_status', ['status'])
    op.create_table('job_input',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id']),
    sa.PrimaryKeyConstraint('job_id')
    )


def downgrade() -> None:
    op.drop_table('job_input')
    op.execute("DELETE FROM job WHERE kind <> 'train'")
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_status')
        batch_op.drop_index('ix_job_kind')
        for column in ('attempts', 'node', 'log', 'result', 'started_at', 'kind'):
            batch_op.drop_column(column)
    op.rename_table('job', 'training_job')
