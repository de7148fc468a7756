"""/api/v1/customers/history: a customer's earlier cases while a new one is being logged.

A POST with the contact in the body, not a GET: a phone number in a URL ends up in access logs
and browser history."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import or_
from sqlmodel import func, select

from api.deps import AnyUser, ClockDep, ReadSessionDep, RulesDep
from api.schemas import PROBLEM_RESPONSES
from kb.errors import FieldError
from kb.models import Case
from kb.models.inputs import Input
from kb.privacy import contact_hash

router = APIRouter(prefix="/api/v1/customers", tags=["cases"], responses=PROBLEM_RESPONSES)
HISTORY_LIMIT = 10


class CustomerLookup(Input):
    contact: str | None = Field(default=None, max_length=128, description="电话或邮箱，任意写法（+86、空格、大小写）")
    customer_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_of_them(self) -> CustomerLookup:
        if not (self.contact or self.customer_id):
            raise FieldError("contact", "请填写联系方式或客户ID")
        return self


class CustomerCase(BaseModel):
    number: str
    subject: str
    status: str
    type: str
    priority: str
    contact_at: datetime
    updated_at: datetime
    owner: str | None


class CustomerHistory(BaseModel):
    items: list[CustomerCase]
    total: int


@router.post("/history", response_model=CustomerHistory, operation_id="customers-history")
def customer_history(data: CustomerLookup, session: ReadSessionDep, _user: AnyUser, rules: RulesDep,
                     clock: ClockDep) -> CustomerHistory:
    """这位客户以前的问题（最近的在前，最多 10 条）：按联系方式（比对保存时计算的带密钥哈希，
    不保存原始号码）或客户ID 查找。"""
    matches = []
    hashed = contact_hash(data.contact, rules.contact_key)
    if hashed:
        matches.append(Case.contact_hash == hashed)
    if data.customer_id:
        matches.append(Case.customer_id == data.customer_id)
    if not matches:
        return CustomerHistory(items=[], total=0)
    where = or_(*matches)
    total = session.exec(select(func.count()).select_from(Case).where(where)).one()
    rows = session.exec(select(Case).where(where).order_by(Case.contact_at.desc(), Case.id.desc()).limit(HISTORY_LIMIT))
    return CustomerHistory(total=total, items=[CustomerCase(
        number=c.number, subject=c.subject, status=c.status.value, type=c.type, priority=c.priority, owner=c.owner,
        contact_at=c.contact_at.astimezone(clock.tz), updated_at=c.updated_at.astimezone(clock.tz)) for c in rows])
