"""article feedback: one vote per user per article (a second click changes the vote)

Earlier versions counted every click, so a user could vote an article up many times. The
upgrade keeps each user's latest vote per article and then enforces uniqueness.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 22:20:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        'DELETE FROM article_feedback WHERE id NOT IN '
        '(SELECT latest FROM (SELECT MAX(id) AS latest FROM article_feedback GROUP BY article_id, "by") AS keep)'
    )
    op.create_index('uq_article_feedback_article_by', 'article_feedback', ['article_id', 'by'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_article_feedback_article_by', table_name='article_feedback')
