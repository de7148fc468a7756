"""The "suggest while logging" use case: proposals + similar resolved cases with their
solutions + the published articles the agent may see, one suggestion-log row. Degrades, never blocks:
no model → rules and "model_unavailable"; no index → empty list and "index_unavailable"."""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

import numpy as np

from sqlalchemy import Row
from sqlmodel import Session

from api import triage
from api.ranking import Draft, features
from api.schemas import ArticleHit, SearchResponse, SimilarCase, SuggestionRequest, SuggestionResponse
from classifier.dataset import case_text
from classifier.predictor import Predictor
from classifier.ranker import CANDIDATES, RankerModel, outcome_factor
from classifier.semantic import SemanticModel, VectorCache, blend, fingerprint
from classifier.vector_store import VectorStore, stamp
from indexer import Hit, IndexUnavailable, WhooshIndex
from indexer.documents import INDEXABLE
from kb.articles.render import plain_text
from kb.articles.queries import Reader, get_many_visible, helpfulness, visible_ids
from kb.cases.queries import RANK_COLUMNS, RANKER_COLUMNS, get_many
from kb.clock import Clock
from kb.models import Case
from kb.solution_use import use_counts
from kb.suggestion_log import SuggestionLogWriter
from kb.text import Segmenter
from kb.text.highlight import highlight

log = logging.getLogger("zhiku.suggest")
Semantic = tuple[SemanticModel, Segmenter, str]      # the model, its segmenter, the draft's text
VECTORS = VectorCache()         # candidates' LSA and literal vectors, by (representation, case id, update time)
_NON_WORD = re.compile(r"\W+")
MAX_ARTICLE_MATCHES = 5000      # article matches checked per search (the total counts at most this many)


def _dedupe_key(case: Case | Row) -> str:
    solution = case.solution_perm or case.solution_temp or ""
    return _NON_WORD.sub("", f"{case.subject}|{solution}").lower()


def similar_cases(session: Session, index: WhooshIndex, terms: list[str], *, k: int,
                  filters: dict[str, str | None], semantic: Semantic | None = None,
                  store: VectorStore | None = None, ranker: RankerModel | None = None,
                  draft: Draft | None = None) -> list[SimilarCase]:
    hits = index.similar_to(terms, k=CANDIDATES if semantic else k * 4, filters=filters)
    return hydrate(session, hits, terms, k=k, rerank=True, semantic=semantic, store=store, ranker=ranker, draft=draft)


class SemanticParts(NamedTuple):
    """What the representation says about a draft's candidates."""

    cosine: np.ndarray      # LSA cosine of each candidate to the draft
    same: np.ndarray        # the candidate's text is the draft's own
    literal: np.ndarray     # literal (character TF-IDF) cosine
    vectors: np.ndarray     # candidates' unit LSA vectors (a ranker's link space reads them)
    draft: np.ndarray       # the draft's


def semantic_parts(session: Session, semantic: Semantic, candidates: list,
                   store: VectorStore | None = None) -> SemanticParts:
    """The LSA and literal cosines of each candidate to the draft (classifier.semantic) and
    whether its text is the draft's own. Vectors come from the node's store
    (``classifier.vector_store``) when it has the candidate as it is now."""
    model, segmenter, query = semantic

    def texts(positions: list[int]) -> list[str]:        # read only for candidates not seen before
        found = {c.id: case_text(c.subject, c.description) for c in get_many(
            session, [candidates[i].id for i in positions], statuses=None, columns=(Case.id, Case.subject, Case.description))}
        return [found.get(candidates[i].id, candidates[i].subject) for i in positions]

    drafts, drafts_grams = model.represent([query], segmenter)
    q, draft_grams = drafts[0], drafts_grams[0]
    stored = store.lookup(model.version, [c.id for c in candidates], [stamp(c.updated_at) for c in candidates]) \
        if store is not None else None
    if stored is None or not stored[3].any():
        vectors, prints, grams = model.vectors_for([(c.id, c.updated_at) for c in candidates], texts, segmenter,
                                                   VECTORS)
        literal = model.literal_cosines(draft_grams, grams)
    else:                           # the node's precomputed vectors; what they miss is computed here
        vectors, prints, stored_grams, found = stored
        literal = np.zeros(len(candidates), dtype=np.float32)
        literal[found] = model.literal_cosines(draft_grams, stored_grams)
        rest = np.flatnonzero(~found)
        if len(rest):
            vectors[rest], prints[rest], missed = model.vectors_for(
                [(candidates[i].id, candidates[i].updated_at) for i in rest],
                lambda positions: texts([int(rest[i]) for i in positions]), segmenter, VECTORS)
            literal[rest] = model.literal_cosines(draft_grams, missed)
    return SemanticParts(vectors @ q, prints == fingerprint(query, segmenter), literal, vectors, q)


def rank_scores(session: Session, candidates: list[Row], lexical: np.ndarray, semantic: Semantic | None,
                store: VectorStore | None = None, ranker: RankerModel | None = None,
                draft: Draft | None = None) -> np.ndarray:
    """Each candidate's score: the learned ranker's chance of being used when the production
    model carries one (classifier.ranker), else the lexical score blended with the LSA and
    literal cosines (when it carries a representation) times the outcome factor."""
    if semantic is None or len(candidates) < 2:
        blended = lexical
    else:
        parts = semantic_parts(session, semantic, candidates, store)
        if ranker is not None and draft is not None:
            return ranker.probabilities(ranker.matrix(
                features(candidates, lexical, parts, draft, use_counts(session, case_ids=[c.id for c in candidates])),
                parts.draft, parts.vectors))
        blended = blend(lexical, parts.cosine, same=parts.same, literal=parts.literal)
    return np.array([float(b) * outcome_factor(c.satisfaction, c.reopen_count)
                     for b, c in zip(blended, candidates, strict=True)])


def hydrate(session: Session, hits: list[Hit], terms: list[str], *, k: int, rerank: bool,
            semantic: Semantic | None = None, store: VectorStore | None = None, ranker: RankerModel | None = None,
            draft: Draft | None = None) -> list[SimilarCase]:
    """Re-read hits from the database (the truth), drop what is no longer resolved, re-rank
    (``rank_scores``), drop near-identical cases, and highlight in the original script. Ranking
    reads a few short columns of every candidate; the shown columns (solutions too, which
    near-identical cases are told apart by) are read only from the top of the ranking, a few
    times k at a time."""
    scores = {h.entity_id: h.score for h in hits}
    ids = [h.entity_id for h in hits]
    if rerank:
        candidates = get_many(session, ids, statuses=INDEXABLE,
                              columns=RANKER_COLUMNS if ranker is not None else RANK_COLUMNS)
        base = rank_scores(session, candidates, np.array([scores[c.id] for c in candidates], dtype=np.float32),
                           semantic, store, ranker, draft)
        ranked = [(float(b), c.id) for b, c in zip(base, candidates, strict=True)]
        ranked.sort(key=lambda sc: -sc[0])
    else:
        ranked = [(scores[i], i) for i in ids][:k]
    chosen, seen, rows = [], set(), {}
    for start in range(0, len(ranked), 3 * k):
        batch = ranked[start:start + 3 * k]
        rows.update((c.id, c) for c in get_many(session, [i for _, i in batch], statuses=INDEXABLE))
        for score, case_id in batch:
            case = rows.get(case_id)
            if case is None:                   # reopened or deleted between the two reads
                continue
            key = _dedupe_key(case) if rerank else case_id
            if key not in seen:
                seen.add(key)
                chosen.append((score, case))
            if len(chosen) >= k:
                break
        if len(chosen) >= k:
            break
    return [SimilarCase(
        number=case.number, subject=case.subject, type=case.type, status=case.status.value,
        product=case.product, root_cause=case.root_cause, solution_temp=case.solution_temp,
        solution_perm=case.solution_perm, result=case.result, fixed_in_version=case.fixed_in_version,
        satisfaction=case.satisfaction.value if case.satisfaction else None, reopen_count=case.reopen_count,
        resolved_at=case.resolved_at, score=round(score, 4),
        highlights={"subject": highlight(case.subject, terms, width=60),
                    "description": highlight(case.description, terms),
                    "solution": highlight(case.solution_perm or case.solution_temp, terms)})
        for score, case in chosen]


def _article_filters(reader: Reader) -> dict:
    """Audience rule as index filters: readers see published articles of their audiences."""
    if reader.curator:
        return {"status": "已发布"}
    return {"status": "已发布", "audience": sorted(reader.audiences or ())}


def similar_articles(session: Session, index: WhooshIndex, terms: list[str], reader: Reader, *, k: int,
                     product: str | None) -> list[ArticleHit]:
    hits = index.similar_to(terms, k=k * 2, filters={**_article_filters(reader), "product": product}, kind="article")
    if not hits and product:                           # many articles apply to no single product
        hits = index.similar_to(terms, k=k * 2, filters=_article_filters(reader), kind="article")
    return hydrate_articles(session, hits, terms, reader)[:k]


def hydrate_articles(session: Session, hits: list[Hit], terms: list[str], reader: Reader) -> list[ArticleHit]:
    """Re-read from the database with the audience rule applied again (the index may lag a change)."""
    scores = {h.entity_id: h.score for h in hits}
    articles = [a for a in get_many_visible(session, [h.entity_id for h in hits], reader) if a.state.value == "已发布"]
    helpful = helpfulness(session, [a.id for a in articles])
    return [ArticleHit(
        id=a.id, title=a.title, state=a.state.value, audience=a.audience, product=a.product,
        problem_type=a.problem_type, fixed_in_version=a.fixed_in_version, tags=a.tags or [], version=a.version,
        helpful_ratio=helpful[a.id].ratio if a.id in helpful else None, score=round(scores[a.id], 4),
        highlights={"title": highlight(a.title, terms, width=60), "body": highlight(plain_text(a.body), terms)})
        for a in articles]


def suggest(session: Session, draft: SuggestionRequest, *, predictor: Predictor, index: WhooshIndex,
            clock: Clock, actor: str, reader: Reader, k: int, log_writer: SuggestionLogWriter,
            vectors: VectorStore | None = None) -> SuggestionResponse:
    text = triage.draft_text(draft)
    proposal = triage.propose(session, draft, text, predictor=predictor, clock=clock)
    missing = list(proposal.missing)
    filters = {"product": draft.product, "type": draft.type}
    cases, articles, generation = [], [], None
    try:
        terms = index.query_tokens(text)
        cases = similar_cases(session, index, terms, k=k, filters=filters, semantic=predictor.semantic(text),
                              store=vectors, ranker=predictor.ranker(), draft=Draft(draft.product, clock.now()))
        articles = similar_articles(session, index, terms, reader, k=k, product=draft.product)
        generation = index.searched_generation()
    except IndexUnavailable as exc:
        log.warning("index unavailable", extra={"reason": str(exc)})
        missing.append("index_unavailable")
    triage.reads_done(session)
    suggestion_id = triage.log_suggestion(log_writer, proposal, clock=clock, actor=actor,
                                          shown={"similar_cases": [c.number for c in cases],
                                                 "articles": [a.id for a in articles],
                                                 "index_generation": generation})
    return SuggestionResponse(
        suggestion_id=suggestion_id, model_version=proposal.model_version, text_version=proposal.text_version,
        type=triage.head_out(proposal.type), priority=triage.head_out(proposal.priority),
        cold_start=proposal.cold_start, similar_cases=cases, articles=articles, missing=missing)


def search(session: Session, index: WhooshIndex, q: str, *, page: int, page_size: int,
           filters: dict[str, str], kind: str = "case", reader: Reader | None = None) -> SearchResponse:
    if kind == "article":
        filters = {**filters, **_article_filters(reader), "type": None}
    offset = (page - 1) * page_size
    try:
        terms = index.query_tokens(q)
        if kind == "article":
            # Every match is checked against the database before it is counted or shown, so a
            # change of audience or state holds for readers the moment it is committed.
            hits, _ = index.search_tokens(terms, offset=0, limit=MAX_ARTICLE_MATCHES, filters=filters, kind=kind)
        else:
            hits, total = index.search_tokens(terms, offset=offset, limit=page_size, filters=filters, kind=kind)
    except IndexUnavailable:
        return SearchResponse(kind=kind, total=0, page=page, page_size=page_size, missing=["index_unavailable"])
    if kind == "article":
        allowed = visible_ids(session, [h.entity_id for h in hits], reader)
        hits = [h for h in hits if h.entity_id in allowed]
        return SearchResponse(kind=kind, articles=hydrate_articles(session, hits[offset:offset + page_size], terms,
                                                                   reader),
                              total=len(hits), page=page, page_size=page_size)
    items = hydrate(session, hits, terms, k=page_size, rerank=False)
    return SearchResponse(kind=kind, items=items, total=total, page=page, page_size=page_size)
