"""/api/v1/cases: log, list, read, update, move through the workflow, resolve, feedback."""

from __future__ import annotations

import asyncio
import json
import time as clock_time
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api import balance
from api.deps import Agent, AnyUser, ClockDep, IndexDep, QueryDate, QueryFlag, RulesDep, SessionDep, require
from api.routers.jobs import JobPublic
from api.schemas import PROBLEM_RESPONSES, Page
from indexer import WhooshIndex
from kb import jobs
from kb.articles.queries import Reader
from kb.cases import queries, service, sheet_export, sheet_import
from kb.clock import Clock
from kb.db import make_session
from kb.errors import Conflict, FieldError
from kb.models import (
    Case,
    CaseCreate,
    CaseFeedback,
    CaseHistoryPublic,
    CasePublic,
    CaseResolve,
    CaseStatus,
    CaseTransition,
    CaseUpdate,
    Job,
    JobKind,
    Role,
    SolutionUseCreate,
    User,
)
from kb.solution_use import describe, record_use, uses_of

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NDJSON = "application/x-ndjson"
EXPORT_MAX_ROWS = 50_000
IMPORT_POLL_SECONDS = 0.2
Exporter = Annotated[User, Depends(require(Role.agent, Role.analyst))]


def to_public(case: Case, clock: Clock) -> CasePublic:
    now = clock.now()
    public = CasePublic.model_validate(case, update={"overdue": queries.is_overdue(case, now)})
    for name, value in public:
        if isinstance(value, datetime):
            setattr(public, name, value.astimezone(clock.tz))
    return public


@router.post("", status_code=201, response_model=CasePublic, operation_id="cases-create")
def create_case(
    data: CaseCreate, session: SessionDep, user: Agent, rules: RulesDep, response: Response,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", pattern=r"^[!-~]{1,200}$",
        description="同一个键再次提交同样的内容（重复点击、超时重试）时返回第一次登记的问题，不会重复登记")] = None,
) -> CasePublic:
    """登记一条新的客户沟通记录：自动编号、联系方式脱敏、按类型分派处理组、计算 SLA 时限。"""
    case = None
    if idempotency_key is not None:
        case = service.replay(session, data, actor=user.username, idempotency_key=idempotency_key)
    if case is None:
        try:
            case = service.create_case(session, data, actor=user.username, rules=rules,
                                       idempotency_key=idempotency_key, reader=Reader.of(session, user))
        except Conflict:
            # the same key committed by a concurrent request (a double click): that case is the answer
            case = service.replay(session, data, actor=user.username, idempotency_key=idempotency_key) \
                if idempotency_key is not None else None
            if case is None:
                raise
        else:
            idempotency_key = None
    if idempotency_key is not None:
        # end the transaction the look-up began: a write request's transaction holds SQLite's
        # write lock, and the response is still to be serialised in the thread pool
        session.commit()
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/cases/{case.number}"
    return to_public(case, rules.clock)


def case_filter(
    clock: ClockDep,
    status: Annotated[list[CaseStatus] | None, Query(description="repeatable")] = None,
    type: Annotated[str | None, Query(max_length=32)] = None,
    priority: Annotated[str | None, Query(max_length=32)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    owner: Annotated[str | None, Query(max_length=32)] = None,
    group: Annotated[str | None, Query(max_length=32)] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    product: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[QueryDate | None, Query(description="沟通日期 ≥ (service timezone)")] = None,
    date_to: Annotated[QueryDate | None, Query(description="沟通日期 ≤ (inclusive)")] = None,
    overdue: QueryFlag | None = None,
    q: Annotated[str | None, Query(max_length=100, description="关键词（空格分隔，全部命中）：编号、事由、描述、客户、订单号、标签…")] = None,
    sort: Annotated[Literal["recent", "due"], Query(description="recent：最近沟通在前；due：最先到期在前")] = "recent",
) -> queries.CaseFilter:
    """The list filters, shared by the list and the export."""
    if date_from and date_to and date_from > date_to:
        raise FieldError("date_to", "结束日期早于开始日期")
    return queries.CaseFilter(
        status=status, type=type, priority=priority, channel=channel, owner=owner, group=group,
        customer_id=customer_id, product=product, overdue=overdue, q=q, sort=sort,
        date_from=datetime.combine(date_from, time(0), clock.tz) if date_from else None,
        date_to=datetime.combine(date_to + timedelta(days=1), time(0), clock.tz) if date_to else None,
    )


FilterDep = Annotated[queries.CaseFilter, Depends(case_filter)]


@router.get("", response_model=Page[CasePublic], operation_id="cases-list")
def list_cases(
    session: SessionDep,
    _user: AnyUser,
    clock: ClockDep,
    flt: FilterDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Page[CasePublic]:
    rows, total = queries.list_cases(session, flt, now=clock.now(), offset=(page - 1) * page_size, limit=page_size)
    return Page(items=[to_public(c, clock) for c in rows], total=total, page=page, page_size=page_size)


@router.get("/export", operation_id="cases-export",
            responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "the filtered list, redacted"}})
def export_cases(session: SessionDep, _user: Exporter, clock: ClockDep, flt: FilterDep,
                 format: Annotated[Literal["csv", "xlsx"], Query()] = "xlsx") -> Response:
    """导出筛选后的问题列表（与列表相同的筛选条件）；联系方式已脱敏，文本中的号码已遮盖。最多 50,000 行。"""
    rows, total = queries.list_cases(session, flt, now=clock.now(), offset=0, limit=EXPORT_MAX_ROWS)
    body = [sheet_export.case_row(c, clock.tz) for c in rows]
    headers = sheet_export.export_headers()
    stamp = clock.now().strftime("%Y%m%d-%H%M")
    if format == "csv":
        content, media = sheet_export.to_csv(headers, body), "text/csv; charset=utf-8"
    else:
        content, media = sheet_export.to_xlsx(headers, body), XLSX
    return Response(content, media_type=media, headers={
        "Content-Disposition": _attachment(f"问题记录-{stamp}.{format}"), "X-Total-Count": str(total)})


@router.get("/import/template", operation_id="cases-import-template",
            responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "需求记录表 with 3 examples"}})
def import_template(_user: AnyUser, format: Annotated[Literal["csv", "xlsx"], Query()] = "xlsx") -> Response:
    """下载导入模板（需求记录表，含 3 行示例）。"""
    media = XLSX if format == "xlsx" else "text/csv; charset=utf-8"
    return Response(sheet_export.template(format), media_type=media,
                    headers={"Content-Disposition": _attachment(f"需求记录表模板.{format}")})


@router.post("/import", operation_id="cases-import",
             responses={200: {"content": {"application/json": {}, NDJSON: {}},
                              "description": "the report; NDJSON progress lines first when asked for"},
                        202: {"description": "Prefer: respond-async (or the wait ran out): the job, at Location"}})
async def import_cases(
    request: Request,
    user: Agent,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or XLSX in the 需求记录表 layout")],
    dry_run: Annotated[QueryFlag, Query(description="check every row, store nothing")] = False,
    encoding: Annotated[str | None, Query(max_length=16, description="CSV encoding if not UTF-8/GBK")] = None,
    prefer: Annotated[str | None, Header(max_length=200, description="respond-async: answer 202 at once")] = None,
):
    """导入表格：作为后台任务运行（先检查每一行：行号、列、原因；再分批保存合格行：编号、脱敏、分派、SLA、索引）。
    dry_run=true 只检查不保存。默认等待任务完成并返回报告；Accept: application/x-ndjson 时逐行返回进度，最后一行是报告；
    Prefer: respond-async 时立即返回 202 与任务（GET /api/v1/jobs/{id} 查看进度与报告）。
    等待在事件循环上进行，不占用处理线程：导入期间坐席的保存与建议照常。"""
    content = await file.read(sheet_import.MAX_BYTES + 1)
    state = request.app.state

    def enqueue() -> Job:
        sheet_import.check_upload(content, file.filename or "", encoding=encoding)
        with make_session(state.engine, write=True) as session:
            return jobs.enqueue(session, kind=JobKind.import_cases, actor=user.username,
                                params={"dry_run": dry_run, "encoding": encoding}, upload=content,
                                filename=file.filename or "", message=f"排队中：导入 {file.filename or '表格'}")

    job = await run_in_threadpool(enqueue)
    if state.jobs is not None:
        state.jobs.wake()
    headers = {"Location": f"/api/v1/jobs/{job.id}", "X-Job-Id": str(job.id)}
    if prefer and "respond-async" in prefer.lower():
        return JSONResponse(JobPublic.model_validate(job).model_dump(mode="json"), status_code=202, headers=headers)
    wait = state.settings.import_wait_seconds
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(_progress_lines(state.engine, job.id, wait), media_type=NDJSON, headers=headers)
    done = await _wait_for(state.engine, job.id, wait)
    if done.status == "failed":
        jobs.raise_stored_error(done)
    if done.status != "done":
        return JSONResponse(JobPublic.model_validate(done).model_dump(mode="json"), status_code=202, headers=headers)
    return JSONResponse(done.result, headers=headers)


def _read_job(engine, job_id: int) -> Job:
    with make_session(engine) as session:
        return session.get(Job, job_id)


async def _wait_for(engine, job_id: int, wait: float, on_change=None) -> Job:
    """Poll the job row until it ends or ``wait`` runs out; ``on_change`` sees each new state.
    Sleeps on the event loop: a request waiting minutes for its import held one of the worker's
    few handler threads for that long (measured: agents' saves and suggestions queued behind it)."""
    deadline = clock_time.monotonic() + wait
    seen = None
    with balance.parked():            # waiting is not load (api.balance)
        while True:
            job = await run_in_threadpool(_read_job, engine, job_id)
            state = (job.status, job.result.get("phase"), job.result.get("done"))
            if on_change and state != seen:
                on_change(job)
            seen = state
            if job.status in ("done", "failed") or clock_time.monotonic() >= deadline:
                return job
            await asyncio.sleep(IMPORT_POLL_SECONDS)


async def _progress_lines(engine, job_id: int, wait: float) -> AsyncIterator[bytes]:
    """The job's progress as JSON lines while it runs, the report (or the problem) last."""
    lines: list[dict] = []

    def progress(job: Job) -> None:
        if job.status == "running" and "phase" in job.result:
            lines.append({"phase": job.result["phase"], "done": job.result.get("done", 0),
                          "total": job.result.get("total", 0)})

    deadline = clock_time.monotonic() + wait
    while True:
        job = await _wait_for(engine, job_id, min(1.0, max(deadline - clock_time.monotonic(), 0)), progress)
        for line in lines:
            yield (json.dumps(line, ensure_ascii=False) + "\n").encode()
        lines.clear()
        if job.status in ("done", "failed") or clock_time.monotonic() >= deadline:
            break
    if job.status == "done":
        if not job.result.get("dry_run"):     # the last chunk's count, which polling can miss
            final = {"phase": "store", "done": job.result["imported"], "total": job.result["imported"]}
            yield (json.dumps(final, ensure_ascii=False) + "\n").encode()
        last = {"report": job.result}
    elif job.status == "failed":
        error = job.result.get("error") or {"title": "导入失败", "detail": job.message}
        last = {"error": {"title": error.get("title"), "detail": error.get("detail"), "field": error.get("field")}}
    else:
        last = {"job": job.id, "status": job.status, "detail": f"仍在进行：GET /api/v1/jobs/{job.id} 查看进度"}
    yield (json.dumps(last, ensure_ascii=False) + "\n").encode()


def _attachment(filename: str) -> str:
    return f"attachment; filename*=UTF-8''{quote(filename)}"


@router.get("/{number:case_number}", response_model=CasePublic, operation_id="cases-get")
def get_case(number: str, session: SessionDep, _user: AnyUser, clock: ClockDep) -> CasePublic:
    return to_public(service.get_case_or_raise(session, number), clock)


@router.patch("/{number:case_number}", response_model=CasePublic, operation_id="cases-update")
def update_case(number: str, data: CaseUpdate, session: SessionDep, user: Agent, rules: RulesDep) -> CasePublic:
    """修改字段（只改传入的字段）；每个改动都记入历史。"""
    return to_public(service.update_case(session, number, data, actor=user.username, rules=rules), rules.clock)


@router.post("/{number:case_number}/transitions", response_model=CasePublic, operation_id="cases-transition")
def transition(number: str, data: CaseTransition, session: SessionDep, user: Agent, rules: RulesDep) -> CasePublic:
    """状态流转：待处理 → 处理中 → 已解决 → 已关闭；升级处理；已解决 → 处理中 为重开。非法流转返回 409。"""
    return to_public(service.transition(session, number, data, actor=user.username, rules=rules), rules.clock)


@router.post("/{number:case_number}/resolve", response_model=CasePublic, operation_id="cases-resolve")
def resolve(number: str, data: CaseResolve, session: SessionDep, user: Agent, rules: RulesDep) -> CasePublic:
    """记录问题分析、根因、临时/永久方案和处理结果，并置为已解决。"""
    return to_public(service.resolve(session, number, data, actor=user.username, rules=rules), rules.clock)


class SolutionUsePublic(BaseModel):
    source_kind: Literal["case", "article"]
    case: str | None = Field(description="the similar case whose solution was used")
    article: int | None = Field(description="the article whose solution was used")
    rank: int | None = Field(description="1-based position in the suggestion list it was shown in")
    shown: int | None = Field(description="how many items that list showed")
    model_version: str | None
    place: str
    actor: str
    used_at: datetime


@router.post("/{number:case_number}/solution-uses", status_code=201, response_model=SolutionUsePublic,
             operation_id="cases-solution-uses-create")
def use_solution(number: str, data: SolutionUseCreate, session: SessionDep, user: Agent, clock: ClockDep,
                 index: IndexDep) -> SolutionUsePublic:
    """用这个方案：记录这条问题采用了哪条相似问题或哪篇文章的方案（以及它在建议列表中的位次、模型与索引版本）。
    同一来源重复提交只记一次。"""
    case = service.get_case_or_raise(session, number)
    if case.status == CaseStatus.closed:
        raise Conflict(f"问题 {number} 已关闭", field="status")
    now = clock.now()
    use = record_use(session, case, data, reader=Reader.of(session, user), actor=user.username, now=now, place="case",
                     index_generation=_generation(index))
    session.commit()
    return _use_public(describe(session, use), clock)


@router.get("/{number:case_number}/solution-uses", response_model=list[SolutionUsePublic],
            operation_id="cases-solution-uses")
def solution_uses(number: str, session: SessionDep, _user: AnyUser, clock: ClockDep) -> list[SolutionUsePublic]:
    """这条问题采用过的建议方案。"""
    case = service.get_case_or_raise(session, number)
    return [_use_public(u, clock) for u in uses_of(session, case.id)]


def _use_public(use: dict, clock: Clock) -> SolutionUsePublic:
    return SolutionUsePublic(**{**use, "used_at": use["used_at"].astimezone(clock.tz)})


def _generation(index: WhooshIndex) -> str | None:
    try:
        return index.current_generation()
    except OSError:
        return None


@router.post("/{number:case_number}/feedback", response_model=CasePublic, operation_id="cases-feedback")
def feedback(number: str, data: CaseFeedback, session: SessionDep, user: Agent, rules: RulesDep) -> CasePublic:
    """登记客户满意度（满意/基本满意/不满意 或 1–5）、NPS（0–10）与反馈；reopen=true 重开。"""
    return to_public(service.record_feedback(session, number, data, actor=user.username, rules=rules), rules.clock)


@router.get("/{number:case_number}/history", response_model=list[CaseHistoryPublic], operation_id="cases-history")
def history(number: str, session: SessionDep, _user: AnyUser, clock: ClockDep) -> list[CaseHistoryPublic]:
    return [CaseHistoryPublic.model_validate(h, update={"at": h.at.astimezone(clock.tz)})
            for h in queries.get_history(session, number)]
