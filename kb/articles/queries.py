"""Reading articles with the audience rule applied in the query itself: a reader never
learns of an article they may not see (not its title, not that it exists, not in a count)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case as sql_case
from sqlmodel import Session, func, select

from kb.articles.audience import visible_audiences
from kb.errors import NotFound
from kb.models import Article, ArticleCaseLink, ArticleFeedback, ArticleState, Case, User
from kb.models.article import Helpfulness


@dataclass(frozen=True)
class Reader:
    """What a user may read: every state and audience (curators), or published articles of
    the listed audiences."""

    audiences: frozenset[str] | None
    curator: bool

    @classmethod
    def of(cls, session: Session, user: User) -> Reader:
        audiences = visible_audiences(session, user)
        return cls(None if audiences is None else frozenset(audiences), audiences is None)

    def conditions(self) -> list:
        if self.curator:
            return []
        return [Article.state == ArticleState.published, Article.audience.in_(sorted(self.audiences or ()))]

    def may_read(self, article: Article) -> bool:
        return self.curator or (article.state == ArticleState.published and article.audience in (self.audiences or ()))


def get_visible(session: Session, article_id: int, reader: Reader) -> Article:
    article = session.get(Article, article_id)
    if article is None or not reader.may_read(article):
        raise NotFound(f"文章 {article_id} 不存在", field="id")
    return article


def list_articles(session: Session, reader: Reader, *, state: ArticleState | None = None, audience: str | None = None,
                  product: str | None = None, tag: str | None = None, owner: str | None = None,
                  q: str | None = None, offset: int = 0, limit: int = 20) -> tuple[list[Article], int]:
    stmt = select(Article).where(*reader.conditions())
    if state:
        stmt = stmt.where(Article.state == state)
    if audience:
        stmt = stmt.where(Article.audience == audience)
    if product:
        stmt = stmt.where(Article.product == product)
    if owner:
        stmt = stmt.where(Article.owner == owner)
    rows = list(session.exec(stmt.order_by(Article.updated_at.desc(), Article.id.desc())))
    if tag:                                   # tags are a JSON list: filtered here, portable across backends
        rows = [a for a in rows if tag in (a.tags or [])]
    if q and (words := [w.casefold() for w in q.split()]):
        # a knowledge base holds hundreds to a few thousand articles: matched here, the same on every backend
        def matches(a: Article) -> bool:
            text = " ".join([a.title, a.body, *(a.tags or []), a.product or "", a.module or ""]).casefold()
            return all(w in text for w in words)
        rows = [a for a in rows if matches(a)]
    return rows[offset: offset + limit], len(rows)


def get_many_visible(session: Session, ids: list[int], reader: Reader) -> list[Article]:
    """Articles by id in the given order, dropping any the reader may not see."""
    if not ids:
        return []
    found = {a.id: a for a in session.exec(select(Article).where(Article.id.in_(ids), *reader.conditions()))}
    return [found[i] for i in ids if i in found]


def visible_ids(session: Session, ids: list[int], reader: Reader) -> set[int]:
    """Which of ``ids`` the reader may see now, by the database (the index may lag a change)."""
    if not ids:
        return set()
    found: set[int] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        found.update(session.exec(select(Article.id).where(Article.id.in_(chunk), *reader.conditions())))
    return found


def helpfulness(session: Session, ids: list[int]) -> dict[int, Helpfulness]:
    if not ids:
        return {}
    helped = func.sum(sql_case((ArticleFeedback.helped == True, 1), else_=0))
    rows = session.exec(select(ArticleFeedback.article_id, helped, func.count())
                        .where(ArticleFeedback.article_id.in_(ids)).group_by(ArticleFeedback.article_id))
    out = {}
    for article_id, yes, total in rows:
        yes = int(yes or 0)
        out[article_id] = Helpfulness(helped=yes, not_helped=total - yes, ratio=round(yes / total, 3) if total else None)
    return out


def linked_case_numbers(session: Session, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    out: dict[int, list[str]] = {i: [] for i in ids}
    rows = session.exec(select(ArticleCaseLink.article_id, Case.number).join(Case, Case.id == ArticleCaseLink.case_id)
                        .where(ArticleCaseLink.article_id.in_(ids)).order_by(Case.number))
    for article_id, number in rows:
        out[article_id].append(number)
    return out
