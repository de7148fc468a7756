"""/api/v1/reports: the supervisor's figures as JSON (for charts) or CSV (for spreadsheets).

Every report takes the same range: ``date_from``/``date_to`` (沟通日期, inclusive, service
timezone; default the last 90 days) and ``granularity`` (day/week/month; default by length)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response

from api.deps import ClockDep, QueryDate, SessionDep, require
from api.schemas import PROBLEM_RESPONSES
from classifier.clusters import cluster_tokens, topic_tokens
from kb import reports
from kb.cases import sheet_export
from kb.errors import FieldError
from kb.models import Role, User

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], responses=PROBLEM_RESPONSES)
Supervisor = Annotated[User, Depends(require(Role.analyst))]   # admin (supervisor) always may
MAX_DAYS = 3 * 366
DEFAULT_DAYS = 90
TITLES = {"volumes": "问题量", "sla": "SLA达成", "satisfaction": "满意度CSAT", "nps": "NPS",
          "top-problems": "高频问题", "acceptance": "建议采纳率", "solution-use": "建议方案采用"}


def report_range(
    clock: ClockDep,
    date_from: Annotated[QueryDate | None, Query(description="沟通日期 ≥ (inclusive); default date_to − 89 days")] = None,
    date_to: Annotated[QueryDate | None, Query(description="沟通日期 ≤ (inclusive); default today")] = None,
    granularity: Annotated[Literal["day", "week", "month"] | None, Query(description="default by range length")] = None,
) -> reports.Range:
    date_to = date_to or clock.now().date()
    date_from = date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise FieldError("date_from", "开始日期晚于结束日期")
    if (date_to - date_from).days >= MAX_DAYS:
        raise FieldError("date_from", f"时间范围最长 {MAX_DAYS} 天")
    return reports.Range(date_from, date_to, granularity or reports.auto_granularity(date_from, date_to), clock.tz)


RangeDep = Annotated[reports.Range, Depends(report_range)]
Format = Annotated[Literal["json", "csv"], Query(description="csv: the report's table, UTF-8 with BOM for Excel")]


def _out(name: str, body: dict, fmt: str, rng: reports.Range):
    if fmt == "json":
        return body
    content = sheet_export.to_csv(body["columns"], [["" if v is None else v for v in row] for row in body["rows"]])
    filename = f"{TITLES[name]}-{rng.date_from:%Y%m%d}-{rng.date_to:%Y%m%d}.csv"
    return Response(content, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


CSV_RESPONSE = {200: {"content": {"application/json": {}, "text/csv": {}}}}


@router.get("/volumes", operation_id="reports-volumes", responses=CSV_RESPONSE)
def volumes(session: SessionDep, _user: Supervisor, rng: RangeDep, format: Format = "json"):
    """问题量：按时段的类型、优先级、渠道分布。"""
    return _out("volumes", reports.volumes(session, rng), format, rng)


@router.get("/sla", operation_id="reports-sla", responses=CSV_RESPONSE)
def sla(session: SessionDep, _user: Supervisor, rng: RangeDep, clock: ClockDep, format: Format = "json"):
    """SLA 达成：按优先级的响应/解决达标率、当前超期问题、响应与解决用时中位数。"""
    return _out("sla", reports.sla(session, rng, now=clock.now()), format, rng)


@router.get("/satisfaction", operation_id="reports-satisfaction", responses=CSV_RESPONSE)
def satisfaction(session: SessionDep, _user: Supervisor, rng: RangeDep, format: Format = "json"):
    """满意度：满意/基本满意/不满意 占比与 CSAT（满意占比）趋势。"""
    return _out("satisfaction", reports.satisfaction(session, rng), format, rng)


@router.get("/nps", operation_id="reports-nps", responses=CSV_RESPONSE)
def nps(session: SessionDep, _user: Supervisor, rng: RangeDep, format: Format = "json"):
    """NPS：推荐者(9–10) − 贬损者(0–6) 的百分比差。"""
    return _out("nps", reports.nps(session, rng), format, rng)


@router.get("/top-problems", operation_id="reports-top-problems", responses=CSV_RESPONSE)
def top_problems(session: SessionDep, _user: Supervisor, rng: RangeDep, format: Format = "json",
                 limit: Annotated[int, Query(ge=1, le=50)] = 10):
    """高频问题：按主题聚类的问题数与趋势（前半段 → 后半段）。"""
    body = reports.top_problems(session, rng, tokenize=topic_tokens, cluster=cluster_tokens, limit=limit)
    return _out("top-problems", body, format, rng)


@router.get("/acceptance", operation_id="reports-acceptance", responses=CSV_RESPONSE)
def acceptance(session: SessionDep, _user: Supervisor, rng: RangeDep, format: Format = "json"):
    """建议采纳率：每个模型版本的类型/优先级建议被客服保留的比例。"""
    return _out("acceptance", reports.acceptance(session, rng), format, rng)


@router.get("/solution-use", operation_id="reports-solution-use", responses=CSV_RESPONSE)
def solution_use(session: SessionDep, _user: Supervisor, rng: RangeDep, format: Format = "json"):
    """建议方案采用：区间内解决的问题中，采用了建议的相似问题或文章方案（用这个方案）的比例，
    以及被采用项在建议列表中的位次 MRR；整体与按模型版本。"""
    return _out("solution-use", reports.solution_use(session, rng), format, rng)
