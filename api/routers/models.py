"""/api/v1/models: the registry seen by analysts — list, metrics, train, promote, rollback, acceptance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from api.deps import Analyst, Id, RegistryDep, SessionDep
from api.routers.jobs import JobPublic
from api.schemas import PROBLEM_RESPONSES
from api.training import get_job, start_training
from kb import suggestions
from kb.models import Job, JobKind, ModelPromotion
from kb.models.inputs import Input, json_int
from kb.taxonomy import active_labels
from kb.text import version as text_version

router = APIRouter(prefix="/api/v1/models", tags=["models"], responses=PROBLEM_RESPONSES)


class ModelVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: str
    status: str
    text_version: str
    labels: dict[str, Any]
    metrics: dict[str, Any]
    data_rows: int
    trained_by: str
    created_at: datetime
    promoted_at: datetime | None
    promoted_by: str | None


class TrainRequest(Input):
    C: float | None = Field(default=None, gt=0, le=100)
    char_ngram_max: json_int(1, 4) | None = None


class PromoteRequest(Input):
    note: str | None = Field(default=None, max_length=500)


@router.get("", response_model=list[ModelVersionPublic], operation_id="models-list")
def list_models(session: SessionDep, registry: RegistryDep, _user: Analyst) -> list[ModelVersionPublic]:
    return [ModelVersionPublic.model_validate(m) for m in registry.list_versions(session)]


@router.post("/train", status_code=202, response_model=JobPublic, operation_id="models-train")
def train(data: TrainRequest, request: Request, registry: RegistryDep, user: Analyst) -> JobPublic:
    """在后台用当前问题库（客服最终确认的类型/优先级）训练新的候选版本；用 GET /models/train/{id} 查看进度。"""
    model: dict[str, Any] = {}
    if data.C is not None:
        model["C"] = data.C
    if data.char_ngram_max is not None:
        model["char_ngram"] = (1, data.char_ngram_max)
    state = request.app.state
    job = start_training(state.engine, registry, actor=user.username, params={"model": model},
                         background=state.settings.train_in_background, index=state.index)
    if state.jobs is not None:
        state.jobs.wake()
    return JobPublic.model_validate(job)


@router.get("/train/{job_id:int}", response_model=JobPublic, operation_id="models-train-status")
def train_status(job_id: Id, session: SessionDep, _user: Analyst) -> JobPublic:
    return JobPublic.model_validate(get_job(session, job_id))


@router.get("/train", response_model=list[JobPublic], operation_id="models-train-list")
def train_jobs(session: SessionDep, _user: Analyst) -> list[JobPublic]:
    jobs = session.exec(select(Job).where(Job.kind == JobKind.train).order_by(Job.id.desc()).limit(50))
    return [JobPublic.model_validate(j) for j in jobs]


@router.get("/{version:model_version}", operation_id="models-get")
def get_model(version: str, session: SessionDep, registry: RegistryDep, _user: Analyst) -> dict:
    """元数据：标签集、数据快照、代码版本、库版本、每类 P/R/F1、混淆矩阵、阈值。"""
    row = registry.get(session, version)
    return {**ModelVersionPublic.model_validate(row).model_dump(mode="json"), "metadata": registry.metadata(version, session)}


@router.post("/{version:model_version}/promote", response_model=ModelVersionPublic, operation_id="models-promote")
def promote(version: str, data: PromoteRequest, request: Request, session: SessionDep, registry: RegistryDep,
            user: Analyst) -> ModelVersionPublic:
    row = registry.promote(session, version, actor=user.username, now=datetime.now(UTC),
                           active_labels=active_labels(session), text_version=text_version(),
                           floors=request.app.state.settings.promotion_floors, note=data.note)
    return ModelVersionPublic.model_validate(row)


@router.post("/rollback", response_model=ModelVersionPublic, operation_id="models-rollback")
def rollback(session: SessionDep, registry: RegistryDep, user: Analyst) -> ModelVersionPublic:
    return ModelVersionPublic.model_validate(
        registry.rollback(session, actor=user.username, now=datetime.now(UTC), active_labels=active_labels(session)))


@router.get("/{version:model_version}/promotions", operation_id="models-promotions")
def promotions(version: str, session: SessionDep, _user: Analyst) -> list[dict]:
    rows = session.exec(select(ModelPromotion).where(ModelPromotion.version == version).order_by(ModelPromotion.id))
    return [r.model_dump(mode="json") for r in rows]


@router.get("/{version:model_version}/acceptance", operation_id="models-acceptance")
def acceptance(version: str, session: SessionDep, registry: RegistryDep, _user: Analyst) -> dict:
    """客服对建议的采纳率：按建议的标签统计（只统计已关联到问题的建议）。"""
    registry.get(session, version)
    return suggestions.acceptance(session, version)
