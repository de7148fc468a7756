"""Model versions (the production pointer lives here), promotions and the
suggestion log that measures how often agents accept proposals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime


class ModelVersion(SQLModel, table=True):
    __tablename__ = "model_version"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=40, unique=True, index=True)
    status: str = Field(default="candidate", max_length=16, index=True, description="candidate | production | retired")
    text_version: str = Field(max_length=16)
    sha256: str = Field(max_length=64)
    labels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    data_rows: int = 0
    data_hash: str = Field(default="", max_length=64)
    trained_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    promoted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    promoted_by: str | None = Field(default=None, max_length=32)


class ModelArtifact(SQLModel, table=True):
    """The bytes of a model version, so any node can load a version another node trained;
    each node keeps a local cache under its model directory, checked by sha256."""

    __tablename__ = "model_artifact"

    version: str = Field(primary_key=True, max_length=40)
    sha256: str = Field(max_length=64)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    model_metadata: dict[str, Any] = Field(default_factory=dict, sa_column=Column("metadata", JSON, nullable=False))


class ModelPromotion(SQLModel, table=True):
    """Audit trail of the production pointer; rollback walks it backwards."""

    __tablename__ = "model_promotion"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=40, index=True)
    action: str = Field(max_length=16, description="promote | rollback")
    at: datetime = Field(sa_type=UTCDateTime)
    by: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=500)


class SuggestionLog(SQLModel, table=True):
    """Every served proposal; the agent's final choice is attached when the case is saved."""

    __tablename__ = "suggestion_log"

    id: str = Field(primary_key=True, max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=32)
    model_version: str | None = Field(default=None, max_length=40, index=True)
    source: str = Field(default="model", max_length=16, description="model | rules (cold start)")
    type_label: str | None = Field(default=None, max_length=32)
    type_confidence: float | None = None
    priority_label: str | None = Field(default=None, max_length=32)
    priority_confidence: float | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    final_type: str | None = Field(default=None, max_length=32)
    final_priority: str | None = Field(default=None, max_length=32)
    type_accepted: bool | None = None
    priority_accepted: bool | None = None
    linked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SolutionUse(SQLModel, table=True):
    """An agent used a suggested solution (用这个方案): which case used which similar case or
    article, at which rank of the list it was shown in, and which model and index served it —
    the label a learned ranker trains on, and suggestion quality measured from use."""

    __tablename__ = "solution_use"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    source_kind: str = Field(max_length=8, description="case | article")
    source_case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    source_article_id: int | None = Field(default=None, foreign_key="article.id", index=True)
    suggestion_id: str | None = Field(default=None, max_length=32, index=True)
    rank: int | None = Field(default=None, description="1-based position in the list shown; None: not from a list")
    shown: int | None = Field(default=None, description="how many items that list showed")
    model_version: str | None = Field(default=None, max_length=40, index=True)
    index_generation: str | None = Field(default=None, max_length=64)
    place: str = Field(max_length=16, description="workspace | case")
    actor: str = Field(max_length=32)
    used_at: datetime = Field(sa_type=UTCDateTime, index=True)
