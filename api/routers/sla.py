"""/api/v1/sla: the policy in force and a preview of due times (what would this case get?)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
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


@router.post("/preview", response_model=SlaPreview, operation_id="sla-preview")
def preview(data: SlaPreviewRequest, rules: RulesDep, session: SessionDep, _user: AnyUser) -> SlaPreview:
    require_code(session, "priority", data.priority, field="priority")
    received = rules.clock.local(data.received_at) if data.received_at else rules.clock.now()
    due = rules.sla.due(data.priority, received)
    return SlaPreview(priority=data.priority, received_at=received,
                      response=SlaDue(due_at=due["response"].due_at, explanation=due["response"].explanation),
                      resolution=SlaDue(due_at=due["resolution"].due_at, explanation=due["resolution"].explanation))
