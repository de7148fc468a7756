"""/api/v1/jobs: the background work any node can report on (training, imports, index
rebuilds) — progress, log and outcome; and /api/v1/index/rebuild to queue rebuilds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlmodel import select

from api.deps import Admin, AnyUser, Id, SessionDep
from api.schemas import PROBLEM_RESPONSES
from indexer import feed
from kb import jobs
from kb.models import IndexReplica, JobKind

router = APIRouter(tags=["jobs"], responses=PROBLEM_RESPONSES)


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    status: str
    progress: float
    message: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    version: str | None
    result: dict[str, Any]
    log: list[Any]
    runner: str | None
    node: str | None
    attempts: int


@router.get("/api/v1/jobs", response_model=list[JobPublic], operation_id="jobs-list")
def list_jobs(session: SessionDep, user: AnyUser,
              kind: Annotated[Literal["train", "import", "rebuild"] | None, Query()] = None,
              status: Annotated[Literal["queued", "running", "done", "failed"] | None, Query()] = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[JobPublic]:
    """后台任务（训练、导入、索引重建）：管理员与分析师看到全部，其他人看到自己发起的。"""
    return [JobPublic.model_validate(j) for j in jobs.list_visible(session, user, kind=kind, status=status, limit=limit)]


@router.get("/api/v1/jobs/{job_id:int}", response_model=JobPublic, operation_id="jobs-get")
def get_job(job_id: Id, session: SessionDep, user: AnyUser) -> JobPublic:
    """任务进度、日志与结果（导入的报告、重建的代数）。"""
    return JobPublic.model_validate(jobs.get_visible(session, job_id, user))


@router.post("/api/v1/jobs/{job_id:int}/cancel", response_model=JobPublic, operation_id="jobs-cancel")
def cancel_job(job_id: Id, session: SessionDep, user: AnyUser) -> JobPublic:
    """取消排队中的任务（已开始的任务会自行完成或失败）。"""
    return JobPublic.model_validate(jobs.cancel(session, job_id, user))


@router.post("/api/v1/index/rebuild", status_code=202, response_model=list[JobPublic], operation_id="index-rebuild")
def rebuild_index(request: Request, session: SessionDep, user: Admin) -> list[JobPublic]:
    """为每个索引副本（每个节点一个）排队一个重建任务，由该节点的任务进程执行；
    重建期间搜索照常使用旧索引，完成后切换。"""
    state = request.app.state
    nodes = set(session.exec(select(IndexReplica.name)).all()) | {feed.replica_name(state.index.root)}
    queued = [jobs.enqueue(session, kind=JobKind.rebuild, actor=user.username, node=node,
                           message=f"排队中：重建节点 {node} 的索引") for node in sorted(nodes)]
    if state.jobs is not None:
        state.jobs.wake()
    return [JobPublic.model_validate(j) for j in queued]
