"""/api/v1/taxonomy: the configurable labels (types, priorities, channels, emotions, groups)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import Admin, AnyUser, SessionDep
from api.schemas import PROBLEM_RESPONSES
from kb import taxonomy
from kb.models import LabelCreate, LabelPublic, LabelUpdate
from kb.models.taxonomy import TaxonomyKind

router = APIRouter(prefix="/api/v1/taxonomy", tags=["taxonomy"], responses=PROBLEM_RESPONSES)
KindPath = Annotated[TaxonomyKind, Path(description="type | priority | channel | emotion | group")]


@router.get("", response_model=dict[str, list[LabelPublic]], operation_id="taxonomy-all")
def all_labels(session: SessionDep, _user: AnyUser) -> dict[str, list[LabelPublic]]:
    out: dict[str, list[LabelPublic]] = {}
    for label in taxonomy.list_labels(session):
        out.setdefault(label.kind, []).append(LabelPublic.model_validate(label))
    return out


@router.get("/{kind}", response_model=list[LabelPublic], operation_id="taxonomy-list")
def list_kind(kind: KindPath, session: SessionDep, _user: AnyUser) -> list[LabelPublic]:
    return [LabelPublic.model_validate(x) for x in taxonomy.list_labels(session, kind)]


@router.post("/{kind}", status_code=201, response_model=LabelPublic, operation_id="taxonomy-create")
def create(kind: KindPath, data: LabelCreate, session: SessionDep, _admin: Admin) -> LabelPublic:
    return LabelPublic.model_validate(taxonomy.create_label(session, kind, data))


@router.patch("/{kind}/{code}", response_model=LabelPublic, operation_id="taxonomy-update")
def update(kind: KindPath, code: str, data: LabelUpdate, session: SessionDep, _admin: Admin) -> LabelPublic:
    """改名、停用（active=false）或改分派组。标签不删除：历史问题仍引用它们。"""
    return LabelPublic.model_validate(taxonomy.update_label(session, kind, code, data))
