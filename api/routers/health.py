"""/health: liveness plus the versions and state an operator needs at a glance."""

from __future__ import annotations

import os
import platform
from functools import cache
from importlib.metadata import version

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import func, select

from api.deps import MaybeUser
from api.errors import PROBLEM, RETRY_AFTER_SECONDS
from api.schemas import Problem
from indexer import feed
from kb import jobs
from kb.db import make_session
from kb.models import Case, Role
from kb.text import version as text_version

router = APIRouter(tags=["health"])


@cache
def zhiku_version() -> str:
    return version("zhiku")


@cache
def package_versions() -> dict[str, str]:
    """Read once: importlib.metadata parses each package's METADATA file on every call."""
    versions = {"python": platform.python_version()}
    for name in ("fastapi", "sqlmodel", "chinesecalendar", "scikit-learn", "jieba", "whoosh"):
        versions[name] = version(name)
    return versions


@router.get("/health/live", operation_id="health-live", responses={200: {"description": "the process answers"}})
async def live() -> dict:
    """存活检查：进程在响应即可，不访问数据库（负载均衡器/编排器的 liveness 探针）；worker 是应答的进程号。"""
    return {"status": "ok", "worker": os.getpid()}


@router.get("/health", operation_id="health-get",
            responses={503: {"description": "数据库不可用（readiness 失败）", "model": Problem}})
def health(request: Request, caller: MaybeUser) -> Response:
    """就绪检查：数据库可用时 200（status 为 ok 或 degraded），不可用时 503。
    未登录只返回 status；带管理员密钥时返回数据库、索引、模型与版本详情。"""
    state = request.app.state
    db: dict = {"backend": state.engine.dialect.name}
    try:
        with make_session(state.engine) as session:
            session.exec(text("SELECT 1"))
            db["schema_revision"] = session.exec(text("SELECT version_num FROM alembic_version")).scalar_one()
            db["cases"] = session.exec(select(func.count()).select_from(Case)).one()
            db["outbox_pending"], oldest = feed.backlog(session, feed.cursor_of(state.index))
            db["outbox_lag_seconds"] = (
                round((state.case_rules.clock.now() - oldest).total_seconds(), 1) if oldest else 0.0
            )
            job_queue = jobs.queue_state(session)
        db["ok"] = True
    except Exception as exc:  # health must answer even when the database does not
        db.update(ok=False, error=type(exc).__name__)
    predictor = state.predictor
    bundle = predictor.bundle
    model = {"version": predictor.version, "text_version": bundle.text_version if bundle else None,
             "load_error": predictor.last_error, "refresh_error": state.refresher.last_error}
    text_info = {"version": text_version()}
    if bundle and bundle.text_version != text_info["version"]:
        text_info["note"] = "词典已更新：生产模型仍使用训练时的词典，重新训练后可发布新版本"
    try:
        index = state.index.stats()
    except Exception as exc:  # an unreadable index is reported, not raised
        index = {"problem": f"{type(exc).__name__}: {exc}"}
    worker = state.index_worker
    index["writer_here"] = bool(worker and worker.holds_lock)
    index["writer_error"] = worker.last_error if worker else None
    healthy = db["ok"] and predictor.version and not index.get("problem") and not index["writer_error"]
    status = "ok" if healthy else ("degraded" if db["ok"] else "unavailable")
    headers = {} if db["ok"] else {"Retry-After": str(RETRY_AFTER_SECONDS)}
    body: dict = {"status": status}
    if db["ok"] and caller is not None and caller.role == Role.admin:
        job_queue["worker_here"] = bool(state.jobs and state.jobs.holds_lock)
        body.update(jobs=job_queue, index=index, model=model, text=text_info, version=zhiku_version(), database=db,
                    versions=package_versions())
    if not db["ok"]:
        return JSONResponse({"type": "/problems/database-unavailable", "title": "服务暂不可用 Service unavailable",
                             "status": 503, "detail": "数据库暂时无法访问", "instance": "/health", **body},
                            status_code=503, media_type=PROBLEM, headers=headers)
    return JSONResponse(body)
