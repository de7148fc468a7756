"""Knowledge articles (知识文章): the article row holds the current state; every save of its
body or metadata appends an immutable ArticleVersion, so any two versions can be compared
and any one restored. Audiences say who may see an article; links say which cases it came
from; feedback records whether it helped an agent on a case."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import StringConstraints
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime
from kb.models.case import Tag
from kb.models.inputs import Flag, Input, PositiveInt32

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Version = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
MAX_BODY = 50_000

# Metadata fields copied into every version (besides title and body) and compared by diff.
VERSIONED_FIELDS = ("audience", "product", "module", "problem_type", "fixed_in_version", "applies_to_versions",
                    "tags", "owner", "next_review_at", "state")


class ArticleState(str, enum.Enum):
    draft = "草稿"
    in_review = "审核中"
    published = "已发布"
    archived = "已归档"


class Audience(SQLModel, table=True):
    """Who may see articles with this audience: users with one of ``roles`` or in one of
    ``groups``. Knowledge managers and admins see every audience (they curate)."""

    __tablename__ = "audience"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True


class AudienceCreate(Input):
    code: Code
    name: str = Field(min_length=1, max_length=64)
    roles: list[Code] = Field(default_factory=list, max_length=10)
    groups: list[Code] = Field(default_factory=list, max_length=50)


class AudienceUpdate(Input):
    """Every column is NOT NULL: fields may be left out, not sent as null."""

    name: str = Field(default=None, min_length=1, max_length=64)
    roles: list[Code] = Field(default=None, max_length=10)
    groups: list[Code] = Field(default=None, max_length=50)
    active: Flag = None


class AudiencePublic(SQLModel):
    code: str
    name: str
    roles: list[str]
    groups: list[str]
    active: bool


class Article(SQLModel, table=True):
    __tablename__ = "article"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    state: ArticleState = Field(default=ArticleState.draft, index=True)
    audience: str = Field(max_length=32, index=True)
    product: str | None = Field(default=None, max_length=64, index=True)
    module: str | None = Field(default=None, max_length=64)
    problem_type: str | None = Field(default=None, max_length=32)
    fixed_in_version: str | None = Field(default=None, max_length=32)
    applies_to_versions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    owner: str = Field(max_length=32)
    next_review_at: date | None = None
    version: int = Field(default=1, description="number of the current (latest) version")
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ArticleVersion(SQLModel, table=True):
    """Immutable: written once per save, never updated or deleted."""

    __tablename__ = "article_version"
    __table_args__ = (UniqueConstraint("article_id", "number", name="uq_article_version_number"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    number: int
    title: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    author: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    change_note: str = Field(default="", max_length=500)


class ArticleCaseLink(SQLModel, table=True):
    __tablename__ = "article_case_link"

    article_id: int = Field(foreign_key="article.id", primary_key=True)
    case_id: int = Field(foreign_key="case.id", primary_key=True, index=True)
    linked_by: str = Field(max_length=32)
    linked_at: datetime = Field(sa_type=UTCDateTime)


class ArticleFeedback(SQLModel, table=True):
    """One vote per user per article: voting again changes the vote (and its case, comment, time)."""

    __tablename__ = "article_feedback"
    __table_args__ = (Index("uq_article_feedback_article_by", "article_id", "by", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id")
    suggestion_id: str | None = Field(default=None, max_length=32)
    helped: bool
    comment: str | None = Field(default=None, max_length=1000)
    by: str = Field(max_length=32)
    at: datetime = Field(sa_type=UTCDateTime, index=True)


class ArticleMeta(Input):
    """Metadata of a create or a save; audience, versions, tags and owner are NOT NULL columns."""

    audience: Code = None
    product: str | None = Field(default=None, max_length=64)
    module: str | None = Field(default=None, max_length=64)
    problem_type: Code | None = None
    fixed_in_version: Version | None = None
    applies_to_versions: list[Version] = Field(default=None, max_length=50)
    tags: list[Tag] = Field(default=None, max_length=30)
    owner: str = Field(default=None, min_length=1, max_length=32)
    next_review_at: date | None = None


class ArticleCreate(ArticleMeta):
    title: str = Field(min_length=2, max_length=200)
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown")
    change_note: str = Field(default="", max_length=500)
    case_numbers: list[Code] = Field(default_factory=list, max_length=100, description="source cases to link")


class ArticleUpdate(ArticleMeta):
    """``version`` is the version the editor started from: a save on top of a newer version is
    refused (409) instead of silently overwriting someone else's edit."""

    version: PositiveInt32
    title: str = Field(default=None, min_length=2, max_length=200)
    body: str = Field(default=None, min_length=1, max_length=MAX_BODY)
    change_note: str = Field(default="", max_length=500)


class ArticleTransition(Input):
    state: ArticleState
    version: PositiveInt32
    change_note: str = Field(default="", max_length=500)


class ArticleRestore(Input):
    version: PositiveInt32 = Field(description="the current version the editor saw")
    change_note: str = Field(default="", max_length=500)


class ArticleFromCase(Input):
    case_number: Code
    audience: Code | None = None
    title: str | None = Field(default=None, min_length=2, max_length=200)


class ArticleLinkCases(Input):
    case_numbers: list[Code] = Field(min_length=1, max_length=100)


class ArticleFeedbackCreate(Input):
    helped: Flag
    comment: str | None = Field(default=None, max_length=1000)
    case_number: Code | None = None
    suggestion_id: str | None = Field(default=None, min_length=8, max_length=32)


class Helpfulness(SQLModel):
    helped: int = 0
    not_helped: int = 0
    ratio: float | None = None


class ArticlePublic(SQLModel):
    id: int
    title: str
    body: str
    body_html: str
    state: ArticleState
    audience: str
    product: str | None
    module: str | None
    problem_type: str | None
    fixed_in_version: str | None
    applies_to_versions: list[str]
    tags: list[str]
    owner: str
    next_review_at: date | None
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    linked_cases: list[str] = []
    helpfulness: Helpfulness = Helpfulness()


class ArticleVersionPublic(SQLModel):
    number: int
    title: str
    body: str
    meta: dict[str, Any]
    author: str
    created_at: datetime
    change_note: str
