"""Predictor: proposals with provenance, priority rules, cold start, hot swap under load."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from classifier.predictor import Predictor
from classifier.registry import ModelRegistry
from classifier.rules import Facts, TriageRules
from tests.classifier.unseen import UNSEEN
from tests.conftest import DATA_DIR, T0

LABELS = {"type": {"咨询", "投诉", "建议", "变更", "其他"}, "priority": {"高", "中", "低"}}


@pytest.fixture(scope="module")
def rules() -> TriageRules:
    return TriageRules.from_toml(DATA_DIR / "triage_rules.toml")


@pytest.fixture
def predictor(session, tmp_path, trained_bundle, rules) -> Predictor:
    registry = ModelRegistry(tmp_path / "models")
    row = registry.save(session, trained_bundle, now=T0)
    registry.promote(session, row.version, actor="t", now=T0, active_labels=LABELS, text_version=None)
    p = Predictor(registry, rules)
    assert p.refresh(session)
    return p


def test_proposal_carries_label_confidence_alternatives_drivers_and_version(predictor):
    p = predictor.propose(UNSEEN[0][0], active_types=LABELS["type"])      # a request the model never saw
    assert p.type.label == "投诉" and p.type.source == "model"
    assert 0 < p.type.confidence <= 1 and len(p.type.alternatives) == 2
    assert p.type.drivers and p.model_version == predictor.version
    assert p.text_version == predictor.bundle.text_version


def test_priority_rules_raise_and_say_which_fired(predictor):
    p = predictor.propose("请问优惠券怎么用", Facts(emotion="愤怒"))
    assert p.priority.label == "高"
    assert [r.rule for r in p.priority.rules_fired] == ["客户愤怒"]
    p = predictor.propose("整栋楼都断网了，已经四个小时", Facts())
    assert p.priority.label == "高" and p.priority.rules_fired[0].rule == "影响面大"
    p = predictor.propose("门店反馈小票打印乱码", Facts(similar_open_recent=4))
    assert any(r.rule == "同类问题集中爆发" for r in p.priority.rules_fired) and p.priority.label == "高"


def test_enterprise_customer_raises_low_to_medium(predictor, rules):
    fired = rules.fire("希望增加导出功能", Facts(customer_kind="企业客户"))
    assert rules.raise_priority("低", fired) == "中"
    assert rules.raise_priority("高", fired) == "高"            # rules only ever raise


def test_without_a_model_keyword_rules_answer_and_say_so(rules):
    p = Predictor(ModelRegistry(DATA_DIR / "nowhere"), rules).propose("我要投诉，退款一直没到账")
    assert p.type.label == "投诉" and p.type.source == "rules" and p.type.note
    assert p.missing == ["model_unavailable"] and p.model_version is None and p.cold_start


def test_cold_start_when_a_label_has_too_few_cases(predictor):
    predictor.rules = replace(predictor.rules, cold_start_min_per_label=1000)
    p = predictor.propose("建议增加审批转交功能", active_types=LABELS["type"])
    assert p.type.source == "rules" and "冷启动" in p.type.note and p.type.label == "建议"
    assert p.cold_start


def test_a_label_the_model_never_saw_falls_back_to_rules(predictor):
    p = predictor.propose("建议增加审批转交功能", active_types=LABELS["type"] | {"技术故障"})
    assert p.type.source == "rules" and "技术故障" in p.type.note


@pytest.fixture(scope="module")
def other_bundle(segmenter):
    """A second, different model (trained on the older half of the demo cases), so a proposal
    mixing parts of two versions shows up as a result neither version gives alone."""
    from classifier import dataset
    from classifier.train import fit

    examples = dataset.from_demo(DATA_DIR / "demo" / "cases.jsonl")
    return fit(examples[: len(examples) // 2], segmenter=segmenter, trained_by="tests-half")


SWAP_TEXTS = ["门禁刷卡没反应，闸机一直红灯", "想把套餐从基础版改成专业版", "发票抬头开错了需要重开",
              "建议app增加夜间模式", "客服电话一直打不通，非常生气"]


def test_hot_swap_during_concurrent_proposals_never_fails_or_mixes(session, tmp_path, trained_bundle, other_bundle,
                                                                   rules):
    registry = ModelRegistry(tmp_path / "models")
    a = registry.save(session, trained_bundle, now=T0)
    b = registry.save(session, other_bundle, now=T0)
    expected = {}                       # (version, text) → what that version alone answers
    for row in (a, b):
        registry.promote(session, row.version, actor="t", now=T0, active_labels=LABELS, text_version=None)
        alone = Predictor(registry, rules)
        alone.refresh(session)
        for text in SWAP_TEXTS:
            p = alone.propose(text)
            expected[(row.version, text)] = (p.type.label, p.type.confidence, p.priority.label)
    assert any(expected[(a.version, t)] != expected[(b.version, t)] for t in SWAP_TEXTS), "the versions must differ"

    registry.promote(session, a.version, actor="t", now=T0, active_labels=LABELS, text_version=None)
    predictor = Predictor(registry, rules)
    predictor.refresh(session)
    errors, answers = [], []
    stop = threading.Event()

    def hammer(offset: int):
        i = offset
        while not stop.is_set():
            text = SWAP_TEXTS[i % len(SWAP_TEXTS)]
            i += 1
            try:
                p = predictor.propose(text)
                answers.append((p.model_version, text, (p.type.label, p.type.confidence, p.priority.label)))
            except Exception as exc:  # reported by the assertion below
                errors.append(exc)

    def answered_by(version: str, at_least: int) -> None:
        """Wait until the threads have given ``at_least`` answers from ``version``."""
        for _ in range(600):
            if sum(1 for v, _, _ in answers if v == version) >= at_least or errors:
                return
            time.sleep(0.05)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        answered_by(a.version, 20)
        for version in (b.version, a.version, b.version):
            registry.promote(session, version, actor="t", now=T0, active_labels=LABELS, text_version=None)
            assert predictor.refresh(session)
            answered_by(version, sum(1 for v, _, _ in answers if v == version) + 20)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert {v for v, _, _ in answers} == {a.version, b.version} and predictor.version == b.version
    mixed = [(v, text, got) for v, text, got in answers if got != expected[(v, text)]]
    assert mixed == [], f"{len(mixed)} of {len(answers)} answers mixed two versions, e.g. {mixed[:2]}"


def test_a_broken_new_version_keeps_the_old_model(predictor, session, trained_bundle):
    registry = predictor.registry
    bad = registry.save(session, trained_bundle, now=T0)
    (registry.root / bad.version / "model.joblib").write_bytes(b"not a model")
    old = predictor.version
    registry.promote(session, bad.version, actor="t", now=T0, active_labels=LABELS, text_version=None)
    assert not predictor.refresh(session)
    assert predictor.version == old and "sha256" in predictor.last_error
