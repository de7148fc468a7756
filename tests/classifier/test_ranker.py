"""The learned ranker's rules: what it is compared with (the ranking suggestions serve without
it), when it is not kept, and that it learns a signal the served ranking does not have."""

from __future__ import annotations

import random

import numpy as np
import pytest

from classifier.ranker import MIN_LINKS, Candidate, feature_matrix, fit_ranker, served_scores


def test_the_served_ranking_weighs_the_blend_by_satisfaction_and_reopens():
    # equal lexical scores and no cosine: the blend is the same for all, so the order and the
    # ratios are the outcome factors: 满意 1.15, 基本满意 1.05, none 1.0, 不满意 0.85, ×0.9 per reopen
    cands = [Candidate(lexical=5.0, satisfaction=s, reopen_count=r) for s, r in
             [("满意", 0), ("基本满意", 0), (None, 0), ("不满意", 0), ("满意", 2)]]
    scores = served_scores(feature_matrix(cands))
    assert scores / scores[2] == pytest.approx([1.15, 1.05, 1.0, 0.85, 1.15 * 0.81])


def _groups(n: int, rng: random.Random, *, used_is_top: bool) -> list[tuple[np.ndarray, int]]:
    """Drafts with 10 candidates. Either agents use the lexical top, or they use the one
    candidate that others used before, wherever it ranks."""
    groups = []
    for _ in range(n):
        used = 0 if used_is_top else rng.randrange(10)
        cands = [Candidate(lexical=10.0 - i + rng.random() * 0.5, cosine=rng.random() * 0.05,
                           past_uses=3 if i == used and not used_is_top else 0) for i in range(10)]
        groups.append((feature_matrix(cands), used))
    return groups


def test_too_few_links_leave_the_served_ranking():
    model, metrics = fit_ranker(_groups(MIN_LINKS - 1, random.Random(1), used_is_top=False))
    assert model is None and metrics["kept"] is False
    assert f"{MIN_LINKS - 1} 条" in metrics["reason"]


def test_a_ranker_that_cannot_beat_the_served_ranking_is_not_kept():
    model, metrics = fit_ranker(_groups(200, random.Random(2), used_is_top=True))
    assert metrics["mrr_blend"] == 1.0                     # agents always used the top: nothing to gain
    assert model is None and metrics["kept"] is False and "未启用" in metrics["reason"]


def test_the_ranker_learns_what_agents_used_before():
    model, metrics = fit_ranker(_groups(200, random.Random(3), used_is_top=False))
    assert model is not None and metrics["kept"] is True
    assert metrics["mrr_ranker"] > 0.9 > 0.5 > metrics["mrr_blend"]
    assert metrics["coefficients"]["past_uses"] > 0
    fresh = _groups(50, random.Random(4), used_is_top=False)        # drafts it was not fitted on
    assert all(int(np.argmax(model.scores(X))) == used for X, used in fresh)
    assert all(0 < p < 1 for X, _ in fresh for p in model.probabilities(X))


def _worded(rng: np.random.Generator, problems: int) -> tuple[np.ndarray, np.ndarray]:
    """Two wordings of each problem as unit vectors: the meaning in the first 8 dimensions,
    the wording — 1.5 times as strong, different in each text — in the other 8."""
    meaning = rng.normal(size=(problems, 8))
    texts = [np.hstack([meaning, 1.5 * rng.normal(size=(problems, 8))]) for _ in range(2)]
    return tuple(t / np.linalg.norm(t, axis=1, keepdims=True) for t in texts)


def test_the_link_space_brings_two_wordings_of_one_problem_together():
    from classifier.ranker import fit_link_space, link_cosines

    rng = np.random.default_rng(5)
    drafts, used = _worded(rng, 300)
    space = fit_link_space(drafts, used, np.vstack([drafts, used]), dimensions=8)
    fresh_a, fresh_b = _worded(rng, 60)                      # problems no link was recorded for
    plain = linked = 0
    for i in range(60):
        others = [j for j in range(60) if j != i][:20]
        cands = np.vstack([fresh_b[i], fresh_b[others]])    # the other wording first, then 20 other problems
        plain += int(np.argmax(cands @ fresh_a[i]) == 0)
        linked += int(np.argmax(link_cosines(space, fresh_a[i], cands)) == 0)
    assert plain < 30 and linked > 45, (plain, linked)


def test_a_ranker_with_vectors_learns_the_link_space_and_serves_with_it():
    rng = np.random.default_rng(6)

    def links(n):
        drafts, used = _worded(rng, n + 10)
        groups, vectors = [], []
        for i in range(n):
            position = int(rng.integers(10))
            others = [j for j in range(n + 10) if j != i]
            cands = np.vstack([used[j] for j in rng.choice(others, 9, replace=False)])
            cands = np.insert(cands, position, used[i], axis=0)
            X = feature_matrix([Candidate(lexical=10.0 - k + float(rng.random())) for k in range(10)])
            groups.append((X, position))
            vectors.append((drafts[i], cands))
        return groups, vectors

    groups, vectors = links(300)
    model, metrics = fit_ranker(groups, vectors=vectors)
    assert model is not None and model.space is not None and metrics["kept"] is True
    assert metrics["coefficients"]["link_cosine"] > 0 and metrics["mrr_ranker"] > 0.8 > 0.5 > metrics["mrr_blend"]
    fresh, fresh_vectors = links(50)
    right = sum(int(np.argmax(model.scores(model.matrix(X, q, V)))) == used
                for (X, used), (q, V) in zip(fresh, fresh_vectors, strict=True))
    served = sum(int(np.argmax(served_scores(X))) == used for X, used in fresh)
    assert right >= 40 and served <= 15, (right, served)
    # fewer links than 4 per dimension (64 here): no link space, the ranker reads FEATURES only
    few, few_vectors = links(60)
    small, metrics = fit_ranker(few, vectors=few_vectors)
    assert metrics["link_space"] is False and (small is None or small.space is None)
    assert all(0 < p < 1 for (X, _), (q, V) in zip(fresh, fresh_vectors, strict=True)
               for p in model.probabilities(model.matrix(X, q, V)))


def test_a_ranker_saved_before_the_literal_cosine_and_link_space_reads_its_own_columns():
    from classifier.ranker import FEATURES, RankerModel

    old = RankerModel(coef=np.arange(1.0, 12.0), intercept=0.5, links=60)     # 11 features, no space
    X = feature_matrix([Candidate(lexical=5.0, cosine=0.5, literal=0.9), Candidate(lexical=4.0, literal=0.1)])
    assert X.shape[1] == len(FEATURES) == 12
    columns = old.matrix(X, np.ones(4), np.ones((2, 4)))
    np.testing.assert_array_equal(columns, X[:, :11])
    np.testing.assert_allclose(old.scores(columns), X[:, :11] @ np.arange(1.0, 12.0) + 0.5)
