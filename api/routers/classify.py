"""/api/v1/classify: type and priority proposals for a draft case."""

from __future__ import annotations

from fastapi import APIRouter

from api import triage
from api.deps import ClockDep, PredictorDep, StatementSessionDep, SuggestionLogDep, Triager
from api.schemas import PROBLEM_RESPONSES, ClassifyRequest, ClassifyResponse

router = APIRouter(prefix="/api/v1", tags=["classify"], responses=PROBLEM_RESPONSES)


@router.post("/classify", response_model=ClassifyResponse, operation_id="classify-propose")
def classify(draft: ClassifyRequest, session: StatementSessionDep, predictor: PredictorDep, clock: ClockDep,
             user: Triager, log_writer: SuggestionLogDep) -> ClassifyResponse:
    """建议需求类型与优先级：置信度、备选、驱动词、是否弃权/可自动填写，以及触发的优先级规则。
    返回的 suggestion_id 在登记问题时一并提交，用于统计建议采纳率。"""
    return triage.classify(session, draft, predictor=predictor, clock=clock, actor=user.username,
                            log_writer=log_writer)
