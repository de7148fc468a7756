"""Article use cases: each public function is one transaction with one commit at its end.

Every save of the body or the metadata — edits, state changes, restores — appends an
immutable ArticleVersion and a search-outbox row in the same transaction. An edit names the
version it started from; a save on top of a newer version is a 409, never an overwrite (and
if two saves race past that check, the unique (article, number) of the version table stops
the second)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.articles.audience import require_audience
from kb.errors import Conflict, FieldError, NotFound
from kb.models.inputs import clean
from kb.models import (
    Article,
    ArticleCaseLink,
    ArticleFeedback,
    ArticleState,
    ArticleVersion,
    Case,
    CaseStatus,
    SuggestionLog,
    User,
)
from kb.models.article import (
    VERSIONED_FIELDS,
    ArticleCreate,
    ArticleFeedbackCreate,
    ArticleFromCase,
    ArticleRestore,
    ArticleTransition,
    ArticleUpdate,
)
from kb.outbox import record_change
from kb.privacy import redact_text

DEFAULT_AUDIENCE = "内部公开"


@dataclass(frozen=True)
class ArticleRules:
    """What a deployment configures about articles (from Settings)."""

    review_required: bool = True
    review_days: int = 180


def allowed_states(current: ArticleState, rules: ArticleRules) -> list[ArticleState]:
    S = ArticleState
    table = {
        S.draft: [S.in_review] + ([] if rules.review_required else [S.published]) + [S.archived],
        S.in_review: [S.published, S.draft],
        S.published: [S.archived, S.draft],
        S.archived: [S.draft],
    }
    return table[current]


def get_article_or_raise(session: Session, article_id: int) -> Article:
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"文章 {article_id} 不存在", field="id")
    return article


def _meta(article: Article) -> dict[str, Any]:
    out = {}
    for key in VERSIONED_FIELDS:
        value = getattr(article, key)
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, ArticleState):
            value = value.value
        elif isinstance(value, list):
            value = list(value)
        out[key] = value
    return out


def _snapshot(session: Session, article: Article, *, actor: str, now: datetime, note: str) -> ArticleVersion:
    version = ArticleVersion(article_id=article.id, number=article.version, title=article.title, body=article.body,
                             meta=_meta(article), author=actor, created_at=now, change_note=note[:500])
    session.add(version)
    return version


def _check_owner(session: Session, owner: str) -> None:
    if session.exec(select(User).where(User.username == owner, User.active == True)).first() is None:
        raise FieldError("owner", f"负责人「{owner}」不是启用的用户")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Redact personal numbers from the text fields before they are stored anywhere."""
    return {k: (redact_text(v) if k in ("title", "body") and isinstance(v, str) else v) for k, v in values.items()}


def _cases_by_number(session: Session, numbers: list[str], *, field: str) -> list[Case]:
    return [_case_field(session, number, field) for number in dict.fromkeys(numbers)]


def _case_field(session: Session, number: str, field: str) -> Case:
    case = session.exec(select(Case).where(Case.number == number)).first()
    if case is None:
        raise FieldError(field, f"问题编号 {number} 不存在")
    return case


def _link(session: Session, article: Article, cases: list[Case], *, actor: str, now: datetime) -> int:
    existing = set(session.exec(select(ArticleCaseLink.case_id).where(ArticleCaseLink.article_id == article.id)))
    added = 0
    for case in cases:
        if case.id not in existing:
            session.add(ArticleCaseLink(article_id=article.id, case_id=case.id, linked_by=actor, linked_at=now))
            added += 1
    return added


def _commit(session: Session, article_id: int | None = None) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"文章 {article_id} 已被他人同时修改，请刷新后重试", field="version") from exc


def create_article(session: Session, data: ArticleCreate, *, actor: str, now: datetime, rules: ArticleRules,
                   source_cases: list[Case] | None = None) -> Article:
    values = _clean(data.model_dump(exclude={"change_note", "case_numbers"}))
    values["audience"] = values.get("audience") or DEFAULT_AUDIENCE
    require_audience(session, values["audience"])
    values["owner"] = values.get("owner") or actor
    _check_owner(session, values["owner"])
    values["applies_to_versions"] = values.get("applies_to_versions") or []
    values["tags"] = values.get("tags") or []
    values["next_review_at"] = values.get("next_review_at") or (now.date() + timedelta(days=rules.review_days))
    cases = (source_cases or []) + _cases_by_number(session, data.case_numbers, field="case_numbers")
    article = Article(**values, state=ArticleState.draft, version=1, created_by=actor, created_at=now,
                      updated_at=now)
    session.add(article)
    session.flush()
    _snapshot(session, article, actor=actor, now=now, note=data.change_note or "创建")
    _link(session, article, cases, actor=actor, now=now)
    record_change(session, entity="article", entity_id=article.id, at=now)
    _commit(session, article.id)
    return article


def _check_version(article: Article, expected: int) -> None:
    if article.version != expected:
        raise Conflict(f"文章已被修改：当前版本 {article.version}，你编辑的是版本 {expected}；请刷新并合并后再保存",
                       field="version", current_version=article.version, your_version=expected)


def _save_version(session: Session, article: Article, *, actor: str, now: datetime, note: str) -> None:
    article.version += 1
    article.updated_at = now
    session.add(article)
    _snapshot(session, article, actor=actor, now=now, note=note)
    record_change(session, entity="article", entity_id=article.id, at=now)
    _commit(session, article.id)


def update_article(session: Session, article_id: int, data: ArticleUpdate, *, actor: str,
                   now: datetime) -> Article:
    article = get_article_or_raise(session, article_id)
    _check_version(article, data.version)
    changes = _clean(data.model_dump(exclude_unset=True, exclude={"version", "change_note"}))
    for required in ("title", "body", "audience", "owner", "tags", "applies_to_versions"):
        if required in changes and changes[required] is None:
            raise FieldError(required, "该字段不能为空")
    if "audience" in changes:
        require_audience(session, changes["audience"])
    if "owner" in changes:
        _check_owner(session, changes["owner"])
    changed = [k for k, v in changes.items() if getattr(article, k) != v]
    if not changed:
        return article                                  # nothing to save: no empty version
    for key in changed:
        setattr(article, key, changes[key])
    _save_version(session, article, actor=actor, now=now, note=data.change_note or "修改：" + "、".join(changed))
    return article


def transition(session: Session, article_id: int, data: ArticleTransition, *, actor: str, now: datetime,
               rules: ArticleRules) -> Article:
    article = get_article_or_raise(session, article_id)
    _check_version(article, data.version)
    allowed = allowed_states(article.state, rules)
    if data.state not in allowed:
        hint = "（需要先提交审核）" if data.state == ArticleState.published and rules.review_required else ""
        raise Conflict(f"文章状态「{article.state.value}」不能变为「{data.state.value}」{hint}；"
                       f"允许：{'、'.join(s.value for s in allowed) or '无'}", field="state",
                       current_state=article.state.value, allowed=[s.value for s in allowed])
    set_state(session, article, data.state, actor=actor, now=now,
              note=data.change_note or f"状态：{article.state.value} → {data.state.value}")
    return article


def set_state(session: Session, article: Article, state: ArticleState, *, actor: str, now: datetime,
              note: str) -> None:
    """Change the state as a new version (callers check the workflow; bulk import sets it directly)."""
    article.state = state
    if state == ArticleState.published:
        article.published_at = now
    _save_version(session, article, actor=actor, now=now, note=note)


def restore(session: Session, article_id: int, number: int, data: ArticleRestore, *, actor: str,
            now: datetime) -> Article:
    """Make version ``number``'s title, body and metadata current again, as a new version
    (the state stays what it is: restoring text does not publish or unpublish)."""
    article = get_article_or_raise(session, article_id)
    _check_version(article, data.version)
    old = get_version_or_raise(session, article_id, number)
    article.title, article.body = old.title, old.body
    for key in VERSIONED_FIELDS:
        if key == "state" or key not in old.meta:
            continue
        value = old.meta[key]
        if key == "next_review_at" and value:
            value = date.fromisoformat(value)
        setattr(article, key, value)
    _save_version(session, article, actor=actor, now=now, note=data.change_note or f"恢复自版本 {number}")
    return article


def get_version_or_raise(session: Session, article_id: int, number: int) -> ArticleVersion:
    version = session.exec(select(ArticleVersion).where(ArticleVersion.article_id == article_id,
                                                        ArticleVersion.number == number)).first()
    if version is None:
        raise NotFound(f"文章 {article_id} 没有版本 {number}", field="number")
    return version


def list_versions(session: Session, article_id: int) -> list[ArticleVersion]:
    get_article_or_raise(session, article_id)
    return list(session.exec(select(ArticleVersion).where(ArticleVersion.article_id == article_id)
                             .order_by(ArticleVersion.number.desc())))


CASE_TEMPLATE = """## 问题现象
{symptom}

## 原因分析
{analysis}

## 临时解决方案
{temp}

## 永久解决方案
{perm}

## 修复版本
{fixed}
"""


def draft_from_case(session: Session, data: ArticleFromCase, *, actor: str, now: datetime,
                    rules: ArticleRules) -> Article:
    """知识沉淀: a draft article from a resolved case, in the house template, redacted, linked."""
    case = _case_field(session, data.case_number, "case_number")
    if case.status not in (CaseStatus.resolved, CaseStatus.closed):
        raise Conflict(f"问题 {case.number} 尚未解决（当前「{case.status.value}」），不能沉淀为知识", field="case_number")
    analysis = "\n\n".join(p for p in (case.analysis, f"根本原因：{case.root_cause}" if case.root_cause else None) if p)
    body = CASE_TEMPLATE.format(symptom=case.description, analysis=analysis or "（待补充）",
                                temp=case.solution_temp or "（无）", perm=case.solution_perm or case.result or "（待补充）",
                                fixed=case.fixed_in_version or "（未注明）")
    tags = list(dict.fromkeys([*(case.tags or []), *([case.module] if case.module else [])]))[:30]
    # rows stored before control characters were refused may still hold some: clean, don't fail
    create = ArticleCreate.model_validate(clean({
        "title": data.title or case.subject, "body": body, "product": case.product, "module": case.module,
        "problem_type": case.type, "fixed_in_version": case.fixed_in_version,
        "applies_to_versions": [case.product_version] if case.product_version else [], "tags": tags,
        "change_note": f"由问题 {case.number} 沉淀", **({"audience": data.audience} if data.audience else {})}))
    return create_article(session, create, actor=actor, now=now, rules=rules, source_cases=[case])


def link_cases(session: Session, article_id: int, numbers: list[str], *, actor: str, now: datetime) -> int:
    """Link more source cases; links are not content, so no new version is written."""
    article = get_article_or_raise(session, article_id)
    added = _link(session, article, _cases_by_number(session, numbers, field="case_numbers"), actor=actor, now=now)
    _commit(session, article_id)
    return added


def record_feedback(session: Session, article: Article, data: ArticleFeedbackCreate, *, actor: str,
                    now: datetime) -> ArticleFeedback:
    case_id = None
    if data.case_number:
        case_id = _case_field(session, data.case_number, "case_number").id
    if data.suggestion_id and session.get(SuggestionLog, data.suggestion_id) is None:
        raise FieldError("suggestion_id", f"建议 {data.suggestion_id} 不存在")
    values = {"case_id": case_id, "suggestion_id": data.suggestion_id, "helped": data.helped,
              "comment": redact_text(data.comment) if data.comment else None, "at": now}
    for attempt in range(2):
        feedback = session.exec(select(ArticleFeedback).where(ArticleFeedback.article_id == article.id,
                                                              ArticleFeedback.by == actor)).first()
        if feedback is None:                 # first vote of this user on this article
            feedback = ArticleFeedback(article_id=article.id, by=actor, **values)
        else:                                # a second click changes the vote, never adds one
            for key, value in values.items():
                setattr(feedback, key, value)
        session.add(feedback)
        try:
            session.commit()
            return feedback
        except IntegrityError:
            session.rollback()               # the same user's vote from another tab won the race
            if attempt:
                raise
    return feedback
