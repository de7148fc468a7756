"""The learned ranker in the product (classifier.ranker): the features of a draft's candidates,
computed the same way when a suggestion is served and when the ranker is trained.

Training reads the desk's links (``kb.solution_use``): for each case whose agent used a
similar case's solution, the case's own text is searched in the node's index as the draft was,
the candidates are those a suggestion would have re-ranked (the case itself and cases resolved
after the use left out), and the used one is the positive. The features are those of the
moment of use: the candidate's age then and how often agents had used it before. A link whose
used case is not among the candidates teaches nothing and is counted as skipped."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Row
from sqlmodel import Session

from classifier.dataset import case_text
from classifier.ranker import CANDIDATES, Candidate, RankerModel, feature_matrix, fit_ranker
from classifier.semantic import SemanticModel
from indexer import IndexUnavailable, WhooshIndex
from indexer.documents import INDEXABLE
from kb import solution_use
from kb.cases.queries import RANKER_COLUMNS, get_many
from kb.models import Case
from kb.privacy import redact_text
from kb.text import Segmenter

log = logging.getLogger("zhiku.ranking")
MAX_LINKS = 20_000          # the newest links a training reads: ~20 ms each (a search and two reads)
DRAFT_COLUMNS = (Case.id, Case.subject, Case.description, Case.product)


@dataclass(frozen=True)
class Draft:
    """What the ranker knows about the draft besides its text."""

    product: str | None
    at: datetime


def features(candidates: list[Row], lexical: np.ndarray, parts, draft: Draft, past_uses: dict[int, int]) -> np.ndarray:
    """The ranker's feature matrix of ``candidates`` (rows of ``RANKER_COLUMNS`` in lexical
    order); ``parts``: their ``api.suggest.SemanticParts``."""
    return feature_matrix([Candidate(
        lexical=float(lex), cosine=float(cos), same_text=bool(eq), literal=float(lit),
        satisfaction=c.satisfaction.value if c.satisfaction else None, reopen_count=c.reopen_count,
        age_days=(draft.at - c.resolved_at).total_seconds() / 86400 if c.resolved_at else 0.0,
        same_product=bool(draft.product) and c.product == draft.product, past_uses=past_uses.get(c.id, 0))
        for c, lex, cos, eq, lit in zip(candidates, lexical, parts.cosine, parts.same, parts.literal, strict=True)])


def train(session: Session, index: WhooshIndex | None, semantic: SemanticModel | None, segmenter: Segmenter,
          ) -> tuple[RankerModel | None, dict[str, Any]]:
    """Fit the ranker on the desk's links (``classifier.ranker.fit_ranker`` decides whether it
    is kept). Needs the node's index and the new model's representation."""
    from api.suggest import semantic_parts

    if semantic is None:
        return None, {"links": 0, "kept": False, "reason": "模型没有语义表示（案例太少），沿用词面排序"}
    if index is None:
        return None, {"links": 0, "kept": False, "reason": "本节点没有索引，无法训练排序模型"}
    links = solution_use.case_links(session, limit=MAX_LINKS)
    ids = sorted({link.case_id for link in links})
    drafts = {r.id: r for start in range(0, len(ids), 1000)
              for r in get_many(session, ids[start:start + 1000], columns=DRAFT_COLUMNS)}
    earlier = solution_use.use_counts(session, before=links[0].used_at) if links else Counter()
    groups, vectors, skipped = [], [], 0
    try:
        for link in links:
            draft_row = drafts.get(link.case_id)
            if draft_row is None:
                continue
            text = redact_text(case_text(draft_row.subject, draft_row.description))   # as api.triage.draft_text
            hits = [h for h in index.similar_to(index.query_tokens(text), k=CANDIDATES + 1,
                                                filters={"product": draft_row.product, "type": None})
                    if h.entity_id != link.case_id]
            scores = {h.entity_id: h.score for h in hits}
            rows = [r for r in get_many(session, list(scores), statuses=INDEXABLE, columns=RANKER_COLUMNS)
                    if r.resolved_at is None or r.resolved_at <= link.used_at][:CANDIDATES]
            position = next((i for i, r in enumerate(rows) if r.id == link.source_case_id), None)
            if position is None or len(rows) < 2:
                skipped += 1
            else:
                parts = semantic_parts(session, (semantic, segmenter, text), rows)
                X = features(rows, np.array([scores[r.id] for r in rows]), parts, Draft(draft_row.product, link.used_at),
                             earlier)
                groups.append((X, position))
                vectors.append((parts.draft, parts.vectors))
            earlier[link.source_case_id] += 1
    except IndexUnavailable as exc:
        return None, {"links": len(links), "kept": False, "reason": f"索引不可用：{exc}"}
    model, metrics = fit_ranker(groups, vectors=vectors)
    metrics.update(recorded=len(links), skipped=skipped)
    log.info("ranker trained", extra={"links": len(links), "usable": len(groups), "kept": metrics.get("kept")})
    return model, metrics

