"""/api/v1/cases: log, list, read, update, move through the workflow, resolve, feedback."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import Agent, AnyUser, ClockDep, RulesDep, SessionDep
from api.schemas import PROBLEM_RESPONSES, Page
from kb.cases import queries, service
from kb.clock import Clock
from kb.models import (
    Case,
    CaseCreate,
    CaseFeedback,
    CaseHistoryPublic,
    CasePublic,
    CaseResolve,
    CaseStatus,
    CaseTransition,
    CaseUpdate,
)

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)


def to_public(case: Case, clock: Clock) -> CasePublic:
    now = clock.now()
    public = CasePublic.model_validate(case, update={"overdue": queries.is_overdue(case, now)})
    for name, value in public:
        if isinstance(value, datetime):
            setattr(public, name, value.astimezone(clock.tz))
    return public


@router.post("", status_code=201, response_model=CasePublic, operation_id="cases-create")
def create_case(data: CaseCreate, session: SessionDep, user: Agent, rules: RulesDep, response: Response) -> CasePublic:
    """登记一条新的客户沟通记录：自动编号、联系方式脱敏、按类型分派处理组、计算 SLA 时限。"""
    case = service.create_case(session, data, actor=user.username, rules=rules)
    response.headers["Location"] = f"/api/v1/cases/{case.number}"
    return to_public(case, rules.clock)


@router.get("", response_model=Page[CasePublic], operation_id="cases-list")
def list_cases(
    session: SessionDep,
    _user: AnyUser,
    clock: ClockDep,
    status: Annotated[list[CaseStatus] | None, Query(description="repeatable")] = None,
    type: Annotated[str | None, Query(max_length=32)] = None,
    priority: Annotated[str | None, Query(max_length=32)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    owner: Annotated[str | None, Query(max_length=32)] = None,
    group: Annotated[str | None, Query(max_length=32)] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    product: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[date | None, Query(description="沟通日期 ≥ (service timezone)")] = None,
    date_to: Annotated[date | None, Query(description="沟通日期 ≤ (inclusive)")] = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Page[CasePublic]:
    flt = queries.CaseFilter(
        status=status, type=type, priority=priority, channel=channel, owner=owner, group=group,
        customer_id=customer_id, product=product, overdue=overdue,
        date_from=datetime.combine(date_from, time(0), clock.tz) if date_from else None,
        date_to=datetime.combine(date_to + timedelta(days=1), time(0), clock.tz) if date_to else None,
    )
    rows, total = queries.list_cases(session, flt, now=clock.now(), offset=(page - 1) * page_size, limit=page_size)
    return Page(items=[to_public(c, clock) for c in rows], total=total, page=page, page_size=page_size)


@router.get("/{number}", response_model=CasePublic, operation_id="cases-get")
def get_case(number: str, session: SessionDep, _user: AnyUser, clock: ClockDep) -> CasePublic:
    return to_public(service.get_case_or_raise(session, number), clock)


@router.patch("/{number}", response_model=CasePublic, operation_id="cases-update")
def update_case(number: str, data: CaseUpdate, session: SessionDep, user: Agent, rules: RulesDep) -> CasePublic:
    """修改字段（只改传入的字段）；每个改动都记入历史。"""
    return to_public(service.update_case(session, number, data, actor=user.username, rules=rules), rules.clock)


@router.post("/{number}/transitions", response_model=CasePublic, operation_id="cases-transition")
def transition(number: str, data: CaseTransition, session: SessionDep, user: Agent, rules: RulesDep) -> CasePublic:
    """状态流转：待处理 → 处理中 → 已解决 → 已关闭；升级处理；已解决 → 处理中 为重开。非法流转返回 409。"""
    return to_public(service.transition(session, number, data, actor=user.username, rules=rules), rules.clock)


@router.post("/{number}/resolve", response_model=CasePublic, operation_id="cases-resolve")
def resolve(number: str, data: CaseResolve, session: SessionDep, user: Agent, rules: RulesDep) -> CasePublic:
    """记录问题分析、根因、临时/永久方案和处理结果，并置为已解决。"""
    return to_public(service.resolve(session, number, data, actor=user.username, rules=rules), rules.clock)


@router.post("/{number}/feedback", response_model=CasePublic, operation_id="cases-feedback")
def feedback(number: str, data: CaseFeedback, session: SessionDep, user: Agent, rules: RulesDep) -> CasePublic:
    """登记客户满意度（满意/基本满意/不满意 或 1–5）、NPS（0–10）与反馈；reopen=true 重开。"""
    return to_public(service.record_feedback(session, number, data, actor=user.username, rules=rules), rules.clock)


@router.get("/{number}/history", response_model=list[CaseHistoryPublic], operation_id="cases-history")
def history(number: str, session: SessionDep, _user: AnyUser, clock: ClockDep) -> list[CaseHistoryPublic]:
    return [CaseHistoryPublic.model_validate(h, update={"at": h.at.astimezone(clock.tz)})
            for h in queries.get_history(session, number)]
