"""/api/v1/sla: the policy in force and a preview of due times (what would this case get?)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator

from api.deps import AnyUser, RulesDep, SessionDep
from api.schemas import PROBLEM_RESPONSES
from kb.models.case import plausible_instant
from kb.models.inputs import Input
from kb.taxonomy import require_code

router = APIRouter(prefix="/api/v1/sla", tags=["sla"], responses=PROBLEM_RESPONSES)


class SlaPreviewRequest(Input):
    priority: str = Field(min_length=1, max_length=32)
    received_at: datetime | None = Field(default=None, description="default: now; naive = service timezone")

    _received_at_in_range = field_validator("received_at")(lambda cls, value: plausible_instant(value))


class SlaDue(BaseModel):
    due_at: datetime | None
    explanation: dict


class SlaPreview(BaseModel):
    priority: str
    received_at: datetime
    response: SlaDue
    resolution: SlaDue


@router.get("/policy", operation_id="sla-policy")
def policy(rules: RulesDep, _user: AnyUser) -> dict:
    return rules.sla.policy.as_dict()


class CalendarDay(BaseModel):
    date: date
    reason: str


class WorkCalendar(BaseModel):
    year: int
    estimated: bool = Field(description="the calendar package does not know this year's schedule yet: weekends only")
    holidays: list[CalendarDay] = Field(description="statutory days off (weekdays and weekends inside a holiday)")
    makeup_workdays: list[CalendarDay] = Field(description="调休: weekend days that are working days")
    workdays: int


@router.get("/calendar", response_model=WorkCalendar, operation_id="sla-calendar")
def calendar(rules: RulesDep, _user: AnyUser,
             year: Annotated[int, Query(ge=2004, le=2100, description="公历年份")]) -> WorkCalendar:
    """一年的工作日历，与计算时限用的完全相同：法定节假日、调休上班日、工作日数。"""
    holidays, makeup, workdays, estimated = [], [], 0, False
    day = date(year, 1, 1)
    while day.year == year:
        info = rules.sla.calendar.day(day)
        estimated = estimated or info.estimated
        workdays += info.workday
        if info.makeup:
            makeup.append(CalendarDay(date=day, reason=info.reason))
        elif not info.workday and info.reason != "周末":
            holidays.append(CalendarDay(date=day, reason=info.reason))
        day += timedelta(days=1)
    return WorkCalendar(year=year, estimated=estimated, holidays=holidays, makeup_workdays=makeup, workdays=workdays)


@router.post("/preview", response_model=SlaPreview, operation_id="sla-preview")
def preview(data: SlaPreviewRequest, rules: RulesDep, session: SessionDep, _user: AnyUser) -> SlaPreview:
    require_code(session, "priority", data.priority, field="priority")
    received = rules.clock.local(data.received_at) if data.received_at else rules.clock.now()
    due = rules.sla.due(data.priority, received)
    return SlaPreview(priority=data.priority, received_at=received,
                      response=SlaDue(due_at=due["response"].due_at, explanation=due["response"].explanation),
                      resolution=SlaDue(due_at=due["resolution"].due_at, explanation=due["resolution"].explanation))
