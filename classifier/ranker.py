"""A second-stage ranker that learns from what agents used — measured, not yet served.

Every 用这个方案 is a judgement: of the similar cases shown for this draft, this one helped
(``kb.solution_use``). The ranker re-orders the lexical candidates with a logistic regression
(scikit-learn) over features of each (draft, candidate) pair — the BM25F score and rank, the
LSA cosine and same-text flag (classifier.semantic), the candidate's outcome and age, whether
product and module match the draft, and how often agents used it before.

With fewer than ``MIN_LINKS`` usable links (the used case among the draft's candidates) there
is no ranker and the blend of lexical score and cosine stands; a ranker whose held-out MRR
does not beat that blend is not kept either (its metrics say why).

Status: bench/similar_quality.py trains it on simulated links (the pair sets' label-1 pairs)
and prints MRR@10 against the number of links. On those sets, where only the lexical score,
rank, cosine and same-text features vary, it did not beat the blend it would replace, so the
product does not train or serve it yet; the desk's own links (with outcome, product, module
and past-use features) are what it is waiting for. ``feature_matrix`` and ``blend_scores`` are
the product's blend written as features, so the bench measures exactly what suggestions do."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from classifier.semantic import WEIGHT, blend

FEATURES = ("lexical", "reciprocal_rank", "cosine", "same_text", "satisfied", "dissatisfied", "reopens", "age",
            "same_product", "same_module", "past_uses")
MIN_LINKS = 50
CANDIDATES = 50            # the lexical candidates a suggestion re-ranks: MRR@10 at 50 = at 100 on BQ, AFQMC, LCQMC
                           # and InsuranceQA (bench/similar_quality.py depth row); Traditional queries' originals at
                           # rank 1: 99.02 % (100: 99.28 %); ~1.4 ms less per suggestion at 100k cases


@dataclass(frozen=True)
class Candidate:
    """What the ranker reads about one lexical candidate of a draft."""

    lexical: float
    cosine: float = 0.0
    same_text: bool = False
    satisfaction: str | None = None
    reopen_count: int = 0
    age_days: float = 0.0
    same_product: bool = False
    same_module: bool = False
    past_uses: int = 0


def feature_matrix(candidates: list[Candidate]) -> np.ndarray:
    """One row per candidate, in the order given (the lexical order)."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    top = max(c.lexical for c in candidates) or 1.0
    return np.array([[c.lexical / top, 1.0 / (i + 1), max(c.cosine, 0.0), c.same_text, c.satisfaction == "满意",
                      c.satisfaction == "不满意", math.log1p(c.reopen_count), math.log1p(max(c.age_days, 0.0)) / 8.0,
                      c.same_product, c.same_module, math.log1p(c.past_uses)]
                     for i, c in enumerate(candidates)], dtype=np.float64)


def blend_scores(X: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    """The ranking without a ranker — classifier.semantic.blend — from the same features."""
    return blend(X[:, 0], X[:, 2], weight, same=X[:, 3])


@dataclass
class RankerModel:
    coef: np.ndarray
    intercept: float
    links: int
    metrics: dict[str, Any] = field(default_factory=dict)

    def scores(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef + self.intercept


def mrr(groups: list[tuple[np.ndarray, int]], score) -> float:
    """Mean reciprocal rank of the used candidate when each group is ordered by ``score``."""
    if not groups:
        return 0.0
    total = 0.0
    for X, used in groups:
        s = score(X)
        total += 1.0 / (1 + int(np.sum(s > s[used])))
    return total / len(groups)


def _fit(groups: list[tuple[np.ndarray, int]], random_state: int) -> LogisticRegression:
    X = np.vstack([g for g, _ in groups])
    y = np.concatenate([np.arange(len(g)) == used for g, used in groups])
    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000, random_state=random_state).fit(X, y)


def fit_ranker(groups: list[tuple[np.ndarray, int]], *, min_links: int = MIN_LINKS,
               random_state: int = 0) -> tuple[RankerModel | None, dict[str, Any]]:
    """``groups``: per used link, oldest first, the candidates' feature matrix and the index
    of the used one. Trains on the older 80 %, measures MRR on the newer 20 % against the
    blend, keeps the ranker (refitted on all links) only when it does better."""
    metrics: dict[str, Any] = {"links": len(groups), "min_links": min_links}
    if len(groups) < min_links:
        metrics["kept"] = False
        metrics["reason"] = f"可用的采用记录 {len(groups)} 条，少于 {min_links} 条，沿用词面+语义排序"
        return None, metrics
    cut = int(len(groups) * 0.8)
    held_out = groups[cut:]
    model = _fit(groups[:cut], random_state)
    metrics["held_out"] = len(held_out)
    metrics["mrr_ranker"] = round(mrr(held_out, lambda X: model.decision_function(X)), 4)
    metrics["mrr_blend"] = round(mrr(held_out, blend_scores), 4)
    metrics["kept"] = metrics["mrr_ranker"] > metrics["mrr_blend"]
    if not metrics["kept"]:
        metrics["reason"] = "留出的采用记录上不如词面+语义排序，未启用"
        return None, metrics
    final = _fit(groups, random_state)
    metrics["coefficients"] = {f: round(float(c), 4) for f, c in zip(FEATURES, final.coef_[0], strict=True)}
    return RankerModel(final.coef_[0].astype(np.float64), float(final.intercept_[0]), len(groups), metrics), metrics
