"""Articles that need a knowledge manager's attention: past their review date, fixed in a
version that later cases have superseded, or losing their helpfulness."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlmodel import Session, select

from kb.articles.queries import Reader
from kb.models import Article, ArticleFeedback, ArticleState, Case

_NUMBERS = re.compile(r"\d+")
RECENT_DAYS = 30
MIN_RECENT_FEEDBACK = 3
MIN_FEEDBACK = 5
DROP = 0.2            # helpfulness falling by this much (recent vs before) is flagged
LOW = 0.5             # …or below this overall with enough feedback


def version_key(version: str | None) -> tuple[int, ...] | None:
    """'V2.3.1' → (2, 3, 1); None when the text holds no number (not comparable)."""
    numbers = _NUMBERS.findall(version or "")
    return tuple(int(n) for n in numbers) if numbers else None


def _newer_fix(session: Session, article: Article) -> tuple[str, str] | None:
    """The newest fixed-in version recorded on cases of the same product (and module), when
    it is newer than the article's: (version, case number)."""
    mine = version_key(article.fixed_in_version)
    if mine is None or not article.product:
        return None
    stmt = select(Case.fixed_in_version, Case.number).where(Case.product == article.product,
                                                            Case.fixed_in_version.is_not(None))
    if article.module:
        stmt = stmt.where(Case.module == article.module)
    best = None
    for version, number in session.exec(stmt):
        key = version_key(version)
        if key is not None and key > mine and (best is None or key > best[0]):
            best = (key, version, number)
    return (best[1], best[2]) if best else None


def _helpfulness_reason(rows: list[ArticleFeedback], now: datetime) -> str | None:
    if not rows:
        return None
    cut = now - timedelta(days=RECENT_DAYS)
    recent = [r.helped for r in rows if r.at >= cut]
    before = [r.helped for r in rows if r.at < cut]
    if len(recent) >= MIN_RECENT_FEEDBACK and before:
        r_ratio, b_ratio = sum(recent) / len(recent), sum(before) / len(before)
        if r_ratio <= b_ratio - DROP:
            return f"近 {RECENT_DAYS} 天有用率 {r_ratio:.0%}，此前 {b_ratio:.0%}，明显下降"
    all_ratio = sum(r.helped for r in rows) / len(rows)
    if len(rows) >= MIN_FEEDBACK and all_ratio < LOW:
        return f"有用率仅 {all_ratio:.0%}（{len(rows)} 次反馈）"
    return None


def stale_articles(session: Session, reader: Reader, *, today: date, now: datetime) -> list[dict]:
    """Published articles ``reader`` may see with at least one reason to review, most reasons first."""
    articles = list(session.exec(select(Article).where(Article.state == ArticleState.published,
                                                       *reader.conditions())))
    feedback: dict[int, list[ArticleFeedback]] = {}
    for row in session.exec(select(ArticleFeedback).where(ArticleFeedback.article_id.in_([a.id for a in articles]))):
        feedback.setdefault(row.article_id, []).append(row)
    out = []
    for article in articles:
        reasons = []
        if article.next_review_at and article.next_review_at < today:
            reasons.append({"code": "review_due", "message": f"复审日期 {article.next_review_at.isoformat()} 已过"})
        newer = _newer_fix(session, article)
        if newer:
            reasons.append({"code": "version_superseded",
                            "message": f"修复版本 {article.fixed_in_version} 已被 {newer[0]} 取代（问题 {newer[1]}）"})
        helpful = _helpfulness_reason(feedback.get(article.id, []), now)
        if helpful:
            reasons.append({"code": "helpfulness_falling", "message": helpful})
        if reasons:
            out.append({"id": article.id, "title": article.title, "owner": article.owner, "version": article.version,
                        "next_review_at": article.next_review_at, "fixed_in_version": article.fixed_in_version,
                        "reasons": reasons})
    out.sort(key=lambda a: (-len(a["reasons"]), a["id"]))
    return out
