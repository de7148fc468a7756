"""The "suggest while logging" use case: proposals + similar resolved cases with their
solutions (+ knowledge articles later), one suggestion-log row. Degrades, never blocks:
no model → rules and "model_unavailable"; no index → empty list and "index_unavailable"."""

from __future__ import annotations

import logging
import re

from sqlmodel import Session

from api import triage
from api.schemas import SearchResponse, SimilarCase, SuggestionRequest, SuggestionResponse
from classifier.predictor import Predictor
from indexer import Hit, IndexUnavailable, WhooshIndex
from kb.cases.queries import get_many
from kb.clock import Clock
from kb.models import Case, Satisfaction
from kb.text.highlight import highlight
from indexer.documents import INDEXABLE

log = logging.getLogger("zhiku.suggest")
_NON_WORD = re.compile(r"\W+")


def outcome_factor(case: Case) -> float:
    """Solutions that satisfied the customer and stayed fixed rank higher."""
    factor = {Satisfaction.satisfied: 1.15, Satisfaction.basically: 1.05, Satisfaction.dissatisfied: 0.85}.get(
        case.satisfaction, 1.0)
    return factor * (0.9 ** case.reopen_count)


def _dedupe_key(case: Case) -> str:
    solution = case.solution_perm or case.solution_temp or ""
    return _NON_WORD.sub("", f"{case.subject}|{solution}").lower()


def similar_cases(session: Session, index: WhooshIndex, text: str, *, k: int, filters: dict[str, str],
                  missing: list[str]) -> list[SimilarCase]:
    try:
        terms = index.query_tokens(text)
        hits = index.similar_to(terms, k=k * 4, filters=filters)
    except IndexUnavailable as exc:
        log.warning("index unavailable", extra={"reason": str(exc)})
        missing.append("index_unavailable")
        return []
    return hydrate(session, hits, terms, k=k, rerank=True)


def hydrate(session: Session, hits: list[Hit], terms: list[str], *, k: int, rerank: bool) -> list[SimilarCase]:
    """Re-read hits from the database (the truth), drop what is no longer resolved,
    re-rank by outcome, drop near-identical cases, and highlight in the original script."""
    scores = {h.entity_id: h.score for h in hits}
    cases = get_many(session, [h.entity_id for h in hits], statuses=INDEXABLE)
    ranked = [(scores[c.id] * (outcome_factor(c) if rerank else 1.0), c) for c in cases]
    if rerank:
        ranked.sort(key=lambda sc: -sc[0])
    out, seen = [], set()
    for score, case in ranked:
        key = _dedupe_key(case)
        if rerank and key in seen:
            continue
        seen.add(key)
        out.append(SimilarCase(
            number=case.number, subject=case.subject, type=case.type, status=case.status.value,
            product=case.product, root_cause=case.root_cause, solution_temp=case.solution_temp,
            solution_perm=case.solution_perm, result=case.result, fixed_in_version=case.fixed_in_version,
            satisfaction=case.satisfaction.value if case.satisfaction else None, reopen_count=case.reopen_count,
            resolved_at=case.resolved_at, score=round(score, 4),
            highlights={"subject": highlight(case.subject, terms, width=60),
                        "description": highlight(case.description, terms),
                        "solution": highlight(case.solution_perm or case.solution_temp, terms)}))
        if len(out) >= k:
            break
    return out


def suggest(session: Session, draft: SuggestionRequest, *, predictor: Predictor, index: WhooshIndex,
            clock: Clock, actor: str, k: int) -> SuggestionResponse:
    text = triage.draft_text(draft)
    proposal = triage.propose(session, draft, text, predictor=predictor, clock=clock)
    missing = list(proposal.missing)
    filters = {"product": draft.product, "type": draft.type}
    cases = similar_cases(session, index, text, k=k, filters=filters, missing=missing)
    entry = triage.log_suggestion(session, proposal, clock=clock, actor=actor,
                                  shown={"similar_cases": [c.number for c in cases]})
    return SuggestionResponse(
        suggestion_id=entry.id, model_version=proposal.model_version, text_version=proposal.text_version,
        type=triage.head_out(proposal.type), priority=triage.head_out(proposal.priority),
        cold_start=proposal.cold_start, similar_cases=cases, articles=[], missing=missing)


def search(session: Session, index: WhooshIndex, q: str, *, page: int, page_size: int,
           filters: dict[str, str]) -> SearchResponse:
    try:
        terms = index.query_tokens(q)
        hits, total = index.search_tokens(terms, offset=(page - 1) * page_size, limit=page_size, filters=filters)
    except IndexUnavailable:
        return SearchResponse(items=[], total=0, page=page, page_size=page_size, missing=["index_unavailable"])
    items = hydrate(session, hits, terms, k=page_size, rerank=False)
    return SearchResponse(items=items, total=total, page=page, page_size=page_size)



