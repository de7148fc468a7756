"""Knowledge gaps: frequent problems that no article covers yet. This module reads the
cases that have no linked article and shapes the report; the grouping itself is
``classifier.clusters`` (the ML lives with the ML)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session, select

from kb.articles.queries import Reader
from kb.models import Article, ArticleCaseLink, Case, CaseStatus
from kb.text.titles import merge_same_titles

RESOLVED = (CaseStatus.resolved, CaseStatus.closed)
MAX_CASES = 3000     # average-linkage clustering is O(n²) in memory: the most recent cases only


def uncovered_cases(session: Session, *, since: datetime, reader: Reader, limit: int = MAX_CASES) -> list[Case]:
    """Resolved or closed cases since ``since`` that no article ``reader`` may see is linked to,
    newest first: a link to an article the reader cannot see must not change what they are shown."""
    linked = select(ArticleCaseLink.case_id).join(Article, Article.id == ArticleCaseLink.article_id).where(
        *reader.conditions())
    return list(session.exec(select(Case).where(Case.status.in_(list(RESOLVED)), Case.resolved_at >= since,
                                                Case.id.not_in(linked))
                             .order_by(Case.resolved_at.desc()).limit(limit)))


def gap_report(cases: list[Case], tokenize: Callable[[str], list[str]], cluster, *, now: datetime,
               recent_days: int = 30, min_size: int = 3, limit: int = 20) -> list[dict]:
    """Clusters of uncovered cases, by size and then by recent growth, each with a suggested
    title (the most central case's subject), its top words, counts and example cases."""
    clusters = merge_same_titles(cluster([tokenize(f"{c.subject}\n{c.description}") for c in cases], min_size=min_size),
                                 [c.subject for c in cases])
    recent_from = now - timedelta(days=recent_days)
    before_from = recent_from - timedelta(days=recent_days)
    out = []
    for cl in clusters:
        members = [cases[i] for i in cl.members]
        recent = sum(1 for c in members if c.resolved_at and c.resolved_at >= recent_from)
        before = sum(1 for c in members if c.resolved_at and before_from <= c.resolved_at < recent_from)
        products = Counter(c.product for c in members if c.product)
        types = Counter(c.type for c in members)
        out.append({
            "size": len(members), "suggested_title": members[0].subject, "top_terms": cl.top_terms,
            "recent": recent, "previous": before, "trend": recent - before,
            "products": [p for p, _ in products.most_common(3)], "types": [t for t, _ in types.most_common(3)],
            "examples": [{"number": c.number, "subject": c.subject} for c in members[:5]],
            "case_numbers": [c.number for c in members],
        })
    out.sort(key=lambda g: (-g["size"], -g["trend"]))
    return out[:limit]
