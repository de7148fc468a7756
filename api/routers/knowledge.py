"""/api/v1/kb: knowledge gaps and articles due for review."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import ClockDep, SessionDep, require
from api.schemas import PROBLEM_RESPONSES
from classifier.clusters import cluster_tokens, topic_tokens
from kb.articles.gaps import gap_report, uncovered_cases
from kb.articles.queries import Reader
from kb.articles.stale import stale_articles
from kb.models import Role, User

router = APIRouter(prefix="/api/v1/kb", tags=["articles"], responses=PROBLEM_RESPONSES)
Curator = Annotated[User, Depends(require(Role.knowledge_manager, Role.analyst))]


@router.get("/gaps", operation_id="kb-gaps")
def gaps(session: SessionDep, user: Curator, clock: ClockDep,
         days: Annotated[int, Query(ge=7, le=730, description="resolved within the last N days")] = 180,
         min_size: Annotated[int, Query(ge=2, le=100)] = 3,
         limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    """知识缺口：没有关联文章的已解决问题按主题聚类，按数量与近期趋势排序；代表性问题的标题作为建议标题。"""
    now = clock.now()
    cases = uncovered_cases(session, since=now - timedelta(days=days), reader=Reader.of(session, user))
    report = gap_report(cases, topic_tokens, cluster_tokens, now=now, min_size=min_size, limit=limit)
    return {"cases_considered": len(cases), "days": days, "gaps": report}


@router.get("/stale", operation_id="kb-stale")
def stale(session: SessionDep, user: Curator, clock: ClockDep) -> dict:
    """需要复审的文章：已过复审日期、修复版本已被新版本取代、有用率下降。"""
    now = clock.now()
    items = stale_articles(session, Reader.of(session, user), today=now.date(), now=now)
    return {"total": len(items), "items": items}
