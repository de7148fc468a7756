"""Case / published article → index document. Pure: redaction and segmentation happen in ``kb.text.prepare``;
only ids, filter fields and tokens go into the index — text shown to people is re-read
from the database."""

from __future__ import annotations

from typing import Any

from kb.models import Article, ArticleState, Case, CaseStatus
from kb.text import Segmenter

INDEXABLE = frozenset({CaseStatus.resolved, CaseStatus.closed})
ENTITIES = {"case": Case, "article": Article}     # outbox entity name → table


def doc_id(kind: str, entity_id: int) -> str:
    return f"{kind}:{entity_id}"


def is_indexable(entity: Case | Article | None) -> bool:
    if isinstance(entity, Article):
        return entity.state == ArticleState.published
    return entity is not None and entity.status in INDEXABLE


def _tokens(seg: Segmenter, *parts: str | None) -> str:
    return " ".join(seg.tokens(seg.normalize(" \n".join(p for p in parts if p)), "index"))


def case_document(case: Case, seg: Segmenter) -> dict[str, Any]:
    """The index document of a case, tokenised by ``seg`` (the segmenter of the target generation)."""
    codes = " ".join(p for p in (case.product, case.module, case.product_version, case.fixed_in_version) if p)
    document = {
        "doc_id": doc_id("case", case.id),
        "kind": "case",
        "entity_id": case.id,
        "status": case.status.value,
        "type": case.type,
        "priority": case.priority,
        "product": case.product or "",
        "audience": "",
        "updated_at": case.updated_at.isoformat(),
        "title": _tokens(seg, case.subject),
        "body": _tokens(seg, case.description, case.analysis, case.root_cause, codes, " ".join(case.tags or [])),
        "solution": _tokens(seg, case.solution_temp, case.solution_perm, case.result),
    }
    return {name: value for name, value in document.items() if value != ""}   # empty values add postings


def article_document(article: Article, seg: Segmenter) -> dict[str, Any]:
    """A published article: its audience is an indexed field, so every query filters on it."""
    codes = " ".join(p for p in (article.product, article.module, article.fixed_in_version,
                                 *(article.applies_to_versions or [])) if p)
    document = {
        "doc_id": doc_id("article", article.id),
        "kind": "article",
        "entity_id": article.id,
        "status": article.state.value,
        "type": article.problem_type or "",
        "product": article.product or "",
        "audience": article.audience,
        "updated_at": article.updated_at.isoformat(),
        "title": _tokens(seg, article.title),
        "body": _tokens(seg, article.body, codes, " ".join(article.tags or [])),
    }
    return {name: value for name, value in document.items() if value != ""}


def document_for(entity: Case | Article, seg: Segmenter) -> dict[str, Any]:
    return article_document(entity, seg) if isinstance(entity, Article) else case_document(entity, seg)
