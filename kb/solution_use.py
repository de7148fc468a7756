"""用这个方案: an agent used a suggested case's or article's solution for a case.

Each use is a link (case ↔ source case or article) with the suggestion that showed it, the
rank it was shown at, and the model and index generation that served it. The links are the
desk's own relevance labels — suggestion quality is measured from them (share of resolved
cases that used a suggestion, MRR of the used item) and a learned ranker can train on them.

The rank comes from the suggestion's own record of what it showed when that record is
here (a client cannot claim rank 1 for what was shown fifth); a suggestion served by another
node moments ago may not be written yet, and then the client's rank is kept as sent."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session, func, select

from kb.articles.queries import Reader, get_many_visible
from kb.errors import FieldError
from kb.models import Case, CaseStatus, SolutionUse, SolutionUseCreate, SuggestionLog
from kb.suggestion_log import may_still_arrive, pending_row

PLACES = ("workspace", "case")
RESOLVED = (CaseStatus.resolved, CaseStatus.closed)


def _suggestion(session: Session, suggestion_id: str) -> tuple[str | None, dict[str, Any]] | None:
    """(model version, details) of a served suggestion, or None when it is not (yet) here."""
    row = session.get(SuggestionLog, suggestion_id)
    if row is not None and row.source != "pending":
        return row.model_version, row.details or {}
    pending = pending_row(suggestion_id)
    if pending is not None:
        return pending.get("model_version"), pending.get("details") or {}
    return None


def record_use(session: Session, case: Case, data: SolutionUseCreate, *, reader: Reader, actor: str, now: datetime,
               place: str, index_generation: str | None = None) -> SolutionUse:
    """Validate and add one use (not committed). Using the same source twice for a case
    returns the first record."""
    if (data.case is None) == (data.article is None):
        raise FieldError("case", "请指定一个相似问题编号（case）或一篇文章（article），二选一")
    if data.case is not None:
        source = session.exec(select(Case).where(Case.number == data.case)).first()
        if source is None:
            raise FieldError("case", f"问题 {data.case} 不存在")
        if case.id is not None and source.id == case.id:
            raise FieldError("case", "不能使用问题自身的方案")
        if not (source.solution_perm or source.solution_temp):
            raise FieldError("case", f"问题 {data.case} 没有解决方案")
        kind, listed, key = "case", "similar_cases", source.number
        existing = select(SolutionUse).where(SolutionUse.source_case_id == source.id)
    else:
        found = get_many_visible(session, [data.article], reader)
        if not found:
            raise FieldError("article", f"文章 {data.article} 不存在，或你没有查看权限")
        source = found[0]
        kind, listed, key = "article", "articles", source.id
        existing = select(SolutionUse).where(SolutionUse.source_article_id == source.id)
    if case.id is not None:
        already = session.exec(existing.where(SolutionUse.case_id == case.id)).first()
        if already is not None:
            return already
    rank, shown, model_version = data.rank, None, None
    if data.suggestion_id:
        served = _suggestion(session, data.suggestion_id)
        if served is None and not may_still_arrive(data.suggestion_id):
            raise FieldError("suggestion_id", f"建议 {data.suggestion_id} 不存在")
        if served is not None:
            model_version, details = served
            shown_list = details.get(listed)
            if shown_list is not None:
                if key not in shown_list:
                    raise FieldError(kind, f"{key} 不在这次建议展示的列表中")
                if data.rank is not None and data.rank != shown_list.index(key) + 1:
                    raise FieldError("rank", f"这次建议把 {key} 排在第 {shown_list.index(key) + 1} 位，不是第 {data.rank} 位")
                rank, shown = shown_list.index(key) + 1, len(shown_list)
            index_generation = details.get("index_generation") or index_generation
    use = SolutionUse(case_id=case.id, source_kind=kind, source_case_id=source.id if kind == "case" else None,
                      source_article_id=source.id if kind == "article" else None, suggestion_id=data.suggestion_id,
                      rank=rank, shown=shown, model_version=model_version, index_generation=index_generation,
                      place=place, actor=actor, used_at=now)
    session.add(use)
    return use


def uses_of(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The uses recorded for one case, oldest first, with the source's number or title."""
    rows = list(session.exec(select(SolutionUse).where(SolutionUse.case_id == case_id).order_by(SolutionUse.id)))
    numbers = dict(session.exec(select(Case.id, Case.number).where(
        Case.id.in_([r.source_case_id for r in rows if r.source_case_id]))).all()) if rows else {}
    return [_public(r, numbers) for r in rows]


def describe(session: Session, use: SolutionUse) -> dict[str, Any]:
    numbers = {}
    if use.source_case_id is not None:
        numbers[use.source_case_id] = session.exec(select(Case.number).where(Case.id == use.source_case_id)).one()
    return _public(use, numbers)


def _public(r: SolutionUse, numbers: dict[int, str]) -> dict[str, Any]:
    return {"source_kind": r.source_kind, "case": numbers.get(r.source_case_id), "article": r.source_article_id,
            "rank": r.rank, "shown": r.shown, "model_version": r.model_version, "place": r.place, "actor": r.actor,
            "used_at": r.used_at}


def quality(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Suggestion quality from use, over cases resolved in [start, end):

    - ``share``: resolved cases that used at least one suggested solution;
    - ``mrr``: mean of 1/rank of the first used item among those shown (cases with a use);
    - per model version: the same over the resolved cases whose logging suggestion that
      version served (a case counts under the version that proposed its type)."""
    ids = list(session.exec(select(Case.id).where(
        Case.status.in_(RESOLVED), Case.resolved_at >= start, Case.resolved_at < end)))
    firsts: dict[int, SolutionUse] = {}
    version_of: dict[int, str | None] = {}
    for chunk in (ids[i:i + 1000] for i in range(0, len(ids), 1000)):
        for use in session.exec(select(SolutionUse).where(SolutionUse.case_id.in_(chunk))
                                .order_by(SolutionUse.used_at, SolutionUse.id)):
            firsts.setdefault(use.case_id, use)
        for case_id, version in session.exec(select(SuggestionLog.case_id, SuggestionLog.model_version)
                                             .where(SuggestionLog.case_id.in_(chunk))):
            version_of[case_id] = version

    def figures(case_ids: list[int]) -> dict[str, Any]:
        used = [firsts[c] for c in case_ids if c in firsts]
        ranked = [u.rank for u in used if u.rank]
        by_kind = defaultdict(int)
        for u in used:
            by_kind[u.source_kind] += 1
        return {"resolved": len(case_ids), "used": len(used),
                "share": round(len(used) / len(case_ids), 4) if case_ids else None,
                "mrr": round(sum(1 / r for r in ranked) / len(ranked), 4) if ranked else None,
                "ranked": len(ranked), "from_cases": by_kind["case"], "from_articles": by_kind["article"]}

    per_version: dict[str | None, list[int]] = defaultdict(list)
    for case_id in ids:
        if case_id in version_of:
            per_version[version_of[case_id]].append(case_id)
    return {"all": figures(ids),
            "versions": [{"version": v, **figures(c)} for v, c in sorted(per_version.items(), key=lambda kv: str(kv[0]))]}


def case_links(session: Session, *, limit: int) -> list[Row]:
    """The newest ``limit`` uses of a similar case's solution, oldest first: (case_id,
    source_case_id, used_at) — the learned ranker's labels."""
    rows = session.exec(select(SolutionUse.case_id, SolutionUse.source_case_id, SolutionUse.used_at)
                        .where(SolutionUse.source_case_id.is_not(None))
                        .order_by(SolutionUse.used_at.desc(), SolutionUse.id.desc()).limit(limit)).all()
    return rows[::-1]


def use_counts(session: Session, *, case_ids: list[int] | None = None, before: datetime | None = None) -> Counter:
    """How often each case's solution was used (a ranker feature): of ``case_ids`` only, and
    only uses before ``before``, when given."""
    if case_ids is not None and not case_ids:
        return Counter()
    stmt = select(SolutionUse.source_case_id, func.count()).where(SolutionUse.source_case_id.is_not(None))
    if case_ids is not None:
        stmt = stmt.where(SolutionUse.source_case_id.in_(case_ids))
    if before is not None:
        stmt = stmt.where(SolutionUse.used_at < before)
    return Counter(dict(session.exec(stmt.group_by(SolutionUse.source_case_id)).all()))
