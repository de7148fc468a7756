"""/api/v1/articles: the knowledge base — curate (knowledge managers), read (everyone, within
their audiences), versions / diff / restore, publish from a case, feedback, Markdown import/export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from pydantic import Field

from api.deps import AnyUser, ClockDep, Id, KnowledgeManager, QueryFlag, SessionDep
from api.schemas import PROBLEM_RESPONSES, Page
from kb.articles import markdown_io, queries, service
from kb.articles.diff import diff_versions
from kb.articles.render import render_markdown
from kb.clock import Clock
from kb.errors import FieldError
from kb.models import Article, ArticleState
from kb.models.article import (
    MAX_BODY,
    ArticleCreate,
    ArticleFeedbackCreate,
    ArticleFromCase,
    ArticleLinkCases,
    ArticlePublic,
    ArticleRestore,
    ArticleTransition,
    ArticleUpdate,
    ArticleVersionPublic,
    Helpfulness,
)
from kb.models.inputs import INT32_MAX, Input

router = APIRouter(prefix="/api/v1/articles", tags=["articles"], responses=PROBLEM_RESPONSES)
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def rules(request: Request) -> service.ArticleRules:
    return request.app.state.article_rules


def to_public(session, article: Article, clock: Clock, *, links: dict | None = None,
              helpful: dict | None = None) -> ArticlePublic:
    """The API shape; pass ``links``/``helpful`` read for a whole page to avoid a query per article."""
    links = links if links is not None else queries.linked_case_numbers(session, [article.id])
    helpful = helpful if helpful is not None else queries.helpfulness(session, [article.id])
    public = ArticlePublic.model_validate(article, update={
        "body_html": render_markdown(article.body),
        "linked_cases": links.get(article.id, []),
        "helpfulness": helpful.get(article.id, Helpfulness())})
    for name, value in public:
        if isinstance(value, datetime):
            setattr(public, name, value.astimezone(clock.tz))
    return public


def _located(response: Response, article: Article) -> None:
    response.headers["Location"] = f"/api/v1/articles/{article.id}"
    response.headers["ETag"] = f'"{article.version}"'


@router.get("", response_model=Page[ArticlePublic], operation_id="articles-list")
def list_articles(session: SessionDep, user: AnyUser, clock: ClockDep,
                  state: ArticleState | None = None,
                  audience: Annotated[str | None, Query(max_length=32)] = None,
                  product: Annotated[str | None, Query(max_length=64)] = None,
                  tag: Annotated[str | None, Query(max_length=32)] = None,
                  owner: Annotated[str | None, Query(max_length=32)] = None,
                  q: Annotated[str | None, Query(max_length=100, description="关键词（空格分隔，全部命中）：标题、正文、标签")] = None,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                  page_size: Annotated[int, Query(ge=1, le=200)] = 20) -> Page[ArticlePublic]:
    """文章列表（按状态、受众、产品、标签、负责人筛选）；只列出当前用户可见的文章。"""
    rows, total = queries.list_articles(session, queries.Reader.of(session, user), state=state, audience=audience,
                                        product=product, tag=tag, owner=owner, q=q, offset=(page - 1) * page_size,
                                        limit=page_size)
    ids = [a.id for a in rows]
    links, helpful = queries.linked_case_numbers(session, ids), queries.helpfulness(session, ids)
    return Page(items=[to_public(session, a, clock, links=links, helpful=helpful) for a in rows], total=total,
                page=page, page_size=page_size)


@router.post("", status_code=201, response_model=ArticlePublic, operation_id="articles-create")
def create_article(data: ArticleCreate, request: Request, session: SessionDep, user: KnowledgeManager,
                   clock: ClockDep, response: Response) -> ArticlePublic:
    """新建文章草稿（版本 1）。正文为 Markdown，显示时经过清洗。"""
    article = service.create_article(session, data, actor=user.username, now=clock.now(), rules=rules(request))
    _located(response, article)
    return to_public(session, article, clock)


@router.post("/from-case", status_code=201, response_model=ArticlePublic, operation_id="articles-from-case")
def draft_from_case(data: ArticleFromCase, request: Request, session: SessionDep, user: KnowledgeManager,
                    clock: ClockDep, response: Response) -> ArticlePublic:
    """知识沉淀：由已解决的问题按模板生成草稿（现象、分析、临时/永久方案、修复版本、标签），脱敏并关联该问题。"""
    article = service.draft_from_case(session, data, actor=user.username, now=clock.now(), rules=rules(request))
    _located(response, article)
    return to_public(session, article, clock)


@router.get("/export", operation_id="articles-export",
            responses={200: {"content": {"application/zip": {}}, "description": "Markdown files with front matter"}})
def export_articles(session: SessionDep, user: KnowledgeManager, clock: ClockDep,
                    state: ArticleState | None = None) -> Response:
    """导出文章为 Markdown（YAML front matter）压缩包，可再导入。"""
    rows, _ = queries.list_articles(session, queries.Reader.of(session, user), state=state, limit=1_000_000)
    data = markdown_io.export_zip(session, rows)
    stamp = clock.now().strftime("%Y%m%d-%H%M")
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="zhiku-articles-{stamp}.zip"'})


@router.post("/import", operation_id="articles-import")
async def import_articles(request: Request, session: SessionDep, user: KnowledgeManager, clock: ClockDep,
                          files: Annotated[list[UploadFile], File(description=".md files or a .zip of them", min_length=1)],
                          dry_run: QueryFlag = False) -> dict:
    """批量导入 Markdown（YAML front matter：title、audience、tags、product…）。先校验全部文件；
    有错误时不导入任何文章，并列出每个文件的错误。dry_run=true 只校验。"""
    items: list[tuple[str, bytes]] = []
    total = 0
    for upload in files:
        raw = await upload.read(MAX_IMPORT_BYTES + 1)
        total += len(raw)
        if total > MAX_IMPORT_BYTES:
            raise FieldError("files", f"导入文件合计超过 {MAX_IMPORT_BYTES // 1024 // 1024} MB")
        items.extend(markdown_io.unpack(upload.filename or "upload.md", raw))
    return markdown_io.import_articles(session, items, actor=user.username, now=clock.now(), rules=rules(request),
                                       dry_run=dry_run)


class PreviewRequest(Input):
    body: str = Field(max_length=MAX_BODY, description="Markdown")


@router.post("/preview", operation_id="articles-preview")
def preview(data: PreviewRequest, _user: KnowledgeManager) -> dict:
    """Markdown 预览：与发布后相同的渲染与清洗（编辑器实时预览用）。"""
    return {"html": render_markdown(data.body)}


@router.get("/{article_id:int}", response_model=ArticlePublic, operation_id="articles-get")
def get_article(article_id: Id, session: SessionDep, user: AnyUser, clock: ClockDep,
                response: Response) -> ArticlePublic:
    article = queries.get_visible(session, article_id, queries.Reader.of(session, user))
    response.headers["ETag"] = f'"{article.version}"'
    return to_public(session, article, clock)


@router.patch("/{article_id:int}", response_model=ArticlePublic, operation_id="articles-update")
def update_article(article_id: Id, data: ArticleUpdate, session: SessionDep, user: KnowledgeManager,
                   clock: ClockDep, response: Response) -> ArticlePublic:
    """修改正文或元数据：每次保存生成新版本。必须带上编辑时的 version；期间已被他人修改则返回 409。"""
    article = service.update_article(session, article_id, data, actor=user.username, now=clock.now())
    response.headers["ETag"] = f'"{article.version}"'
    return to_public(session, article, clock)


@router.post("/{article_id:int}/transitions", response_model=ArticlePublic, operation_id="articles-transition")
def transition(article_id: Id, data: ArticleTransition, request: Request, session: SessionDep,
               user: KnowledgeManager, clock: ClockDep) -> ArticlePublic:
    """状态流转：草稿 → 审核中 → 已发布 → 已归档（审核步骤可配置）。"""
    article = service.transition(session, article_id, data, actor=user.username, now=clock.now(),
                                 rules=rules(request))
    return to_public(session, article, clock)


@router.get("/{article_id:int}/versions", response_model=list[ArticleVersionPublic], operation_id="articles-versions")
def list_versions(article_id: Id, session: SessionDep, user: AnyUser) -> list[ArticleVersionPublic]:
    queries.get_visible(session, article_id, queries.Reader.of(session, user))
    return [ArticleVersionPublic.model_validate(v) for v in service.list_versions(session, article_id)]


@router.get("/{article_id:int}/versions/{number:int}", response_model=ArticleVersionPublic, operation_id="articles-version")
def get_version(article_id: Id, number: Id, session: SessionDep, user: AnyUser) -> ArticleVersionPublic:
    queries.get_visible(session, article_id, queries.Reader.of(session, user))
    return ArticleVersionPublic.model_validate(service.get_version_or_raise(session, article_id, number))


@router.get("/{article_id:int}/diff", operation_id="articles-diff")
def diff(article_id: Id, session: SessionDep, user: AnyUser,
         from_version: Annotated[int, Query(alias="from", ge=1, le=INT32_MAX)],
         to_version: Annotated[int, Query(alias="to", ge=1, le=INT32_MAX)]) -> dict:
    """比较任意两个版本：正文逐行（unified 文本与并排行）以及变化的元数据字段。"""
    queries.get_visible(session, article_id, queries.Reader.of(session, user))
    return diff_versions(service.get_version_or_raise(session, article_id, from_version),
                         service.get_version_or_raise(session, article_id, to_version))


@router.post("/{article_id:int}/versions/{number:int}/restore", response_model=ArticlePublic,
             operation_id="articles-restore")
def restore(article_id: Id, number: Id, data: ArticleRestore, session: SessionDep, user: KnowledgeManager,
            clock: ClockDep) -> ArticlePublic:
    """恢复到某个版本（生成一个新版本，历史不丢失）。"""
    article = service.restore(session, article_id, number, data, actor=user.username, now=clock.now())
    return to_public(session, article, clock)


@router.post("/{article_id:int}/cases", response_model=ArticlePublic, operation_id="articles-link-cases")
def link_cases(article_id: Id, data: ArticleLinkCases, session: SessionDep, user: KnowledgeManager,
               clock: ClockDep) -> ArticlePublic:
    """把更多问题关联到这篇文章（来源问题）。"""
    service.link_cases(session, article_id, data.case_numbers, actor=user.username, now=clock.now())
    return to_public(session, service.get_article_or_raise(session, article_id), clock)


@router.post("/{article_id:int}/feedback", status_code=201, response_model=Helpfulness, operation_id="articles-feedback")
def feedback(article_id: Id, data: ArticleFeedbackCreate, session: SessionDep, user: AnyUser,
             clock: ClockDep) -> Helpfulness:
    """坐席反馈：这篇文章对这个问题「有帮助 / 没帮助」（可附说明）。返回文章最新的有用率。"""
    article = queries.get_visible(session, article_id, queries.Reader.of(session, user))
    service.record_feedback(session, article, data, actor=user.username, now=clock.now())
    return queries.helpfulness(session, [article_id]).get(article_id, Helpfulness())

