"""Service reports for supervisors and analysts: volumes, SLA attainment, CSAT, NPS, top
problems and suggestion acceptance, for a date range in the service timezone.

Every report returns the figures for charts *and* one flat table (``columns`` + ``rows``),
which is what the CSV download writes, so a chart, its table and its CSV never disagree.
Cases belong to the period of their contact time (沟通日期); acceptance to the time the
proposal was linked to a saved case. Bucketing is done here, not in SQL, because local-time
date arithmetic differs between SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case as sql_case
from sqlmodel import Session, func, select

from kb.cases.workflow import OPEN_STATES
from kb.models import Case, Satisfaction, SuggestionLog
from kb.taxonomy import list_labels
from kb.text.titles import merge_same_titles

GRANULARITIES = ("day", "week", "month")
TOP_PROBLEM_CASES = 3000   # clustering is O(n²): the newest cases of the range


@dataclass(frozen=True)
class Range:
    date_from: date
    date_to: date              # inclusive
    granularity: str
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time(0), self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.date_to + timedelta(days=1), time(0), self.tz)

    def period(self, moment: datetime) -> str:
        return period_of(moment.astimezone(self.tz).date(), self.granularity)

    def periods(self) -> list[str]:
        out, day = [], self.date_from
        while day <= self.date_to:
            p = period_of(day, self.granularity)
            if not out or out[-1] != p:
                out.append(p)
            day += timedelta(days=1)
        return out

    def meta(self) -> dict[str, Any]:
        return {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(),
                "granularity": self.granularity, "periods": self.periods()}


def period_of(day: date, granularity: str) -> str:
    if granularity == "month":
        return day.strftime("%Y-%m")
    if granularity == "week":
        return (day - timedelta(days=day.weekday())).isoformat()   # the week's Monday
    return day.isoformat()


def auto_granularity(date_from: date, date_to: date) -> str:
    days = (date_to - date_from).days + 1
    return "day" if days <= 31 else "week" if days <= 190 else "month"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _cases(session: Session, rng: Range, *columns):
    """Plain Core rows of the cases contacted in the range (no ORM objects: 100k of them)."""
    return session.connection().execute(select(*columns).where(Case.contact_at >= rng.start, Case.contact_at < rng.end))


class _PeriodIndex:
    """Position of a moment's period, looked up once per quarter hour (every real UTC offset is a
    multiple of 15 minutes): converting each of 100k moments to local time was most of a
    report's loop."""

    def __init__(self, rng: Range) -> None:
        self.rng = rng
        self.position = {p: i for i, p in enumerate(rng.periods())}
        self.seen: dict[datetime, int] = {}

    def __call__(self, moment: datetime) -> int:
        quarter = moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)
        i = self.seen.get(quarter)
        if i is None:
            i = self.seen[quarter] = self.position[self.rng.period(quarter)]
        return i


# ---------------------------------------------------------------- volumes

def volumes(session: Session, rng: Range) -> dict[str, Any]:
    periods = rng.periods()
    series: dict[str, dict[str, list[int]]] = {d: {} for d in ("type", "priority", "channel")}
    totals: dict[str, Counter] = {d: Counter() for d in series}
    period_index = _PeriodIndex(rng)
    per_period = [0] * len(periods)
    for at, type_, priority, channel in _cases(session, rng, Case.contact_at, Case.type, Case.priority, Case.channel):
        i = period_index(at)
        per_period[i] += 1
        for dim, value in (("type", type_), ("priority", priority), ("channel", channel)):
            series[dim].setdefault(value, [0] * len(periods))[i] += 1
            totals[dim][value] += 1
    rows = [[p, dim, value, counts[i]] for dim in series for value, counts in sorted(series[dim].items())
            for i, p in enumerate(periods)]
    return {**rng.meta(), "total": sum(per_period), "per_period": per_period, "series": series,
            "totals": {d: dict(c.most_common()) for d, c in totals.items()},
            "columns": ["时段", "维度", "取值", "问题数"],
            "rows": [[p, {"type": "需求类型", "priority": "优先级", "channel": "沟通渠道"}[d], v, n]
                     for p, d, v, n in rows]}


# ---------------------------------------------------------------- SLA

def _hours(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() / 3600 if a and b else None


SLA_COLUMNS = (Case.number, Case.subject, Case.owner, Case.priority, Case.status, Case.contact_at, Case.received_at,
               Case.first_response_at, Case.response_due_at, Case.resolved_at, Case.resolution_due_at)


def sla(session: Session, rng: Range, *, now: datetime) -> dict[str, Any]:
    """Attainment of the response and resolution targets for cases received in the range.

    Response: met when the first response came by its due time; missed when it came late
    or has not come and the due time has passed. Resolution likewise with the resolution
    time. Cases still inside their time are *pending* and in neither count."""
    by: dict[str, dict[str, Any]] = defaultdict(lambda: {"cases": 0, "resp_met": 0, "resp_missed": 0, "res_met": 0,
                                                         "res_missed": 0, "overdue": 0, "resp_h": [], "res_h": []})
    periods = rng.periods()
    met_series, missed_series = [0] * len(periods), [0] * len(periods)
    overdue_cases = []
    period_index = _PeriodIndex(rng)
    # the columns this report reads, through the Core (no ORM objects), each row judged once:
    # 3.0 s → 1.1 s for 100k cases in range (bench/browser_walk.py, docs/reports.md)
    rows = _cases(session, rng, *SLA_COLUMNS)
    for c in rows:
        is_open = c.status in OPEN_STATES
        resp = resp_h = res = res_h = None
        if c.response_due_at:
            if c.first_response_at:
                resp = "resp_met" if c.first_response_at <= c.response_due_at else "resp_missed"
                resp_h = _hours(c.received_at, c.first_response_at)
            elif c.response_due_at < now:
                resp = "resp_missed"
        if c.resolution_due_at:
            if c.resolved_at:
                res = "res_met" if c.resolved_at <= c.resolution_due_at else "res_missed"
            elif is_open and c.resolution_due_at < now:
                res = "res_missed"
        if c.resolved_at:
            res_h = _hours(c.received_at, c.resolved_at)
        overdue = is_open and ((c.resolution_due_at is not None and c.resolution_due_at < now) or (
            c.first_response_at is None and c.response_due_at is not None and c.response_due_at < now))
        for key in (c.priority, "合计"):
            b = by[key]
            b["cases"] += 1
            if resp:
                b[resp] += 1
            if resp_h is not None:
                b["resp_h"].append(resp_h)
            if res:
                b[res] += 1
            if res_h is not None:
                b["res_h"].append(res_h)
            if overdue:
                b["overdue"] += 1
        i = period_index(c.contact_at)
        if res == "res_met":
            met_series[i] += 1
        elif res == "res_missed":
            missed_series[i] += 1
        if overdue and len(overdue_cases) < 200:
            overdue_cases.append({"number": c.number, "subject": c.subject, "priority": c.priority,
                                  "status": c.status.value, "owner": c.owner,
                                  "resolution_due_at": c.resolution_due_at.astimezone(rng.tz).isoformat()
                                  if c.resolution_due_at else None})
    table = []
    rank = {label.code: i for i, label in enumerate(list_labels(session, "priority"))}   # 高, 中, 低 as configured
    order = sorted((k for k in by if k != "合计"), key=lambda k: (rank.get(k, len(rank)), k)) + \
        (["合计"] if "合计" in by else [])
    summary = {}
    for key in order:
        b = by[key]
        resp_rate = _rate(b["resp_met"], b["resp_met"] + b["resp_missed"])
        res_rate = _rate(b["res_met"], b["res_met"] + b["res_missed"])
        med_resp = round(statistics.median(b["resp_h"]), 2) if b["resp_h"] else None
        med_res = round(statistics.median(b["res_h"]), 2) if b["res_h"] else None
        summary[key] = {"cases": b["cases"], "response_met": b["resp_met"], "response_missed": b["resp_missed"],
                        "response_rate": resp_rate, "resolution_met": b["res_met"],
                        "resolution_missed": b["res_missed"], "resolution_rate": res_rate, "overdue": b["overdue"],
                        "median_response_hours": med_resp, "median_resolution_hours": med_res}
        table.append([key, b["cases"], b["resp_met"], b["resp_missed"], resp_rate, b["res_met"], b["res_missed"],
                      res_rate, b["overdue"], med_resp, med_res])
    overdue_cases.sort(key=lambda x: x["resolution_due_at"] or "")
    return {**rng.meta(), "overall": summary.get("合计"), "by_priority": {k: v for k, v in summary.items()
                                                                          if k != "合计"},
            "resolution_series": {"met": met_series, "missed": missed_series,
                                  "rate": [_rate(m, m + x) for m, x in zip(met_series, missed_series, strict=True)]},
            "overdue_cases": overdue_cases,
            "columns": ["优先级", "问题数", "响应达标", "响应超时", "响应达标率", "解决达标", "解决超时", "解决达标率",
                        "当前超期", "响应中位小时", "解决中位小时"],
            "rows": table}


# ---------------------------------------------------------------- CSAT and NPS

def satisfaction(session: Session, rng: Range) -> dict[str, Any]:
    """CSAT: the share of rated cases rated 满意 (基本满意 and 不满意 shown beside it)."""
    periods = rng.periods()
    period_index = _PeriodIndex(rng)
    labels = [s.value for s in Satisfaction]
    counts = {label: [0] * len(periods) for label in labels}
    for at, value in session.exec(select(Case.contact_at, Case.satisfaction).where(
            Case.contact_at >= rng.start, Case.contact_at < rng.end, Case.satisfaction.is_not(None))):
        counts[value.value if hasattr(value, "value") else value][period_index(at)] += 1
    totals = {label: sum(v) for label, v in counts.items()}
    rated = sum(totals.values())
    per_period_rated = [sum(counts[label][i] for label in labels) for i in range(len(periods))]
    csat_series = [_rate(counts["满意"][i], n) for i, n in enumerate(per_period_rated)]
    rows = [[p, *(counts[label][i] for label in labels), per_period_rated[i], csat_series[i]]
            for i, p in enumerate(periods)]
    rows.append(["合计", *(totals[label] for label in labels), rated, _rate(totals["满意"], rated)])
    return {**rng.meta(), "rated": rated, "counts": totals,
            "shares": {label: _rate(n, rated) for label, n in totals.items()},
            "csat": _rate(totals["满意"], rated), "series": counts, "csat_series": csat_series,
            "columns": ["时段", *labels, "评价数", "CSAT（满意占比）"], "rows": rows}


def nps(session: Session, rng: Range) -> dict[str, Any]:
    """NPS = % promoters (9–10) − % detractors (0–6), over cases with a 0–10 score."""
    periods = rng.periods()
    period_index = _PeriodIndex(rng)
    buckets = {k: [0] * len(periods) for k in ("promoters", "passives", "detractors")}
    for at, score in session.exec(select(Case.contact_at, Case.nps_score).where(
            Case.contact_at >= rng.start, Case.contact_at < rng.end, Case.nps_score.is_not(None))):
        kind = "promoters" if score >= 9 else "passives" if score >= 7 else "detractors"
        buckets[kind][period_index(at)] += 1

    def score_of(p: int, pa: int, d: int) -> float | None:
        n = p + pa + d
        return round(100 * (p - d) / n, 1) if n else None

    series = [score_of(*(buckets[k][i] for k in buckets)) for i in range(len(periods))]
    totals = {k: sum(v) for k, v in buckets.items()}
    rows = [[p, *(buckets[k][i] for k in buckets), sum(buckets[k][i] for k in buckets), series[i]]
            for i, p in enumerate(periods)]
    rows.append(["合计", *totals.values(), sum(totals.values()), score_of(*totals.values())])
    return {**rng.meta(), "responses": sum(totals.values()), **totals, "nps": score_of(*totals.values()),
            "series": buckets, "nps_series": series,
            "columns": ["时段", "推荐者(9–10)", "被动者(7–8)", "贬损者(0–6)", "回答数", "NPS"], "rows": rows}


# ---------------------------------------------------------------- top problems


def top_problems(session: Session, rng: Range, *, tokenize: Callable[[str], list[str]], cluster,
                 limit: int = 10, min_size: int = 3) -> dict[str, Any]:
    """The most frequent problems of the range: cases grouped by topic (the same clustering
    as knowledge gaps), with counts per period and the change from the first half of the
    range to the second."""
    cases = list(session.exec(select(Case.number, Case.subject, Case.description, Case.contact_at, Case.product,
                                     Case.type)
                              .where(Case.contact_at >= rng.start, Case.contact_at < rng.end)
                              .order_by(Case.contact_at.desc()).limit(TOP_PROBLEM_CASES)))
    clusters = merge_same_titles(cluster([tokenize(f"{c.subject}\n{c.description}") for c in cases], min_size=min_size),
                                 [c.subject for c in cases])
    periods = rng.periods()
    period_index = _PeriodIndex(rng)
    middle = rng.start + (rng.end - rng.start) / 2
    problems = []
    for rank, cl in enumerate(clusters[:limit], start=1):
        members = [cases[i] for i in cl.members]
        series = [0] * len(periods)
        for c in members:
            series[period_index(c.contact_at)] += 1
        first = sum(1 for c in members if c.contact_at < middle)
        second = len(members) - first
        products = Counter(c.product for c in members if c.product)
        problems.append({
            "rank": rank, "title": members[0].subject, "top_terms": cl.top_terms, "count": len(members),
            "first_half": first, "second_half": second, "trend": second - first, "series": series,
            "products": [p for p, _ in products.most_common(3)],
            "types": [t for t, _ in Counter(c.type for c in members).most_common(2)],
            "examples": [c.number for c in members[:5]],
        })
    return {**rng.meta(), "cases_considered": len(cases), "problems": problems,
            "columns": ["排名", "问题", "关键词", "问题数", "前半段", "后半段", "变化", "产品", "示例问题编号"],
            "rows": [[p["rank"], p["title"], " ".join(p["top_terms"]), p["count"], p["first_half"], p["second_half"],
                      p["trend"], "、".join(p["products"]), " ".join(p["examples"])] for p in problems]}


# ---------------------------------------------------------------- suggestion acceptance

def acceptance(session: Session, rng: Range) -> dict[str, Any]:
    """Per model version: proposals shown on saved cases, and how many the agent kept."""
    rows = session.exec(
        select(SuggestionLog.model_version,
               func.sum(sql_case((SuggestionLog.type_accepted.is_not(None), 1), else_=0)),
               func.sum(sql_case((SuggestionLog.type_accepted == True, 1), else_=0)),
               func.sum(sql_case((SuggestionLog.priority_accepted.is_not(None), 1), else_=0)),
               func.sum(sql_case((SuggestionLog.priority_accepted == True, 1), else_=0)))
        .where(SuggestionLog.case_id.is_not(None), SuggestionLog.linked_at >= rng.start,
               SuggestionLog.linked_at < rng.end)
        .group_by(SuggestionLog.model_version).order_by(SuggestionLog.model_version))
    versions = []
    for version, t_shown, t_ok, p_shown, p_ok in rows:
        t_shown, t_ok, p_shown, p_ok = (int(x or 0) for x in (t_shown, t_ok, p_shown, p_ok))
        versions.append({"version": version or "规则（无模型）", "type_shown": t_shown, "type_accepted": t_ok,
                         "type_rate": _rate(t_ok, t_shown), "priority_shown": p_shown, "priority_accepted": p_ok,
                         "priority_rate": _rate(p_ok, p_shown)})
    return {**rng.meta(), "versions": versions,
            "columns": ["模型版本", "类型建议数", "类型采纳", "类型采纳率", "优先级建议数", "优先级采纳", "优先级采纳率"],
            "rows": [[v["version"], v["type_shown"], v["type_accepted"], v["type_rate"], v["priority_shown"],
                      v["priority_accepted"], v["priority_rate"]] for v in versions]}



def solution_use(session: Session, rng: Range) -> dict[str, Any]:
    """Suggestion quality from use: over cases resolved in the range, the share that used a
    suggested solution (用这个方案) and the MRR of the first used item among those shown —
    for all cases and per model version that served the case's logging suggestion."""
    from kb.solution_use import quality

    q = quality(session, rng.start, rng.end)
    lines = [{"version": "全部", **q["all"]}] + [{**v, "version": v["version"] or "规则（无模型）"} for v in q["versions"]]
    return {**rng.meta(), "all": q["all"], "versions": q["versions"],
            "columns": ["模型版本", "已解决问题", "采用建议方案", "采用率", "采用位次 MRR", "来自相似问题", "来自文章"],
            "rows": [[v["version"], v["resolved"], v["used"], v["share"], v["mrr"], v["from_cases"], v["from_articles"]]
                     for v in lines]}
