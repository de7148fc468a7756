"""A second-stage ranker that learns from what agents used.

Every 用这个方案 is a judgement: of the similar cases shown for this draft, this one helped
(``kb.solution_use``). The ranker re-orders the lexical candidates with a logistic regression
(scikit-learn) over features of each (draft, candidate) pair — the BM25F score and rank, the
LSA cosine and same-text flag (classifier.semantic), the candidate's outcome and age, whether
its product matches the draft, and how often agents used it before.

It is trained with the classifier by the training job (``api.ranking`` builds the groups from
the desk's links and the node's index), saved in the same bundle, and served by suggestions
once its version is promoted — so it is versioned, promoted and rolled back with the model.
With fewer than ``MIN_LINKS`` usable links (the used case among the draft's candidates) there
is no ranker and the served blend stands (lexical score and cosine, times the outcome factor:
``served_scores``); a ranker whose held-out MRR does not beat that ranking is not kept either
(its metrics say why). ``feature_matrix`` and ``served_scores`` are written over the same
features, so bench/similar_quality.py measures exactly what suggestions do."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from classifier.semantic import WEIGHT, blend

FEATURES = ("lexical", "reciprocal_rank", "cosine", "same_text", "satisfied", "basically", "dissatisfied", "reopens",
            "age", "same_product", "past_uses")
OUTCOME_FACTOR = {"满意": 1.15, "基本满意": 1.05, "不满意": 0.85}   # solutions that satisfied rank higher
REOPEN_DECAY = 0.9                                                  # … and those that stayed fixed
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
    past_uses: int = 0


def feature_matrix(candidates: list[Candidate]) -> np.ndarray:
    """One row per candidate, in the order given (the lexical order)."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    top = max(c.lexical for c in candidates) or 1.0
    return np.array([[c.lexical / top, 1.0 / (i + 1), max(c.cosine, 0.0), c.same_text, c.satisfaction == "满意",
                      c.satisfaction == "基本满意", c.satisfaction == "不满意", math.log1p(c.reopen_count),
                      math.log1p(max(c.age_days, 0.0)) / 8.0, c.same_product, math.log1p(c.past_uses)]
                     for i, c in enumerate(candidates)], dtype=np.float64)


def outcome_factor(satisfaction: str | None, reopen_count: int) -> float:
    """The served ranking's weight for a candidate's outcome: customers' satisfaction (a label
    or kb's Satisfaction, whose members hash by name), and ×0.9 per reopen."""
    factor = OUTCOME_FACTOR.get(getattr(satisfaction, "value", satisfaction), 1.0) if satisfaction else 1.0
    return factor * (REOPEN_DECAY ** reopen_count) if reopen_count else factor


def blend_scores(X: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    """Lexical score and cosine — classifier.semantic.blend — from the features."""
    return blend(X[:, 0], X[:, 2], weight, same=X[:, 3])


def served_scores(X: np.ndarray) -> np.ndarray:
    """The ranking suggestions serve without a ranker: the blend times the outcome factor."""
    col = {f: i for i, f in enumerate(FEATURES)}
    factor = np.ones(len(X))
    for name, label in (("satisfied", "满意"), ("basically", "基本满意"), ("dissatisfied", "不满意")):
        factor = np.where(X[:, col[name]] > 0, OUTCOME_FACTOR[label], factor)
    reopens = np.rint(np.expm1(X[:, col["reopens"]]))
    return blend_scores(X) * factor * REOPEN_DECAY ** reopens


@dataclass
class RankerModel:
    coef: np.ndarray
    intercept: float
    links: int
    metrics: dict[str, Any] = field(default_factory=dict)

    def scores(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef + self.intercept

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """The chance the ranker gives each candidate of being used (the score shown)."""
        return 1.0 / (1.0 + np.exp(-self.scores(X)))


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
    served ranking (``served_scores``), keeps the ranker (refitted on all links) only when it
    does better."""
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
    metrics["mrr_blend"] = round(mrr(held_out, served_scores), 4)
    metrics["kept"] = metrics["mrr_ranker"] > metrics["mrr_blend"]
    if not metrics["kept"]:
        metrics["reason"] = "留出的采用记录上不如词面+语义排序，未启用"
        return None, metrics
    final = _fit(groups, random_state)
    metrics["coefficients"] = {f: round(float(c), 4) for f, c in zip(FEATURES, final.coef_[0], strict=True)}
    return RankerModel(final.coef_[0].astype(np.float64), float(final.intercept_[0]), len(groups), metrics), metrics
