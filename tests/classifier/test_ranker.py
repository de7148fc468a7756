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
        cands = [Candidate(lexical=10.0 - i + rng.random() * 0.5, cosine=rng.random() * 0.3,
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
