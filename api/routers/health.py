"""/health: liveness plus the versions and state an operator needs at a glance."""

from __future__ import annotations

import platform
from functools import cache
from importlib.metadata import version

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlmodel import func, select

from kb.db import make_session
from kb.models import Case, SearchOutbox
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


@router.get("/health", operation_id="health-get")
def health(request: Request) -> dict:
    state = request.app.state
    db: dict = {"backend": state.engine.dialect.name}
    try:
        with make_session(state.engine) as session:
            session.exec(text("SELECT 1"))
            db["schema_revision"] = session.exec(text("SELECT version_num FROM alembic_version")).scalar_one()
            db["cases"] = session.exec(select(func.count()).select_from(Case)).one()
            oldest = session.exec(select(func.min(SearchOutbox.created_at))).one()
            db["outbox_pending"] = session.exec(select(func.count()).select_from(SearchOutbox)).one()
            db["outbox_lag_seconds"] = (
                round((state.case_rules.clock.now() - oldest).total_seconds(), 1) if oldest else 0.0
            )
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
    return {
        "status": "ok" if db["ok"] and predictor.version and not index.get("problem") else "degraded",
        "index": index,
        "model": model,
        "text": text_info,
        "version": zhiku_version(),
        "database": db,
        "versions": package_versions(),
    }
