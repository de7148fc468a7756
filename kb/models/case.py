"""A case (需求/问题记录) with the fields of the service templates, its history, and the
shapes the API accepts and returns.

Codes for type, priority, channel, emotion and group are plain strings checked
against the taxonomy rows in ``kb.cases.service`` (the taxonomy is data)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

from pydantic import StringConstraints, field_validator
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime
from kb.models.inputs import Flag, Input, PositiveInt32, json_int


class CaseStatus(str, enum.Enum):
    pending = "待处理"
    in_progress = "处理中"
    escalated = "升级处理"
    resolved = "已解决"
    closed = "已关闭"


class CustomerKind(str, enum.Enum):
    individual = "个人客户"
    enterprise = "企业客户"


class Satisfaction(str, enum.Enum):
    satisfied = "满意"
    basically = "基本满意"
    dissatisfied = "不满意"


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


def plausible_instant(value: datetime | None) -> datetime | None:
    """Instants a service desk can mean: 2000–2100 (a year 9999 would overflow time zone maths)."""
    if value is not None and not (2000 <= value.year <= 2100):
        raise ValueError("时间超出范围（2000–2100 年）")
    return value


class CaseSequence(SQLModel, table=True):
    """Last number handed out per prefix and day; only ever incremented, so a number is never reused."""

    __tablename__ = "case_sequence"

    prefix: str = Field(primary_key=True, max_length=8)
    day: str = Field(primary_key=True, max_length=8)
    last_value: int = 0


class Case(SQLModel, table=True):
    __tablename__ = "case"
    __table_args__ = (
        UniqueConstraint("number", name="uq_case_number"),
        Index("ix_case_status_resolution_due", "status", "resolution_due_at"),
        Index("ix_case_contact_at", "contact_at"),
        Index("ix_case_status_received_at", "status", "received_at"),   # the burst rule's recent open cases
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24)
    contact_at: datetime = Field(sa_type=UTCDateTime)
    channel: str = Field(max_length=32, index=True)
    customer_name: str = Field(max_length=100)
    customer_id: str | None = Field(default=None, max_length=64, index=True)
    customer_kind: CustomerKind = CustomerKind.individual
    industry: str | None = Field(default=None, max_length=64)
    contact_masked: str | None = Field(default=None, max_length=128)
    contact_hash: str | None = Field(default=None, max_length=64, index=True,
                                     description="HMAC-SHA256 of the normalised contact (kb.privacy.contact_hash)")
    subject: str = Field(max_length=200)
    description: str = Field(max_length=5000)
    order_number: str | None = Field(default=None, max_length=64)
    product: str | None = Field(default=None, max_length=64, index=True)
    module: str | None = Field(default=None, max_length=64)
    product_version: str | None = Field(default=None, max_length=32)
    attachments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    emotion: str | None = Field(default=None, max_length=32)
    type: str = Field(max_length=32, index=True)
    priority: str = Field(max_length=32, index=True)
    status: CaseStatus = Field(default=CaseStatus.pending, index=True)
    owner: str | None = Field(default=None, max_length=32, index=True)
    group: str | None = Field(default=None, max_length=32, index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    response_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_explanation: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_response_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    analysis: str | None = Field(default=None, max_length=5000)
    root_cause: str | None = Field(default=None, max_length=200)
    solution_temp: str | None = Field(default=None, max_length=5000)
    solution_perm: str | None = Field(default=None, max_length=5000)
    result: str | None = Field(default=None, max_length=2000)
    fixed_in_version: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    satisfaction: Satisfaction | None = None
    satisfaction_score: int | None = None
    nps_score: int | None = None
    feedback: str | None = Field(default=None, max_length=2000)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: str | None = Field(default=None, max_length=2000)
    reopen_count: int = 0
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime, index=True)


class CaseHistory(SQLModel, table=True):
    """One row per changed field: who, when, which field, old → new (版本管理)."""

    __tablename__ = "case_history"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=32)
    action: str = Field(max_length=16)
    field: str | None = Field(default=None, max_length=32)
    old_value: str | None = None
    new_value: str | None = None
    note: str | None = Field(default=None, max_length=500)


class CaseHistoryPublic(SQLModel):
    at: datetime
    actor: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    note: str | None


class SolutionUseCreate(Input):
    """One used solution: a similar case (``case``, its number) or an article (``article``, its id)."""

    case: Code | None = None
    article: PositiveInt32 | None = None
    suggestion_id: str | None = Field(default=None, min_length=8, max_length=32,
                                      description="the suggestion that showed it (rank and versions come from it)")
    rank: json_int(1, 100) | None = Field(default=None, description="1-based position in the list it was shown in")


class CaseCreate(Input):
    contact_at: datetime | None = Field(default=None, description="沟通日期/时间; naive means service timezone")
    channel: Code
    customer_name: str = Field(min_length=1, max_length=100)
    customer_id: str | None = Field(default=None, max_length=64)
    customer_kind: CustomerKind = CustomerKind.individual
    industry: str | None = Field(default=None, max_length=64)
    contact: str | None = Field(default=None, max_length=128, description="phone or e-mail; masked on write")
    subject: str = Field(min_length=2, max_length=200)
    description: str = Field(min_length=2, max_length=5000)
    order_number: str | None = Field(default=None, max_length=64)
    product: str | None = Field(default=None, max_length=64)
    module: str | None = Field(default=None, max_length=64)
    product_version: str | None = Field(default=None, max_length=32)
    attachments: list[Ref] = Field(default_factory=list, max_length=20)
    emotion: Code | None = None
    type: Code
    priority: Code
    owner: str | None = Field(default=None, max_length=32)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    notes: str | None = Field(default=None, max_length=2000)
    suggestion_id: str | None = Field(default=None, min_length=8, max_length=32,
                                      description="the proposal shown while logging; records acceptance")
    solution_temp: str | None = Field(default=None, max_length=5000,
                                      description="a solution drafted while logging (the resolve form starts from it)")
    used_solutions: list[SolutionUseCreate] = Field(default_factory=list, max_length=5,
                                                    description="suggested solutions used (用这个方案)")

    _contact_at_in_range = field_validator("contact_at")(lambda cls, value: plausible_instant(value))


class CaseUpdate(Input):
    """Every field optional; only the fields sent are applied (exclude_unset). Fields whose column
    is NOT NULL may be left out but not sent as null (see kb.models.inputs)."""

    contact_at: datetime = None
    channel: Code = None
    customer_name: str = Field(default=None, min_length=1, max_length=100)
    customer_id: str | None = Field(default=None, max_length=64)
    customer_kind: CustomerKind = None
    industry: str | None = Field(default=None, max_length=64)
    contact: str | None = Field(default=None, max_length=128)
    subject: str = Field(default=None, min_length=2, max_length=200)
    description: str = Field(default=None, min_length=2, max_length=5000)
    order_number: str | None = Field(default=None, max_length=64)
    product: str | None = Field(default=None, max_length=64)
    module: str | None = Field(default=None, max_length=64)
    product_version: str | None = Field(default=None, max_length=32)
    attachments: list[Ref] = Field(default=None, max_length=20)
    emotion: Code | None = None
    type: Code = None
    priority: Code = None
    owner: str | None = Field(default=None, max_length=32)
    group: Code | None = None
    tags: list[Tag] = Field(default=None, max_length=20)
    notes: str | None = Field(default=None, max_length=2000)
    analysis: str | None = Field(default=None, max_length=5000)
    root_cause: str | None = Field(default=None, max_length=200)
    first_response: Flag = Field(default=None, description="true records the first response now")

    _contact_at_in_range = field_validator("contact_at")(lambda cls, value: plausible_instant(value))


class CaseTransition(Input):
    status: CaseStatus
    note: str | None = Field(default=None, max_length=500)


class CaseResolve(Input):
    analysis: str | None = Field(default=None, max_length=5000)
    root_cause: str | None = Field(default=None, max_length=200)
    solution_temp: str | None = Field(default=None, max_length=5000, description="临时方案")
    solution_perm: str | None = Field(default=None, max_length=5000, description="永久方案")
    result: str = Field(min_length=1, max_length=2000, description="处理结果")
    fixed_in_version: str | None = Field(default=None, max_length=32)


class CaseFeedback(Input):
    satisfaction: Satisfaction | None = None
    satisfaction_score: json_int(1, 5) | None = None
    nps_score: json_int(0, 10) | None = None
    feedback: str | None = Field(default=None, max_length=2000)
    reopen: Flag = Field(default=False, description="a dissatisfied customer reopens a resolved case")


class CasePublic(SQLModel):
    number: str
    contact_at: datetime
    channel: str
    customer_name: str
    customer_id: str | None
    customer_kind: CustomerKind
    industry: str | None
    contact_masked: str | None
    subject: str
    description: str
    order_number: str | None
    product: str | None
    module: str | None
    product_version: str | None
    attachments: list[str]
    emotion: str | None
    type: str
    priority: str
    status: CaseStatus
    owner: str | None
    group: str | None
    received_at: datetime
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    sla_explanation: dict[str, Any]
    first_response_at: datetime | None
    analysis: str | None
    root_cause: str | None
    solution_temp: str | None
    solution_perm: str | None
    result: str | None
    fixed_in_version: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    satisfaction: Satisfaction | None
    satisfaction_score: int | None
    nps_score: int | None
    feedback: str | None
    tags: list[str]
    notes: str | None
    reopen_count: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    overdue: bool = False


class CaseImport(CaseCreate):
    """A row of an imported spreadsheet (historical records): the fields of a new case plus
    where it already stands. ``received_at`` is the contact time, so SLA and reports place
    it when it happened, not when it was imported."""

    status: CaseStatus = CaseStatus.pending
    resolution_due_at: datetime | None = Field(default=None, description="处理时限 given in the sheet")
    analysis: str | None = Field(default=None, max_length=5000)
    root_cause: str | None = Field(default=None, max_length=200)
    solution_temp: str | None = Field(default=None, max_length=5000)
    solution_perm: str | None = Field(default=None, max_length=5000)
    result: str | None = Field(default=None, max_length=2000)
    fixed_in_version: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = None
    satisfaction: Satisfaction | None = None
    satisfaction_score: json_int(1, 5) | None = None
    nps_score: json_int(0, 10) | None = None
    feedback: str | None = Field(default=None, max_length=2000)
    source_number: str | None = Field(default=None, max_length=64, description="问题编号 in the source sheet")

    _instants_in_range = field_validator("resolution_due_at", "resolved_at")(
        lambda cls, value: plausible_instant(value))


class IdempotencyKey(SQLModel, table=True):
    """A client's ``Idempotency-Key`` for a case it created: the same key and request again
    (a second click, a retry after a timeout) returns that case instead of a duplicate."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("username", "key", name="uq_idempotency_key_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=32)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    case_id: int = Field(foreign_key="case.id")
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
