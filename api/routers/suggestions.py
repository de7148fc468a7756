"""/api/v1/suggestions and /api/v1/search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api import suggest
from api.deps import (AnyUser, ClockDep, IndexDep, PredictorDep, StatementSessionDep, SessionDep, SuggestionLogDep,
                      Triager)
from api.schemas import PROBLEM_RESPONSES, SearchResponse, SuggestionRequest, SuggestionResponse
from kb.articles.queries import Reader

router = APIRouter(prefix="/api/v1", tags=["suggestions"], responses=PROBLEM_RESPONSES)


@router.post("/suggestions", response_model=SuggestionResponse, operation_id="suggestions-create")
async def create_suggestion(draft: SuggestionRequest, request: Request, session: StatementSessionDep,
                            predictor: PredictorDep, index: IndexDep, clock: ClockDep, user: Triager,
                            log_writer: SuggestionLogDep) -> Response:
    """登记时的建议：类型与优先级、相似的已解决问题及其解决方案（原文高亮）、相关知识文章。
    模型或索引不可用时仍然返回已有部分，并在 missing 中说明。"""
    state = request.app.state

    def work() -> bytes:
        result = suggest.suggest(session, draft, predictor=predictor, index=index, clock=clock, actor=user.username,
                                 reader=Reader.of(session, user), k=state.settings.similar_k,
                                 log_writer=log_writer, vectors=state.vectors)
        # serialised here, in the handler's thread: returned as a model, FastAPI validates it
        # again and serialises it on a second trip through the thread pool
        return result.model_dump_json()

    body = await state.search_gate.run(work)      # one suggestion or search at a time per worker (api.gate)
    return Response(body, media_type="application/json")


@router.get("/search", response_model=SearchResponse, operation_id="search-cases")
async def search(request: Request, session: SessionDep, index: IndexDep, user: AnyUser,
                 q: Annotated[str, Query(min_length=1, max_length=500, description="繁体/简体均可；产品代码精确匹配")],
                 kind: Annotated[str, Query(pattern="^(case|article)$",
                                            description="case: 已解决的问题; article: 知识文章")] = "case",
                 type: Annotated[str | None, Query(max_length=32)] = None,
                 product: Annotated[str | None, Query(max_length=64)] = None,
                 status: Annotated[str | None, Query(pattern="^(已解决|已关闭)$")] = None,
                 page: Annotated[int, Query(ge=1, le=1000)] = 1,
                 page_size: Annotated[int, Query(ge=1, le=100)] = 20) -> SearchResponse:
    """搜索已解决的问题（标题、描述、分析、解决方案），或（kind=article）当前用户可见的已发布知识文章。"""

    def work() -> SearchResponse:
        return suggest.search(session, index, q, page=page, page_size=page_size, kind=kind,
                              filters={"type": type, "product": product, "status": status},
                              reader=Reader.of(session, user) if kind == "article" else None)

    return await request.app.state.search_gate.run(work)
