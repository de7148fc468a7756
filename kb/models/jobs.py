"""Background work as database rows: training, spreadsheet imports and index rebuilds.

A row is the job's whole state: any node can report its progress, and whichever worker
holds its lease runs it. A worker renews the lease while the job runs; a job whose lease ran
out (its worker died) is taken over by another worker (imports resume at their last
checkpoint, rebuilds restart) or marked failed (training: the analyst decides whether to
run it again)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime


class JobKind:
    train = "train"
    import_cases = "import"
    rebuild = "rebuild"
    ALL = ("train", "import", "rebuild")


class Job(SQLModel, table=True):
    __tablename__ = "job"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=JobKind.train, max_length=16, index=True, description="train | import | rebuild")
    status: str = Field(default="queued", max_length=16, index=True, description="queued | running | done | failed")
    progress: float = 0.0
    message: str = Field(default="", max_length=500)
    requested_by: str = Field(max_length=32)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: str | None = Field(default=None, max_length=40, description="training: the version it produced")
    # the outcome (an import's report, a rebuild's figures) and, while running, the checkpoint
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    log: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # queued/running only while a worker renews this (a killed worker must not hold the job)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    runner: str | None = Field(default=None, max_length=64, description="host:pid of the worker running it")
    node: str | None = Field(default=None, max_length=80, description="only this index replica's worker may run it")
    attempts: int = 0


class JobInput(SQLModel, table=True):
    """The uploaded file of an import, kept apart so listing jobs never reads it. On PostgreSQL
    the bytes are here (any node's worker can run the import); on SQLite they wait in a file
    of the node's var dir named by ``stored_as``, and ``content`` is empty (``kb.uploads``)."""

    __tablename__ = "job_input"

    job_id: int = Field(primary_key=True, foreign_key="job.id")
    filename: str = Field(default="", max_length=255)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    stored_as: str | None = Field(default=None, max_length=64, description="its file in the uploads folder")
