"""Registry: immutable versions, verification before unpickling, the audited production pointer."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from classifier.registry import ArtifactError, ModelRegistry
from kb.errors import Conflict
from kb.models import ModelPromotion
from tests.conftest import DEMO_CASES, T0

LABELS = {"type": {"咨询", "投诉", "建议", "变更", "其他"}, "priority": {"高", "中", "低"}}


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models")


def test_save_writes_metadata_and_round_trips_identically(session, registry, trained_bundle):
    row = registry.save(session, trained_bundle, now=T0)
    meta = json.loads((registry.root / row.version / "metadata.json").read_text(encoding="utf-8"))
    assert meta["sha256"] == row.sha256 and meta["text_version"] == trained_bundle.text_version
    assert meta["labels"]["type"] and meta["metrics"]["type"]["per_class"] and meta["data_rows"] == DEMO_CASES
    assert meta["libraries"]["scikit-learn"] and "thresholds" in meta
    loaded = registry.load(row.version, row.sha256)
    texts = ["考勤打卡失败", "申请注销账号", "建议增加临时密码"]
    for head, proba in trained_bundle.predict_proba(texts).items():
        np.testing.assert_array_equal(loaded.predict_proba(texts)[head], proba)


def test_tampered_artifact_is_refused_before_unpickling(session, registry, trained_bundle):
    row = registry.save(session, trained_bundle, now=T0)
    with (registry.root / row.version / "model.joblib").open("ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ArtifactError, match="sha256"):
        registry.load(row.version, row.sha256)


def test_a_version_saved_on_one_node_loads_on_another_from_the_database(session, tmp_path, trained_bundle):
    node_a, node_b = ModelRegistry(tmp_path / "a"), ModelRegistry(tmp_path / "b")
    row = node_a.save(session, trained_bundle, now=T0)
    assert not (node_b.root / row.version).exists()
    with pytest.raises(ArtifactError, match="missing"):
        node_b.load(row.version, row.sha256)                       # without the database: nothing to load
    loaded = node_b.load(row.version, row.sha256, session)
    texts = ["考勤打卡失败", "申请注销账号"]
    for head, proba in trained_bundle.predict_proba(texts).items():
        np.testing.assert_array_equal(loaded.predict_proba(texts)[head], proba)
    assert (node_b.root / row.version / "model.joblib").is_file()    # cached on node B
    assert node_b.metadata(row.version)["sha256"] == row.sha256


def test_bytes_altered_in_the_database_are_refused_on_the_node_that_fetches_them(session, tmp_path, trained_bundle):
    from kb.models import ModelArtifact

    row = ModelRegistry(tmp_path / "a").save(session, trained_bundle, now=T0)
    stored = session.get(ModelArtifact, row.version)
    stored.content = stored.content + b"tampered"
    session.add(stored)
    session.commit()
    with pytest.raises(ArtifactError, match="sha256"):
        ModelRegistry(tmp_path / "b").load(row.version, row.sha256, session)


def test_versions_from_before_the_database_held_artifacts_are_backfilled(session, registry, trained_bundle, tmp_path):
    from sqlmodel import delete

    from kb.models import ModelArtifact

    row = registry.save(session, trained_bundle, now=T0)
    session.exec(delete(ModelArtifact))
    session.commit()
    assert registry.backfill(session) == 1 and registry.backfill(session) == 0
    assert ModelRegistry(tmp_path / "other").load(row.version, row.sha256, session).text_version == row.text_version


def test_bundle_whose_dictionary_does_not_match_its_text_version_is_refused(session, registry, trained_bundle):
    row = registry.save(session, replace(trained_bundle, text_version="000000000000"), now=T0)
    with pytest.raises(ArtifactError, match="text version"):
        registry.load(row.version, row.sha256)


def test_promote_and_rollback_keep_an_audit_trail(session, registry, trained_bundle):
    a = registry.save(session, trained_bundle, now=T0)
    b = registry.save(session, trained_bundle, now=T0)
    tv = trained_bundle.text_version
    registry.promote(session, a.version, actor="zhouqian", now=T0, active_labels=LABELS, text_version=tv)
    registry.promote(session, b.version, actor="zhouqian", now=T0, active_labels=LABELS, text_version=tv)
    assert registry.production(session).version == b.version
    assert registry.get(session, a.version).status == "retired"
    back = registry.rollback(session, actor="zhouqian", now=T0, active_labels=LABELS)
    assert back.version == a.version and registry.production(session).version == a.version
    actions = [(p.version, p.action) for p in session.exec(__import__("sqlmodel").select(ModelPromotion))]
    assert actions == [(a.version, "promote"), (b.version, "promote"), (a.version, "rollback")]


def test_promotion_refuses_labels_that_differ_from_the_taxonomy(session, registry, trained_bundle):
    row = registry.save(session, trained_bundle, now=T0)
    labels = {**LABELS, "type": LABELS["type"] | {"技术故障"}}
    with pytest.raises(Conflict) as err:
        registry.promote(session, row.version, actor="a", now=T0, active_labels=labels,
                         text_version=trained_bundle.text_version)
    assert err.value.field == "labels" and err.value.extra["missing"] == ["技术故障"]
    assert registry.production(session) is None


def test_promotion_refuses_another_text_version(session, registry, trained_bundle):
    row = registry.save(session, trained_bundle, now=T0)
    with pytest.raises(Conflict) as err:
        registry.promote(session, row.version, actor="a", now=T0, active_labels=LABELS, text_version="ffffffffffff")
    assert err.value.field == "text_version"


@pytest.mark.parametrize("head", ["type", "priority"])
def test_promotion_refuses_either_head_below_its_floor(session, registry, trained_bundle, head):
    row = registry.save(session, trained_bundle, now=T0)
    floors = {"type": 0.0, "priority": 0.0, head: 1.01}
    with pytest.raises(Conflict) as err:
        registry.promote(session, row.version, actor="a", now=T0, active_labels=LABELS,
                         text_version=trained_bundle.text_version, floors=floors)
    assert err.value.field == "metrics" and err.value.extra["head"] == head
    assert registry.production(session) is None
    registry.promote(session, row.version, actor="a", now=T0, active_labels=LABELS,
                     text_version=trained_bundle.text_version, floors={"type": 0.3, "priority": 0.3})
    assert registry.production(session).version == row.version


def test_the_registry_keeps_how_the_figures_were_measured(session, registry, trained_bundle):
    row = registry.save(session, trained_bundle, now=T0)
    assert row.metrics["split"] == "grouped_time" and row.metrics["test_rows"] > 0
    assert registry.metadata(row.version, session)["evaluation"]["split"] == "grouped_time"


def test_rollback_without_history_is_conflict(session, registry):
    with pytest.raises(Conflict):
        registry.rollback(session, actor="a", now=T0, active_labels=LABELS)
