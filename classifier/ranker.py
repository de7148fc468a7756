"""A second-stage ranker that learns from what agents used.

Every 用这个方案 is a judgement: of the similar cases shown for this draft, this one helped
(``kb.solution_use``). The ranker re-orders the lexical candidates with a logistic regression
(scikit-learn) over features of each (draft, candidate) pair — the BM25F score and rank, the
LSA and literal cosines and same-text flag (classifier.semantic), the candidate's outcome and
age, whether its product matches the draft, and how often agents used it before — and the
cosine in a *link space* learned from the same links (``fit_link_space``).

Why the link space: the other features say nothing about which words stand in for which. The
links do: a draft and the case used for it are two wordings of one problem. The LSA space is
re-weighted so that directions in which such pairs differ count little and directions in
which cases in general differ count much (the generalised eigenvectors of the cases'
covariance against the linked pairs' difference covariance, as in linear discriminant
analysis with a pair as a class). It carries to problems no link was ever recorded for:
measured on the open AFQMC split, with links from clusters disjoint from the evaluated
queries, MRR@10 0.0460 (the blend) → 0.0518 (bench/similar_quality.py).

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
import scipy.linalg
from sklearn.linear_model import LogisticRegression

from classifier.semantic import LITERAL_WEIGHT, WEIGHT, blend

FEATURES = ("lexical", "reciprocal_rank", "cosine", "same_text", "satisfied", "basically", "dissatisfied", "reopens",
            "age", "same_product", "past_uses", "literal")
LINK_FEATURE = "link_cosine"         # the cosine in the link space, after FEATURES when the ranker has one
LINK_DIMENSIONS = 128                # of the link space (AFQMC links: 128 with shrink 1.0 ≥ 64 with 0.3)
LINK_SHRINK = 1.0                    # the pairs' covariance is shrunk toward this share of its mean variance
SPACE_LINKS_PER_DIMENSION = 4        # a link space needs this many usable links per LSA dimension (1,024 at 256):
                                     # from 230 AFQMC links it over-fitted, MRR@10 0.0460 → 0.0392
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
    literal: float = 0.0


def feature_matrix(candidates: list[Candidate]) -> np.ndarray:
    """One row per candidate, in the order given (the lexical order)."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    top = max(c.lexical for c in candidates) or 1.0
    return np.array([[c.lexical / top, 1.0 / (i + 1), max(c.cosine, 0.0), c.same_text, c.satisfaction == "满意",
                      c.satisfaction == "基本满意", c.satisfaction == "不满意", math.log1p(c.reopen_count),
                      math.log1p(max(c.age_days, 0.0)) / 8.0, c.same_product, math.log1p(c.past_uses), c.literal]
                     for i, c in enumerate(candidates)], dtype=np.float64)


def outcome_factor(satisfaction: str | None, reopen_count: int) -> float:
    """The served ranking's weight for a candidate's outcome: customers' satisfaction (a label
    or kb's Satisfaction, whose members hash by name), and ×0.9 per reopen."""
    factor = OUTCOME_FACTOR.get(getattr(satisfaction, "value", satisfaction), 1.0) if satisfaction else 1.0
    return factor * (REOPEN_DECAY ** reopen_count) if reopen_count else factor


def blend_scores(X: np.ndarray, weight: float = WEIGHT, literal_weight: float = LITERAL_WEIGHT) -> np.ndarray:
    """Lexical score, LSA and literal cosines — classifier.semantic.blend — from the features."""
    return blend(X[:, 0], X[:, 2], weight, same=X[:, 3], literal=X[:, FEATURES.index("literal")],
                 literal_weight=literal_weight)


def served_scores(X: np.ndarray) -> np.ndarray:
    """The ranking suggestions serve without a ranker: the blend times the outcome factor."""
    col = {f: i for i, f in enumerate(FEATURES)}
    factor = np.ones(len(X))
    for name, label in (("satisfied", "满意"), ("basically", "基本满意"), ("dissatisfied", "不满意")):
        factor = np.where(X[:, col[name]] > 0, OUTCOME_FACTOR[label], factor)
    reopens = np.rint(np.expm1(X[:, col["reopens"]]))
    return blend_scores(X) * factor * REOPEN_DECAY ** reopens


def fit_link_space(drafts: np.ndarray, used: np.ndarray, cases: np.ndarray, *, dimensions: int = LINK_DIMENSIONS,
                   shrink: float = LINK_SHRINK) -> np.ndarray:
    """A projection (LSA dimensions × ``dimensions``) under which a draft and the case used for
    it (rows of ``drafts`` and ``used``) are close while cases in general (rows of ``cases``)
    stay apart: the leading generalised eigenvectors of the cases' covariance against the
    pairs' difference covariance (shrunk toward its mean variance, so a few links cannot make
    it singular), scaled by the square root of their eigenvalues."""
    d = drafts.shape[1]
    diff = (drafts - used).astype(np.float64)
    within = diff.T @ diff / max(len(diff), 1)
    within += shrink * np.trace(within) / d * np.eye(d) + 1e-6 * np.eye(d)
    spread = np.cov(cases.astype(np.float64), rowvar=False) if len(cases) > 1 else np.eye(d)
    values, vectors = scipy.linalg.eigh(spread, within)
    k = min(dimensions, d)
    top = np.argsort(values)[::-1][:k]
    return (vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))).astype(np.float32)


def link_cosines(space: np.ndarray, draft: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The cosine of each candidate to the draft in the link space (negative as 0)."""
    q = draft @ space
    v = vectors @ space
    norms = np.linalg.norm(v, axis=1) * float(np.linalg.norm(q))
    cos = np.divide(v @ q, norms, out=np.zeros(len(v), dtype=np.float32), where=norms > 0)
    return np.clip(cos, 0.0, None)


@dataclass
class RankerModel:
    coef: np.ndarray
    intercept: float
    links: int
    metrics: dict[str, Any] = field(default_factory=dict)
    space: np.ndarray | None = None     # the link space (fit_link_space); rankers saved before it have none

    def matrix(self, X: np.ndarray, draft: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The columns this ranker reads: FEATURES — as many as it was trained on — and the link
        cosine when it has a link space."""
        base = len(self.coef) - (1 if self.space is not None else 0)
        if self.space is None:
            return X[:, :base]
        return np.column_stack([X[:, :base], link_cosines(self.space, draft, vectors)])

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


def _fit(groups: list[tuple[np.ndarray, int]], random_state: int) -> tuple[np.ndarray, float]:
    """Weights that put the used candidate above the others of its draft: a logistic
    regression on the differences (used − other), both signs, no intercept (a pairwise
    ranker, as RankSVM; on AFQMC links it ranked better than one fitted per candidate, 0.0518
    vs 0.0491 MRR@10). Then one more logistic regression of used / not used on that score
    turns it into the chance of being used (order unchanged), which is what is shown."""
    diffs = np.vstack([X[used] - np.delete(X, used, axis=0) for X, used in groups])
    pairs = LogisticRegression(C=0.1, fit_intercept=False, max_iter=1000, random_state=random_state).fit(
        np.vstack([diffs, -diffs]), np.r_[np.ones(len(diffs)), np.zeros(len(diffs))])
    weights = pairs.coef_[0]
    score = np.concatenate([X @ weights for X, _ in groups])[:, None]
    used = np.concatenate([np.arange(len(X)) == u for X, u in groups])
    calibration = LogisticRegression(max_iter=1000, random_state=random_state).fit(score, used)
    scale = float(calibration.coef_[0][0])
    if scale <= 0:                      # a score that does not rank: keep the order, say nothing of chances
        return weights, 0.0
    return weights * scale, float(calibration.intercept_[0])


def _with_space(groups, vectors, space) -> list[tuple[np.ndarray, int]]:
    return [(np.column_stack([X, link_cosines(space, draft, cands)]), used)
            for (X, used), (draft, cands) in zip(groups, vectors, strict=True)]


def _space(groups, vectors) -> np.ndarray:
    drafts = np.array([draft for draft, _ in vectors])
    used = np.array([cands[u] for (_, u), (_, cands) in zip(groups, vectors, strict=True)])
    return fit_link_space(drafts, used, np.vstack([cands for _, cands in vectors]))


def fit_ranker(groups: list[tuple[np.ndarray, int]], *, vectors: list[tuple[np.ndarray, np.ndarray]] | None = None,
               min_links: int = MIN_LINKS, random_state: int = 0) -> tuple[RankerModel | None, dict[str, Any]]:
    """``groups``: per used link, oldest first, the candidates' feature matrix and the index
    of the used one; ``vectors``: per link, the draft's and the candidates' LSA vectors, from
    which the link space is learned (none without them, or with fewer links than
    SPACE_LINKS_PER_DIMENSION per dimension). Trains on the older 80 %, measures
    MRR on the newer 20 % against the served ranking (``served_scores``), keeps the ranker
    (refitted on all links) only when it does better."""
    metrics: dict[str, Any] = {"links": len(groups), "min_links": min_links}
    if len(groups) < min_links:
        metrics["kept"] = False
        metrics["reason"] = f"可用的采用记录 {len(groups)} 条，少于 {min_links} 条，沿用词面+语义排序"
        return None, metrics
    cut = int(len(groups) * 0.8)
    held_out = groups[cut:]
    train = groups[:cut]
    if vectors is not None and len(groups) < SPACE_LINKS_PER_DIMENSION * len(vectors[0][0]):
        vectors = None                   # too few links to learn which directions stand in for each other
    metrics["link_space"] = vectors is not None
    if vectors is not None:              # the space of the older links only, as the ranker's
        space = _space(train, vectors[:cut])
        train, held_out = _with_space(train, vectors[:cut], space), _with_space(held_out, vectors[cut:], space)
    weights, _ = _fit(train, random_state)
    metrics["held_out"] = len(held_out)
    metrics["mrr_ranker"] = round(mrr(held_out, lambda X: X @ weights), 4)
    metrics["mrr_blend"] = round(mrr(groups[cut:], served_scores), 4)
    metrics["kept"] = metrics["mrr_ranker"] > metrics["mrr_blend"]
    if not metrics["kept"]:
        metrics["reason"] = "留出的采用记录上不如词面+语义排序，未启用"
        return None, metrics
    space = _space(groups, vectors) if vectors is not None else None
    coef, intercept = _fit(_with_space(groups, vectors, space) if space is not None else groups, random_state)
    names = FEATURES + ((LINK_FEATURE,) if space is not None else ())
    metrics["coefficients"] = {f: round(float(c), 4) for f, c in zip(names, coef, strict=True)}
    return RankerModel(coef.astype(np.float64), intercept, len(groups), metrics, space), metrics
