"""Near-duplicate and customer groups, and the evaluation split they make honest."""

from __future__ import annotations

import random

import numpy as np

from classifier.dataset import Example, customer_keys, grouped_time_split
from classifier.groups import jaccard, near_duplicate_pairs, shingles, split_groups
from classifier.train import calibration_folds
from tests.classifier.unseen import UNSEEN


def brute_force_pairs(texts: list[str], threshold: float = 0.8) -> set[tuple[int, int]]:
    grams = [{t[i:i + 3] for i in range(len(t) - 2)} for t in ("".join(x.split()) for x in texts)]
    return {(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))
            if len(grams[i] & grams[j]) / len(grams[i] | grams[j]) >= threshold}


def pasted(text: str, rng: random.Random) -> str:
    """An agent's paste with a word or two changed at the end."""
    return text + rng.choice(["，麻烦尽快", "，谢谢", "。急"])


def test_near_duplicate_pairs_agree_with_the_exact_jaccard():
    rng = random.Random(3)
    base = [t for t, _, _ in UNSEEN]
    texts = base + [pasted(t, rng) for t in base[:10]] + ["完全不同的一句话，讲的是别的事情" * 2]
    expected = brute_force_pairs(texts)
    assert len(expected) >= 8                        # most pastes are twins of their originals
    assert set(near_duplicate_pairs(texts)) == expected


def test_numbered_shingles_measure_what_string_shingles_measure():
    def by_strings(a: str, b: str) -> float:
        def grams(t):
            t = "".join(t.split())
            return {t[i:i + 3] for i in range(len(t) - 2)} or {t}
        return len(grams(a) & grams(b)) / max(1, len(grams(a) | grams(b)))

    pairs = [("门锁指纹识别失灵", "门锁 指纹识别失灵！"), ("退款😀没到账😀", "退款😀没到账😀吗"), ("好", "好"), ("好", "好的"),
             ("ab", "abc"), ("", ""), ("发票抬头错了", "宽带晚上掉线")]
    for a, b in pairs:
        assert jaccard(shingles(a), shingles(b)) == by_strings(a, b), (a, b)
    assert len(shingles("啊啊啊啊啊")) == 1 and len(shingles("门锁指纹识别")) == 4


def test_groups_join_twins_and_one_customers_cases():
    texts = ["门锁指纹识别失灵，家里人都进不了门", "门锁指纹识别失灵，家里人都进不了门！", "宽带晚上经常掉线",
             "想咨询发票抬头怎么修改"]
    groups = split_groups(texts, [None, None, "C1", "C1"])
    assert groups[0] == groups[1] and groups[2] == groups[3] and groups[0] != groups[2]


def ex(i: int, text: str, customer: str | None = None) -> Example:
    return Example(text, "投诉", "中", f"2026-01-01T00:{i:02d}", customer)


def test_grouped_time_split_keeps_twins_and_customers_on_the_training_side():
    texts = [f"第{i}个问题：{t}" for i, (t, _, _) in enumerate(UNSEEN[:20])]
    examples = [ex(i, t) for i, t in enumerate(texts)]
    examples[18] = ex(18, texts[2] + "，谢谢")                     # a late paste of an early case
    examples[19] = ex(19, "门店收银机今天又出问题了", customer="C7")
    examples[3] = ex(3, texts[3], customer="C7")                   # the same customer called before
    split = grouped_time_split(examples, train_fraction=0.8)
    assert 18 in split.train and 19 in split.train and split.moved == 2
    assert set(split.test.tolist()) == {16, 17}
    assert not set(split.groups[split.test].tolist()) & set(split.groups[split.train].tolist())


def test_an_organisation_that_owns_much_of_the_history_is_not_one_group():
    examples = [ex(i % 60, f"内部工单{i}", customer="总部") for i in range(30)] + \
               [ex(i % 60, f"客户来电{i}", customer=f"C{i}") for i in range(30)]
    keys = customer_keys(examples)
    assert keys[:30] == [None] * 30 and keys[30] == "C0"


def test_calibration_folds_never_split_a_group_and_keep_every_class_in_training():
    rng = np.random.default_rng(0)
    y = ["投诉"] * 30 + ["咨询"] * 20 + ["建议"] * 6
    groups = np.array([i // 2 for i in range(len(y))])            # pairs of twins
    rng.shuffle(groups)
    folds = calibration_folds(y, groups, 5, seed=0)
    assert isinstance(folds, list) and len(folds) >= 2
    for train, test in folds:
        assert not set(groups[train].tolist()) & set(groups[test].tolist())
        assert {y[i] for i in train} == set(y)
