"""/api/v1/audiences: who may see which articles (内部公开, 仅技术团队, custom audiences)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AnyUser, KnowledgeManager, SessionDep
from api.schemas import PROBLEM_RESPONSES
from kb.articles import audience as service
from kb.models.article import AudienceCreate, AudiencePublic, AudienceUpdate

router = APIRouter(prefix="/api/v1/audiences", tags=["articles"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=list[AudiencePublic], operation_id="audiences-list")
def list_audiences(session: SessionDep, _user: AnyUser) -> list[AudiencePublic]:
    return [AudiencePublic.model_validate(a) for a in service.list_audiences(session)]


@router.post("", status_code=201, response_model=AudiencePublic, operation_id="audiences-create")
def create_audience(data: AudienceCreate, session: SessionDep, _user: KnowledgeManager) -> AudiencePublic:
    """新建受众：按角色（agent、knowledge_manager、analyst、admin）和/或处理组授权。"""
    return AudiencePublic.model_validate(service.create_audience(session, data))


@router.patch("/{code}", response_model=AudiencePublic, operation_id="audiences-update")
def update_audience(code: str, data: AudienceUpdate, session: SessionDep, _user: KnowledgeManager) -> AudiencePublic:
    return AudiencePublic.model_validate(service.update_audience(session, code, data))
